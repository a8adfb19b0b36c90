// libFuzzer entry point for the unit parsers (durations, counts, sizes, rates). Build with
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src
//     fuzz/units_fuzz.cc src/util/units.cc -o units_fuzz
//   ./units_fuzz -max_total_time=60 fuzz/corpus/units
// Without libFuzzer, -DPELT_FUZZ_STANDALONE adds a main() that runs the files named on the
// command line:  g++ -std=c++20 -DPELT_FUZZ_STANDALONE -I src fuzz/units_fuzz.cc src/util/units.cc
//
// Every input goes through all four parsers, and for durations through each default unit.
// Whatever the input, parsing must not crash; a rejection must carry a message and a position
// inside the input; an accepted value must be sane and survive the round trips pelt relies on
// (a duration printed by format_duration_short reads back to the same value, a count printed
// in decimal reads back unchanged), and the wrk-style formatters must take it.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/units.h"

namespace {

// Aborts (a crash libFuzzer records) when a rejection does not explain itself.
void check_rejection(const std::string& error, size_t error_pos, size_t size) {
  if (error.empty() || error_pos > size) std::abort();
}

void fuzz_duration(std::string_view text, pelt::DurationUnit unit) {
  std::chrono::microseconds d{0};
  std::string error;
  size_t pos = 0;
  if (!pelt::parse_duration(text, d, error, &pos, unit)) {
    check_rejection(error, pos, text.size());
    return;
  }
  if (d.count() < 0) std::abort();  // negatives are documented as rejected
  const std::string printed = pelt::format_duration_short(d);
  std::chrono::microseconds again{0};
  if (!pelt::parse_duration(printed, again, error, &pos)) std::abort();
  if (again != d) std::abort();
  (void)pelt::format_time_us(static_cast<double>(d.count()));
}

void fuzz_count(std::string_view text) {
  uint64_t n = 0;
  std::string error;
  size_t pos = 0;
  if (!pelt::parse_count(text, n, error, &pos)) {
    check_rejection(error, pos, text.size());
    return;
  }
  uint64_t again = 0;
  if (!pelt::parse_count(std::to_string(n), again, error, &pos) || again != n) std::abort();
  (void)pelt::format_metric(static_cast<double>(n));
}

void fuzz_size(std::string_view text) {
  uint64_t n = 0;
  std::string error;
  size_t pos = 0;
  if (!pelt::parse_size(text, n, error, &pos)) {
    check_rejection(error, pos, text.size());
    return;
  }
  uint64_t again = 0;
  if (!pelt::parse_size(std::to_string(n), again, error, &pos) || again != n) std::abort();
  (void)pelt::format_binary(static_cast<double>(n));
}

void fuzz_rate(std::string_view text) {
  double per_second = 0;
  std::string error;
  size_t pos = 0;
  if (!pelt::parse_rate(text, per_second, error, &pos)) {
    check_rejection(error, pos, text.size());
    return;
  }
  if (!std::isfinite(per_second) || per_second < 0) std::abort();
  (void)pelt::format_metric(per_second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (pelt::DurationUnit unit :
       {pelt::DurationUnit::kMicros, pelt::DurationUnit::kMillis, pelt::DurationUnit::kSeconds}) {
    fuzz_duration(text, unit);
  }
  fuzz_count(text);
  fuzz_size(text);
  fuzz_rate(text);
  // Column padding takes any text; the width comes from the first byte.
  const int width = size > 0 ? static_cast<int>(data[0] % 64) : 0;
  if (pelt::pad_units(std::string(text), width).size() < text.size()) std::abort();
  return 0;
}

#ifdef PELT_FUZZ_STANDALONE
#include <fstream>
#include <iterator>
#include <vector>

// Replays the files named on the command line through the fuzz entry point.
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  return 0;
}
#endif
