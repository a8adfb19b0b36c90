// Small text helpers for pelt-target's request handling: integer parsing, query parameters,
// a minimal JSON field reader for flat request bodies, and JSON string escaping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pelt::target {

// Parses a non-empty string of decimal digits (no sign, no spaces) that fits in uint64_t.
std::optional<uint64_t> parse_uint(std::string_view s);

// True when a and b are equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);

// The raw value of `name` in an URL query ("a=1&b=2"), or nullopt when absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

// Finds the top-level member `key` of a flat JSON object and returns its raw scalar value: the
// digits of a number, or the contents (unescaped only if it holds no escapes) of a string.
// nullopt when the body is not an object, the key is missing or the value is not a scalar.
struct JsonScalar {
  std::string_view text;  // number literal, or string contents without quotes
  bool is_string;         // true when the value was a JSON string
};
std::optional<JsonScalar> json_member(std::string_view body, std::string_view key);

// Appends `s` to `out` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, valid UTF-8 kept, invalid bytes replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace pelt::target
