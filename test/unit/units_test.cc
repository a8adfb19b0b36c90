#include "util/units.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

int64_t dur_us(std::string_view s, pelt::DurationUnit unit = pelt::DurationUnit::kSeconds) {
  std::chrono::microseconds out{-1};
  std::string error;
  INFO("input: " << s);
  REQUIRE(pelt::parse_duration(s, out, error, nullptr, unit));
  CHECK(error.empty());
  return out.count();
}

// Parses a bad duration and returns the error position; checks the message shape.
size_t dur_error(std::string_view s, std::string* message = nullptr) {
  std::chrono::microseconds out{42};
  std::string error;
  size_t pos = 12345;
  INFO("input: " << s);
  REQUIRE_FALSE(pelt::parse_duration(s, out, error, &pos));
  CHECK(out.count() == 42);
  CHECK(error.find("bad duration \"" + std::string(s) + "\"") == 0);
  CHECK(error.find("e.g. ") != std::string::npos);
  if (message != nullptr) *message = error;
  return pos;
}

uint64_t count_of(std::string_view s) {
  uint64_t out = 0;
  std::string error;
  INFO("input: " << s);
  REQUIRE(pelt::parse_count(s, out, error));
  return out;
}

uint64_t size_of(std::string_view s) {
  uint64_t out = 0;
  std::string error;
  INFO("input: " << s);
  REQUIRE(pelt::parse_size(s, out, error));
  return out;
}

double rate_of(std::string_view s) {
  double out = -1;
  std::string error;
  INFO("input: " << s);
  REQUIRE(pelt::parse_rate(s, out, error));
  return out;
}

// Rebuilds one wrk "Thread Stats" row the way wrk's print_stats lays it out.
std::string wrk_row(const char* name, const std::string& avg, const std::string& stdev,
                    const std::string& max, double within) {
  char head[32];
  std::snprintf(head, sizeof(head), "    %-10s", name);
  char tail[32];
  std::snprintf(tail, sizeof(tail), "%8.2f%%", within);
  return head + pelt::pad_units(avg, 8) + pelt::pad_units(stdev, 10) + pelt::pad_units(max, 9) +
         tail;
}

}  // namespace

TEST_CASE("parse_duration accepts every documented form", "[units]") {
  CHECK(dur_us("250us") == 250);
  CHECK(dur_us("250\xC2\xB5s") == 250);
  CHECK(dur_us("250ms") == 250000);
  CHECK(dur_us("10s") == 10000000);
  CHECK(dur_us("1.5s") == 1500000);
  CHECK(dur_us("0.25ms") == 250);
  CHECK(dur_us("1m") == 60000000);
  CHECK(dur_us("2h") == 7200000000);
  CHECK(dur_us("1m30s") == 90000000);
  CHECK(dur_us("1h2m3s") == 3723000000);
  CHECK(dur_us("1s500ms") == 1500000);
  CHECK(dur_us("0s") == 0);
  CHECK(dur_us("  30s \t") == 30000000);
  CHECK(dur_us("10S") == 10000000);  // wrk reads units case-insensitively
  CHECK(dur_us("2M") == 120000000);
  CHECK(dur_us("1H30M") == 5400000000);
  CHECK(dur_us("5MS") == 5000);
}

TEST_CASE("parse_duration takes bare numbers in the default unit", "[units]") {
  CHECK(dur_us("30") == 30000000);
  CHECK(dur_us("2.5") == 2500000);
  CHECK(dur_us("30", pelt::DurationUnit::kMillis) == 30000);
  CHECK(dur_us("30", pelt::DurationUnit::kMicros) == 30);
  CHECK(dur_us("1.5", pelt::DurationUnit::kMillis) == 1500);
  // An explicit unit wins over the default.
  CHECK(dur_us("2s", pelt::DurationUnit::kMillis) == 2000000);
}

