// ${VAR} and ${VAR:-default} expansion for scenario files.
#include <cstdlib>
#include <string>

#include "config/config.h"

namespace pelt {
namespace {

constexpr int kMaxDepth = 8;  // nesting limit for ${A:-${B:-...}} defaults

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// Looks a variable up: -e values first, then the process environment.
bool lookup(const std::string& name, const std::map<std::string, std::string>& vars,
            std::string& value) {
  auto it = vars.find(name);
  if (it != vars.end()) {
    value = it->second;
    return true;
  }
  const char* env = std::getenv(name.c_str());
  if (env == nullptr) return false;
  value = env;
  return true;
}

bool expand(std::string_view text, size_t base, const std::map<std::string, std::string>& vars,
            int depth, std::string& out, std::string& error, size_t& error_pos) {
  if (depth > kMaxDepth) {
    error = "${...} defaults nested too deeply";
    error_pos = base;
    return false;
  }
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$') {
      out.push_back(c);
      ++i;
      continue;
    }
    // "$${" is an escaped, literal "${".
    if (text.substr(i, 3) == "$${") {
      out.append("${");
      i += 3;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    const size_t start = i;
    size_t j = i + 2;
    const size_t name_begin = j;
    if (j >= text.size() || !is_name_start(text[j])) {
      error = "bad variable name in ${...}: use letters, digits and _, e.g. ${BASE_URL}";
      error_pos = base + name_begin;
      return false;
    }
    while (j < text.size() && is_name_char(text[j])) ++j;
    const std::string name(text.substr(name_begin, j - name_begin));
    if (j >= text.size()) {
      error = "unterminated ${" + name + ": add the closing }";
      error_pos = base + start;
      return false;
    }
    std::string value;
    const bool set = lookup(name, vars, value);
    if (text[j] == '}') {
      if (!set) {
        error = "${" + name + "} is not set: pass -e " + name +
                "=VALUE, export it, or give a default with ${" + name + ":-VALUE}";
        error_pos = base + start;
        return false;
      }
      out.append(value);
      i = j + 1;
      continue;
    }
    if (text.substr(j, 2) != ":-") {
      error = "bad ${" + name + "...}: write ${" + name + "} or ${" + name + ":-default}";
      error_pos = base + j;
      return false;
    }
    // The default runs to the matching close brace; it may itself hold ${...}.
    const size_t default_begin = j + 2;
    size_t k = default_begin;
    int open = 1;
    while (k < text.size()) {
      if (text[k] == '{' && k > 0 && text[k - 1] == '$') {
        ++open;
      } else if (text[k] == '}') {
        if (--open == 0) break;
      }
      ++k;
    }
    if (k >= text.size()) {
      error = "unterminated ${" + name + ":-...: add the closing }";
      error_pos = base + start;
      return false;
    }
    if (set && !value.empty()) {
      out.append(value);
    } else {
      std::string_view fallback = text.substr(default_begin, k - default_begin);
      if (!expand(fallback, base + default_begin, vars, depth + 1, out, error, error_pos)) {
        return false;
      }
    }
    i = k + 1;
  }
  return true;
}

}  // namespace

bool expand_vars(std::string_view text, const std::map<std::string, std::string>& vars,
                 std::string& out, std::string& error, size_t& error_pos) {
  std::string result;
  result.reserve(text.size());
  if (!expand(text, 0, vars, 0, result, error, error_pos)) return false;
  out = std::move(result);
  return true;
}

}  // namespace pelt
