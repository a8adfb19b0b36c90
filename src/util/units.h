// Parsing and formatting of durations, counts, sizes and rates.
//
// Parsers never throw: they return false and fill `error` with a message that
// says what is wrong and what is accepted, and `*error_pos` (when not null)
// with the 0-based character position of the problem in the input.
// Formatters reproduce wrk's summary output (two decimals, unit scaled at 85%
// of the next step) so pelt's wrk-compatible summary lines up column by column.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pelt {

// Unit applied to a duration written as a bare number ("30" with kSeconds = 30s).
enum class DurationUnit { kMicros, kMillis, kSeconds };

// Parses a duration: "250us", "250ms", "10s", "1.5s", "1m", "2h", "1m30s", "1h2m3s",
// or a bare number in `default_unit`. Unit letters are case-insensitive as in wrk ("10S").
// Rejects empty, negative, garbage and overflow. Sub-microsecond fractions round to nearest.
bool parse_duration(std::string_view text, std::chrono::microseconds& out, std::string& error,
                    size_t* error_pos = nullptr,
                    DurationUnit default_unit = DurationUnit::kSeconds);

// Parses a count with 1000-based suffixes: "100", "1k"/"1K" = 1000, "1.5k" = 1500,
// "2M" = 2000000, "1G"/"1g". The result must be a whole number ("m" is refused as ambiguous).
bool parse_count(std::string_view text, uint64_t& out, std::string& error,
                 size_t* error_pos = nullptr);

// Parses a size in bytes with 1024-based suffixes: "512", "512B", "4k"/"4K"/"4KB"/"4KiB" = 4096,
// "1.5M"/"1MB"/"1MiB", "1G"/"1GB"/"1GiB". The result must be a whole number of bytes.
bool parse_size(std::string_view text, uint64_t& out, std::string& error,
                size_t* error_pos = nullptr);

// Parses a rate into events per second: "100" (per second), "100/s", "1000/1m", "2k/s",
// "5/100ms", "60/m", "3600/h". The count takes parse_count's suffixes, the period
// parse_duration's forms (a bare unit means one of it). Rejects a zero period.
bool parse_rate(std::string_view text, double& per_second, std::string& error,
                size_t* error_pos = nullptr);

// wrk's time format from microseconds: "635.91us", "12.92ms", "1.20s", "2.00m". As in wrk,
// a value scales to the next unit from 85% of it (850us is "0.85ms") and minutes are the
// largest unit (two hours is "120.00m").
std::string format_time_us(double us);

// wrk's 1000-based format: "56.20k", "748.87", "1.20M". Callers append their unit.
std::string format_metric(double n);

// wrk's 1024-based format: "606.33M", "17.76G". Callers append "B".
std::string format_binary(double n);

// wrk's column padding (print_units): right-aligns `s` in `width` columns, where a value
// with a one-letter unit gets one trailing space and a unitless value two, so that the
// numbers line up whatever their unit. Returns the padded text (width characters, or
// more if `s` does not fit — wrk truncates in that case, pelt keeps the text whole).
std::string pad_units(const std::string& s, int width);

// Compact duration for pelt's own output, readable back by parse_duration: "0s", "250us",
// "250ms", "1.5s", "10s", "1m30s", "1h2m3s", "2h". Below a second: whole ms, else us. From a
// second up: h and m parts, then seconds with trailing zero decimals dropped; zero parts omitted.
std::string format_duration_short(std::chrono::microseconds d);

}  // namespace pelt
