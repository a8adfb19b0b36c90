#include "util/units.h"

#include <cctype>
#include <cstdio>
#include <limits>
#include <utility>

namespace pelt {
namespace {

using U128 = unsigned __int128;

constexpr const char* kDurationHelp =
    "use a number with us, ms, s, m or h, e.g. 250ms, 30s, 1.5s or 1m30s";
constexpr const char* kCountHelp =
    "use a whole number, optionally with k (thousand), M (million) or G (billion), "
    "e.g. 100, 1.5k or 2M";
constexpr const char* kSizeHelp =
    "use a number of bytes, optionally with K, M or G (1024-based; KB and KiB also work), "
    "e.g. 512, 4k or 1.5MiB";
constexpr const char* kRateHelp =
    "use a count per period, e.g. 100 (per second), 100/s, 2k/s, 1000/1m or 5/100ms";

// A non-negative decimal number as written: whole part plus fraction digits.
struct Number {
  uint64_t whole = 0;         // digits before the point
  uint64_t frac = 0;          // digits after the point, as an integer
  uint64_t scale = 1;         // 10 to the number of fraction digits kept
  bool frac_dropped = false;  // non-zero fraction digits beyond the 18 kept
};

// Where parsing failed and why (the caller adds the help text).
struct Failure {
  std::string detail;  // what is wrong, e.g. unknown unit "x"
  size_t pos = 0;      // 0-based position in the caller's text
};

// Records a failure; always false so callers can `return failed(...)`.
bool failed(Failure& f, std::string detail, size_t pos) {
  f = {std::move(detail), pos};
  return false;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// Bounds of `text` without surrounding whitespace.
void trim(std::string_view text, size_t& begin, size_t& end) {
  begin = 0;
  end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
}

// Rejects empty and negative input at t[begin..end).
bool check_start(std::string_view t, size_t begin, size_t end, Failure& f) {
  if (begin == end) return failed(f, "it is empty", begin);
  if (t[begin] == '-') return failed(f, "negative values are not allowed", begin);
  return true;
}

// Scans digits[.digits] at t[pos..end) and advances pos; fails when there is none or it is
// too large.
bool scan_number(std::string_view t, size_t& pos, size_t end, Number& n, Failure& f) {
  const size_t start = pos;
  n = Number{};
  while (pos < end && is_digit(t[pos])) {
    uint64_t d = static_cast<uint64_t>(t[pos] - '0');
    if (n.whole > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      return failed(f, "number too large", start);
    }
    n.whole = n.whole * 10 + d;
    ++pos;
  }
  const bool had_whole = pos > start;
  if (pos < end && t[pos] == '.') {
    const size_t point = pos++;
    size_t digits = 0;
    for (; pos < end && is_digit(t[pos]); ++pos, ++digits) {
      if (digits < 18) {
        n.frac = n.frac * 10 + static_cast<uint64_t>(t[pos] - '0');
        n.scale *= 10;
      } else if (t[pos] != '0') {
        n.frac_dropped = true;
      }
    }
    if (digits == 0 || !had_whole) {
      return failed(f, "a decimal point needs digits on both sides", point);
    }
  }
  if (had_whole) return true;
  if (pos < end && t[pos] == '-') return failed(f, "negative values are not allowed", pos);
  return failed(f, pos < end ? "expected a number" : "expected a number after this point", pos);
}

// n * mult, rounded to nearest when `round`, else truncated; `exact` tells whether nothing was
// lost. False on uint64 overflow.
bool scale_number(const Number& n, uint64_t mult, bool round, uint64_t& out, bool& exact) {
  const U128 whole = static_cast<U128>(n.whole) * mult;
  const U128 frac_scaled = static_cast<U128>(n.frac) * mult;
  U128 frac_part = frac_scaled / n.scale;
  const U128 rem = frac_scaled % n.scale;
  exact = rem == 0 && !n.frac_dropped;
  if (round && rem * 2 >= n.scale) ++frac_part;
  const U128 total = whole + frac_part;
  if (total > std::numeric_limits<uint64_t>::max()) return false;
  out = static_cast<uint64_t>(total);
  return true;
}

uint64_t duration_unit_us(DurationUnit u) {
  switch (u) {
    case DurationUnit::kMicros:
      return 1;
    case DurationUnit::kMillis:
      return 1000;
    case DurationUnit::kSeconds:
      break;
  }
  return 1000000;
}

// Microseconds in one of the named unit, 0 when unknown. Letters are case-insensitive as in
// wrk ("10S", "2M"); "µs" is accepted in either UTF-8 spelling.
uint64_t time_unit_us(std::string_view name) {
  std::string u(name);
  for (char& c : u) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1;
  if (u == "ms") return 1000;
  if (u == "s") return 1000000;
  if (u == "m") return 60ull * 1000000;
  if (u == "h") return 3600ull * 1000000;
  return 0;
}

// Reads a unit word at t[pos..end): letters, plus UTF-8 bytes for the micro sign.
std::string_view scan_unit(std::string_view t, size_t& pos, size_t end) {
  const size_t start = pos;
  while (pos < end && (is_alpha(t[pos]) || static_cast<unsigned char>(t[pos]) >= 0x80)) ++pos;
  return t.substr(start, pos - start);
}

// Duration in t[begin..end) in microseconds. With `bare_unit_is_one`, a unit alone ("s")
// means one of it.
bool duration_impl(std::string_view t, size_t begin, size_t end, DurationUnit default_unit,
                   bool bare_unit_is_one, uint64_t& total, Failure& f) {
  total = 0;
  if (!check_start(t, begin, end, f)) return false;
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  size_t pos = begin;
  while (pos < end) {
    const size_t segment = pos;
    Number n;
    if (bare_unit_is_one && pos == begin && is_alpha(t[pos])) {
      n.whole = 1;
    } else if (!scan_number(t, pos, end, n, f)) {
      return false;
    }
    const size_t unit_pos = pos;
    const std::string_view unit = scan_unit(t, pos, end);
    uint64_t mult = 0;
    if (!unit.empty()) {
      mult = time_unit_us(unit);
      if (mult == 0) return failed(f, "unknown unit \"" + std::string(unit) + "\"", unit_pos);
    } else if (pos < end) {
      return failed(f, "unexpected character '" + std::string(1, t[pos]) + "'", pos);
    } else if (segment != begin) {
      return failed(f, "missing unit after the number", unit_pos);
    } else {
      mult = duration_unit_us(default_unit);  // a bare number
    }
    uint64_t part = 0;
    bool exact = false;
    if (!scale_number(n, mult, true, part, exact) || part > limit - total) {
      return failed(f, "too large", begin);
    }
    total += part;
  }
  return true;
}

// Count with an optional 1000-based suffix in t[begin..end): `out` truncated, `real` exact.
bool metric_impl(std::string_view t, size_t begin, size_t end, bool whole_only, uint64_t& out,
                 double& real, Failure& f) {
  if (!check_start(t, begin, end, f)) return false;
  size_t pos = begin;
  Number n;
  if (!scan_number(t, pos, end, n, f)) return false;
  uint64_t mult = 1;
  if (pos < end) {
    const char c = t[pos];
    mult = c == 'k' || c == 'K' ? 1000 : c == 'M' ? 1000000 : c == 'G' || c == 'g' ? 1000000000 : 0;
    if (mult == 0) {
      return failed(f, "unknown suffix \"" + std::string(t.substr(pos, end - pos)) + "\"", pos);
    }
    if (++pos < end) return failed(f, "unexpected text after the suffix", pos);
  }
  bool exact = false;
  if (!scale_number(n, mult, false, out, exact)) return failed(f, "too large", begin);
  if (whole_only && !exact) return failed(f, "not a whole number", begin);
  real = static_cast<double>(n.whole) * static_cast<double>(mult) +
         static_cast<double>(n.frac) * static_cast<double>(mult) / static_cast<double>(n.scale);
  return true;
}

// Size with an optional 1024-based unit in t[begin..end).
bool size_impl(std::string_view t, size_t begin, size_t end, uint64_t& out, Failure& f) {
  if (!check_start(t, begin, end, f)) return false;
  size_t pos = begin;
  Number n;
  if (!scan_number(t, pos, end, n, f)) return false;
  const size_t unit_pos = pos;
  std::string unit(scan_unit(t, pos, end));
  if (pos < end) return failed(f, "unexpected character '" + std::string(1, t[pos]) + "'", pos);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mult = unit.empty() || unit == "b" ? 1 : 0;
  const char letters[] = {'k', 'm', 'g', 't'};
  for (int i = 0; i < 4 && mult == 0; ++i) {
    const std::string l(1, letters[i]);
    if (unit == l || unit == l + "b" || unit == l + "ib") mult = uint64_t{1} << (10 * (i + 1));
  }
  if (mult == 0) {
    return failed(f, "unknown unit \"" + std::string(t.substr(unit_pos, end - unit_pos)) + "\"",
                  unit_pos);
  }
  bool exact = false;
  if (!scale_number(n, mult, false, out, exact)) return failed(f, "too large", begin);
  if (!exact) return failed(f, "not a whole number of bytes", begin);
  return true;
}

// Builds the caller-facing message; always false.
bool fail(std::string& error, size_t* error_pos, const char* what, std::string_view text,
          const Failure& f, const char* help) {
  error = std::string("bad ") + what + " \"" + std::string(text) + "\": " + f.detail + "; " + help;
  if (error_pos != nullptr) *error_pos = f.pos;
  return false;
}

// wrk's format_units: scale while the amount reaches 85% of the next step, never using the
// last unit of the list; two decimals.
std::string format_units(long double n, int scale, const char* base,
                         std::initializer_list<const char*> units) {
  long double amount = n;
  const char* unit = base;
  const long double threshold = scale * 0.85L;
  const char* const* u = units.begin();
  for (size_t i = 0; i + 1 < units.size() && amount >= threshold; ++i) {
    amount /= scale;
    unit = u[i];
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2Lf%s", amount, unit);
  return buf;
}

}  // namespace

bool parse_duration(std::string_view text, std::chrono::microseconds& out, std::string& error,
                    size_t* error_pos, DurationUnit default_unit) {
  size_t begin = 0, end = 0;
  trim(text, begin, end);
  uint64_t us = 0;
  Failure f;
  if (!duration_impl(text, begin, end, default_unit, false, us, f)) {
    return fail(error, error_pos, "duration", text, f, kDurationHelp);
  }
  out = std::chrono::microseconds(static_cast<int64_t>(us));
  return true;
}

bool parse_count(std::string_view text, uint64_t& out, std::string& error, size_t* error_pos) {
  size_t begin = 0, end = 0;
  trim(text, begin, end);
  Failure f;
  double real = 0;
  uint64_t value = 0;
  if (!metric_impl(text, begin, end, true, value, real, f)) {
    return fail(error, error_pos, "count", text, f, kCountHelp);
  }
  out = value;
  return true;
}

bool parse_size(std::string_view text, uint64_t& out, std::string& error, size_t* error_pos) {
  size_t begin = 0, end = 0;
  trim(text, begin, end);
  Failure f;
  uint64_t value = 0;
  if (!size_impl(text, begin, end, value, f)) {
    return fail(error, error_pos, "size", text, f, kSizeHelp);
  }
  out = value;
  return true;
}

bool parse_rate(std::string_view text, double& per_second, std::string& error, size_t* error_pos) {
  size_t begin = 0, end = 0;
  trim(text, begin, end);
  const size_t slash = text.find('/', begin);
  const size_t count_end = slash == std::string_view::npos || slash > end ? end : slash;
  Failure f;
  uint64_t whole = 0;
  double count = 0;
  if (!metric_impl(text, begin, count_end, false, whole, count, f)) {
    return fail(error, error_pos, "rate", text, f, kRateHelp);
  }
  double period_s = 1;
  if (count_end < end) {
    uint64_t us = 0;
    if (count_end + 1 == end) {
      failed(f, "missing period after '/'", end);
    } else if (!duration_impl(text, count_end + 1, end, DurationUnit::kSeconds, true, us, f)) {
      f.detail = "period: " + f.detail;
    } else if (us == 0) {
      failed(f, "the period must be longer than zero", count_end + 1);
    }
    if (!f.detail.empty()) return fail(error, error_pos, "rate", text, f, kRateHelp);
    period_s = static_cast<double>(us) / 1e6;
  }
  per_second = count / period_s;
  return true;
}

std::string format_time_us(double us) {
  long double n = us;
  if (n >= 1000000.0L) return format_units(n / 1000000.0L, 60, "s", {"m", "h"});
  return format_units(n, 1000, "us", {"ms", "s"});
}

std::string format_metric(double n) {
  return format_units(n, 1000, "", {"k", "M", "G", "T", "P"});
}

std::string format_binary(double n) {
  return format_units(n, 1024, "", {"K", "M", "G", "T", "P"});
}

std::string pad_units(const std::string& s, int width) {
  int pad = 2;
  size_t len = s.size();
  if (len >= 1 && is_alpha(s[len - 1])) --pad;
  if (len >= 2 && is_alpha(s[len - 2])) --pad;
  int field = width - pad;
  std::string out;
  if (field > static_cast<int>(len)) out.assign(static_cast<size_t>(field) - len, ' ');
  out += s;
  out.append(static_cast<size_t>(pad), ' ');
  return out;
}

std::string format_duration_short(std::chrono::microseconds d) {
  int64_t raw = d.count();
  if (raw == 0) return "0s";
  std::string out;
  uint64_t us = 0;
  if (raw < 0) {
    out = "-";
    us = static_cast<uint64_t>(-(raw + 1)) + 1;
  } else {
    us = static_cast<uint64_t>(raw);
  }
  if (us < 1000000) {
    if (us % 1000 == 0) return out + std::to_string(us / 1000) + "ms";
    return out + std::to_string(us) + "us";
  }
  const uint64_t hours = us / 3600000000ull;
  const uint64_t minutes = us / 60000000ull % 60;
  const uint64_t seconds = us / 1000000 % 60;
  const uint64_t micros = us % 1000000;
  if (hours != 0) out += std::to_string(hours) + "h";
  if (minutes != 0) out += std::to_string(minutes) + "m";
  if (seconds != 0 || micros != 0) {
    out += std::to_string(seconds);
    if (micros != 0) {
      char frac[8];
      std::snprintf(frac, sizeof(frac), "%06llu", static_cast<unsigned long long>(micros));
      std::string digits(frac);
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    out += "s";
  }
  return out;
}

}  // namespace pelt
