#include "config/toml_guard.h"

namespace pelt {
namespace {

bool bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

bool check_key_depth(std::string_view text, size_t max_parts, uint32_t& line, uint32_t& column,
                     std::string& message) {
  uint32_t ln = 1, col = 1;
  size_t parts = 0;          // parts of the dotted run seen so far
  bool after_part = false;   // the last token was a key part (a dot may follow)
  bool after_dot = false;    // the last token was a dot (a key part may follow)
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < text.size(); ++k, ++i) {
      if (text[i] == '\n') {
        ++ln;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  auto part = [&]() {
    parts = after_dot ? parts + 1 : 1;
    after_part = true;
    after_dot = false;
    if (parts <= max_parts) return true;
    line = ln;
    column = col;
    message = "a key with more than " + std::to_string(max_parts) + " dotted parts";
    return false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') advance(1);
      continue;
    }
    if (c == '"' || c == '\'') {
      const bool multi = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      if (!part()) return false;
      advance(multi ? 3 : 1);
      while (i < text.size()) {
        if (c == '"' && text[i] == '\\') {
          advance(2);
          continue;
        }
        if (multi ? text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''") : text[i] == c) {
          advance(multi ? 3 : 1);
          break;
        }
        if (!multi && text[i] == '\n') break;  // the parser reports the broken string
        advance(1);
      }
      continue;
    }
    if (bare_key_char(c)) {
      if (!part()) return false;
      while (i < text.size() && bare_key_char(text[i])) advance(1);
      continue;
    }
    if (c == '.' && after_part) {
      after_part = false;
      after_dot = true;
      advance(1);
      continue;
    }
    if (c == ' ' || c == '\t') {
      advance(1);
      continue;
    }
    after_part = after_dot = false;
    parts = 0;
    advance(1);
  }
  return true;
}

}  // namespace pelt
