// The pieces of the "h1" text form that histograms are carried in across processes (inside a
// JSON summary): "h1 <count> <min> <max> <overflow> <sum> <sum_sq> <value>:<count>,...".
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace pelt::h1 {

using U128 = unsigned __int128;

// Appends the decimal digits of a 128-bit value.
inline void append_u128(std::string& out, U128 v) {
  char buf[40];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

// Parses a decimal 128-bit value that must fill `s`; false on garbage or overflow.
inline bool parse_u128(std::string_view s, U128& out) {
  if (s.empty()) return false;
  U128 v = 0;
  const U128 limit = ~U128{0} / 10;
  for (char c : s) {
    if (c < '0' || c > '9' || v > limit) return false;
    U128 next = v * 10 + static_cast<unsigned>(c - '0');
    if (next < v) return false;
    v = next;
  }
  out = v;
  return true;
}

inline bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Splits off the next field of `s` up to `sep`.
inline std::string_view next_field(std::string_view& s, char sep = ' ') {
  const size_t at = s.find(sep);
  std::string_view field = s.substr(0, at);
  s = at == std::string_view::npos ? std::string_view() : s.substr(at + 1);
  return field;
}

}  // namespace pelt::h1
