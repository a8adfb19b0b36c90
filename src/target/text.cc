#include "target/text.h"

#include <fmt/format.h>

#include <cctype>

namespace pelt::target {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Skips a JSON string starting at s[i] == '"'; returns the index after the closing quote or npos.
size_t skip_string(std::string_view s, size_t i, bool* has_escape) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (has_escape) *has_escape = true;
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Skips any JSON value starting at s[i]; returns the index after it, or npos when malformed.
size_t skip_value(std::string_view s, size_t i, int depth = 0) {
  if (i >= s.size() || depth > 32) return std::string_view::npos;
  char c = s[i];
  if (c == '"') return skip_string(s, i, nullptr);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    i = skip_space(s, i + 1);
    if (i < s.size() && s[i] == close) return i + 1;
    while (i < s.size()) {
      if (c == '{') {
        if (s[i] != '"') return std::string_view::npos;
        i = skip_space(s, skip_string(s, i, nullptr));
        if (i >= s.size() || s[i] != ':') return std::string_view::npos;
        i = skip_space(s, i + 1);
      }
      i = skip_value(s, i, depth + 1);
      if (i == std::string_view::npos) return i;
      i = skip_space(s, i);
      if (i < s.size() && s[i] == close) return i + 1;
      if (i >= s.size() || s[i] != ',') return std::string_view::npos;
      i = skip_space(s, i + 1);
    }
    return std::string_view::npos;
  }
  size_t start = i;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                          s[i] == '+' || s[i] == '.')) {
    ++i;
  }
  return i == start ? std::string_view::npos : i;
}

}  // namespace

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<JsonScalar> json_member(std::string_view body, std::string_view key) {
  size_t i = skip_space(body, 0);
  if (i >= body.size() || body[i] != '{') return std::nullopt;
  size_t end = skip_value(body, i);
  if (end == std::string_view::npos || skip_space(body, end) != body.size()) return std::nullopt;
  i = skip_space(body, i + 1);
  std::optional<JsonScalar> found;
  while (i < body.size() && body[i] == '"') {
    size_t key_end = skip_string(body, i, nullptr);
    std::string_view name = body.substr(i + 1, key_end - i - 2);
    i = skip_space(body, skip_space(body, key_end) + 1);  // past ':' (validated by skip_value)
    size_t value_end = skip_value(body, i);
    std::string_view value = body.substr(i, value_end - i);
    if (name == key) {
      char c = value[0];
      if (c == '"') {
        found = JsonScalar{value.substr(1, value.size() - 2), true};
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        found = JsonScalar{value, false};
      } else {
        found.reset();
      }
    }
    i = skip_space(body, value_end);
    if (i < body.size() && body[i] == ',') i = skip_space(body, i + 1);
  }
  return found;
}

void append_json_escaped(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (size_t n = utf8_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += "\\ufffd";
    }
    ++i;
  }
}

}  // namespace pelt::target