TEST_CASE("parse_duration rejects bad input with a position", "[units]") {
  std::string message;
  CHECK(dur_error("10x", &message) == 2);
  CHECK(message.find("unknown unit \"x\"") != std::string::npos);
  CHECK(message.find("ms, s, m or h") != std::string::npos);
  CHECK(dur_error("") == 0);
  CHECK(dur_error("   ") == 3);
  CHECK(dur_error("-5s", &message) == 0);
  CHECK(message.find("negative") != std::string::npos);
  CHECK(dur_error("abc") == 0);
  CHECK(dur_error("s") == 0);
  CHECK(dur_error("1m30") == 4);
  CHECK(dur_error("1m 30s") == 2);
  CHECK(dur_error("1.s") == 1);
  CHECK(dur_error(".5s") == 0);
  CHECK(dur_error("5d") == 1);
  CHECK(dur_error("10ns") == 2);
  CHECK(dur_error("1s-") == 2);
  CHECK(dur_error("99999999999999999999s") == 0);
  CHECK(dur_error("9999999999h", &message) == 0);
  CHECK(message.find("too large") != std::string::npos);
  // A nullptr position is allowed.
  std::chrono::microseconds out{};
  std::string error;
  CHECK_FALSE(pelt::parse_duration("oops", out, error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("parse_count accepts plain numbers and 1000-based suffixes", "[units]") {
  CHECK(count_of("0") == 0);
  CHECK(count_of("100") == 100);
  CHECK(count_of("1k") == 1000);
  CHECK(count_of("1K") == 1000);
  CHECK(count_of("1.5k") == 1500);
  CHECK(count_of("2M") == 2000000);
  CHECK(count_of("3G") == 3000000000ull);
  CHECK(count_of("3g") == 3000000000ull);
  CHECK(count_of("1.000k") == 1000);
  CHECK(count_of(" 7 ") == 7);
}

TEST_CASE("parse_count rejects bad input", "[units]") {
  const char* bad[] = {
      "", "-1", "1x", "1kk", "1m", "abc", "1.2345k", "18446744073709551616", "20000000000G"};
  const size_t where[] = {0, 0, 1, 2, 1, 0, 0, 0, 0};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    uint64_t out = 7;
    std::string error;
    size_t pos = 999;
    INFO("input: " << bad[i]);
    CHECK_FALSE(pelt::parse_count(bad[i], out, error, &pos));
    CHECK(out == 7);
    CHECK(pos == where[i]);
    CHECK(error.find("bad count") == 0);
    CHECK(error.find("e.g. 100, 1.5k or 2M") != std::string::npos);
  }
}

TEST_CASE("parse_size accepts bytes and 1024-based suffixes", "[units]") {
  CHECK(size_of("512") == 512);
  CHECK(size_of("512B") == 512);
  CHECK(size_of("4k") == 4096);
  CHECK(size_of("4K") == 4096);
  CHECK(size_of("4KB") == 4096);
  CHECK(size_of("4KiB") == 4096);
  CHECK(size_of("4kib") == 4096);
  CHECK(size_of("1.5M") == 1572864);
  CHECK(size_of("1MiB") == 1048576);
  CHECK(size_of("2G") == 2147483648ull);
  CHECK(size_of("1GB") == 1073741824ull);
}

TEST_CASE("parse_size rejects bad input", "[units]") {
  const char* bad[] = {"", "-4k", "4x", "4kx", "4 k", "0.5", "1.0001k", "99999999999999999999G"};
  const size_t where[] = {0, 0, 1, 1, 1, 0, 0, 0};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    uint64_t out = 7;
    std::string error;
    size_t pos = 999;
    INFO("input: " << bad[i]);
    CHECK_FALSE(pelt::parse_size(bad[i], out, error, &pos));
    CHECK(out == 7);
    CHECK(pos == where[i]);
    CHECK(error.find("bad size") == 0);
  }
}

TEST_CASE("parse_rate accepts counts per period", "[units]") {
  CHECK(rate_of("100") == Approx(100));
  CHECK(rate_of("100/s") == Approx(100));
  CHECK(rate_of("100/1s") == Approx(100));
  CHECK(rate_of("1000/1m") == Approx(1000.0 / 60));
  CHECK(rate_of("60/m") == Approx(1));
  CHECK(rate_of("3600/h") == Approx(1));
  CHECK(rate_of("2k/s") == Approx(2000));
  CHECK(rate_of("5/100ms") == Approx(50));
  CHECK(rate_of("0.5/s") == Approx(0.5));
  CHECK(rate_of("10/2") == Approx(5));
  CHECK(rate_of("0") == 0);
}

TEST_CASE("parse_rate rejects bad input", "[units]") {
  const char* bad[] = {"", "-1/s", "x/s", "10/", "10/0s", "10/x", "10/s/s", "10//s", "1q/s"};
  const size_t where[] = {0, 0, 0, 3, 3, 3, 4, 3, 1};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    double out = -7;
    std::string error;
    size_t pos = 999;
    INFO("input: " << bad[i]);
    CHECK_FALSE(pelt::parse_rate(bad[i], out, error, &pos));
    CHECK(out == -7);
    CHECK(pos == where[i]);
    CHECK(error.find("bad rate") == 0);
  }
}

