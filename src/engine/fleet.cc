#include "engine/fleet.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <ctime>

namespace pelt {
namespace {

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool is_fleet_flag(std::string_view name, bool& takes_value) {
  takes_value = name != "--paused";
  return name == "--segment" || name == "--instance" || name == "--run-id" ||
         name == "--start-at" || name == "--paused" || name == "--control";
}

bool apply_fleet_flag(std::string_view name, const std::string& value, FleetOptions& out,
                      std::string& error) {
  if (name == "--segment") {
    out.segment_set = true;
    return parse_segment(value, out.segment, error);
  }
  if (name == "--instance" || name == "--run-id") {
    if (value.empty() || value.size() > 128 ||
        value.find_first_of(" \t\r\n\"\\") != std::string::npos) {
      error = std::string(name) + " must be 1 to 128 characters without spaces or quotes";
      return false;
    }
    (name == "--instance" ? out.instance : out.run_id) = value;
    return true;
  }
  if (name == "--start-at") {
    if (value == "now") {  // no wait (a default that a coordinator may replace)
      out.start_at.reset();
      return true;
    }
    std::chrono::system_clock::time_point t;
    if (!parse_start_time(value, t, error)) return false;
    out.start_at = t;
    return true;
  }
  if (name == "--paused") {
    out.paused = true;
    return true;
  }
  if (name == "--control") {
    out.control_listen = value;
    return true;
  }
  error = "unknown option " + std::string(name);
  return false;
}

bool parse_start_time(std::string_view text, std::chrono::system_clock::time_point& out,
                      std::string& error) {
  const std::string bad = "bad --start-at \"" + std::string(text) +
                          "\": write a UTC time such as 2026-03-01T12:00:00Z (or .250Z), or "
                          "@UNIX_SECONDS";
  using namespace std::chrono;
  if (!text.empty() && text[0] == '@') {
    double secs = 0;
    auto [ptr, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), secs);
    if (ec != std::errc() || ptr != text.data() + text.size() || !(secs > 0) || secs > 1e11) {
      error = bad;
      return false;
    }
    out = system_clock::time_point(duration_cast<system_clock::duration>(
        microseconds(static_cast<int64_t>(std::llround(secs * 1e6)))));
    return true;
  }
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (text.size() < 19 || !digits(text, 0, 4, year) || text[4] != '-' || !digits(text, 5, 2, mon) ||
      text[7] != '-' || !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, min) ||
      text[16] != ':' || !digits(text, 17, 2, sec) || mon < 1 || mon > 12 || day < 1 || day > 31 ||
      hour > 23 || min > 59 || sec > 60) {
    error = bad;
    return false;
  }
  size_t i = 19;
  int64_t frac_us = 0;
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100000;
    ++i;
    const size_t first = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      frac_us += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == first) {
      error = bad;
      return false;
    }
  }
  if (i + 1 != text.size() || (text[i] != 'Z' && text[i] != 'z')) {
    error = bad + " (the time must end in Z: UTC)";
    return false;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t t = timegm(&tm);
  out = system_clock::time_point(
      duration_cast<system_clock::duration>(seconds(t) + microseconds(frac_us)));
  return true;
}

std::string default_instance_name(const Segment& segment) {
  if (!segment.whole()) {
    return "segment-" + std::to_string(segment.index) + "-of-" + std::to_string(segment.count);
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') return host;
  return "pelt";
}

}  // namespace pelt