TEST_CASE("wrk number formats", "[units]") {
  CHECK(pelt::format_time_us(635.91) == "635.91us");
  CHECK(pelt::format_time_us(890) == "0.89ms");
  CHECK(pelt::format_time_us(12920) == "12.92ms");
  CHECK(pelt::format_time_us(849) == "849.00us");
  CHECK(pelt::format_time_us(999990) == "999.99ms");
  CHECK(pelt::format_time_us(1200000) == "1.20s");
  CHECK(pelt::format_time_us(120000000) == "2.00m");
  CHECK(pelt::format_time_us(7200000000.0) == "120.00m");  // minutes are wrk's largest unit
  CHECK(pelt::format_time_us(0) == "0.00us");
  CHECK(pelt::format_metric(56200) == "56.20k");
  CHECK(pelt::format_metric(8070) == "8.07k");
  CHECK(pelt::format_metric(849) == "849.00");
  CHECK(pelt::format_metric(1200000) == "1.20M");
  CHECK(pelt::format_binary(606.33 * 1024 * 1024) == "606.33M");
  CHECK(pelt::format_binary(17.76 * 1024 * 1024 * 1024) == "17.76G");
  CHECK(pelt::format_binary(166.21 * 1024 * 1024) == "166.21M");
  CHECK(pelt::format_binary(100) == "100.00");
}

TEST_CASE("pad_units reproduces wrk's summary columns", "[units]") {
  CHECK(pelt::pad_units("635.91us", 8) == "635.91us");
  CHECK(pelt::pad_units("0.89ms", 10) == "    0.89ms");
  CHECK(pelt::pad_units("56.20k", 8) == " 56.20k ");
  CHECK(pelt::pad_units("748.00", 8) == "748.00  ");          // no unit: two trailing spaces
  CHECK(pelt::pad_units("1234567.00", 8) == "1234567.00  ");  // too wide: kept whole
  // Lines from wrk's README output.
  CHECK(wrk_row("Latency", pelt::format_time_us(635.91), pelt::format_time_us(890),
                pelt::format_time_us(12920),
                93.69) == "    Latency   635.91us    0.89ms  12.92ms   93.69%");
  CHECK(wrk_row("Req/Sec", pelt::format_metric(56200), pelt::format_metric(8070),
                pelt::format_metric(62000),
                86.54) == "    Req/Sec    56.20k     8.07k   62.00k    86.54%");
  // wrk prints this one with "%10sB".
  char transfer[64];
  std::snprintf(transfer, sizeof(transfer), "Transfer/sec: %10sB",
                pelt::format_binary(606.33 * 1024 * 1024).c_str());
  CHECK(std::string(transfer) == "Transfer/sec:    606.33MB");
}

TEST_CASE("format_duration_short", "[units]") {
  CHECK(pelt::format_duration_short(0us) == "0s");
  CHECK(pelt::format_duration_short(250us) == "250us");
  CHECK(pelt::format_duration_short(1500us) == "1500us");
  CHECK(pelt::format_duration_short(250ms) == "250ms");
  CHECK(pelt::format_duration_short(1500ms) == "1.5s");
  CHECK(pelt::format_duration_short(10s) == "10s");
  CHECK(pelt::format_duration_short(90s) == "1m30s");
  CHECK(pelt::format_duration_short(2h) == "2h");
  CHECK(pelt::format_duration_short(1h + 2min + 3s) == "1h2m3s");
  CHECK(pelt::format_duration_short(1h + 5s) == "1h5s");
  CHECK(pelt::format_duration_short(-250ms) == "-250ms");
  // Every output reads back to the same duration.
  for (std::chrono::microseconds d : {250us, 1500us, 1250000us, 61000000us, 3723000001us}) {
    std::chrono::microseconds back{};
    std::string error;
    std::string text = pelt::format_duration_short(d);
    INFO(text);
    REQUIRE(pelt::parse_duration(text, back, error));
    CHECK(back == d);
  }
}
