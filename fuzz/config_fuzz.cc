// libFuzzer entry point for the scenario-file loader. Build with
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src \
//     $(pkg-config --cflags tomlplusplus) fuzz/config_fuzz.cc src/config/*.cc \
//     src/util/units.cc src/wire/url.cc src/results/thresholds.cc src/results/catalogue.cc \
//     src/results/stats.cc src/results/histogram.cc src/results/observe_results.cc \
//     src/results/probe_window.cc src/results/series.cc src/observe/observe_config.cc \
//     src/outputs/output_config.cc -lfmt -lcrypto $(pkg-config --libs tomlplusplus)
// Seed corpus: scenarios/*.toml and test/data/config/*.toml.
// Whatever the input, loading must not crash; a rejected file must give one
// "fuzz.toml:LINE:COL: message" error, and ${VAR} expansion errors must point inside the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

// A few -e values so ${VAR} references can both succeed and fail.
const std::map<std::string, std::string> kVars = {
    {"BASE_URL", "http://127.0.0.1:8080"}, {"EMPTY", ""}, {"N", "10"}};

bool has_position(const std::string& error) {
  const std::string prefix = "fuzz.toml:";
  if (error.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size();
  for (int part = 0; part < 2; ++part) {
    size_t digits = 0;
    while (i < error.size() && error[i] >= '0' && error[i] <= '9') ++i, ++digits;
    if (digits == 0 || i >= error.size() || error[i] != ':') return false;
    ++i;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  pelt::RunConfig config;
  std::string error;
  if (pelt::load_run_config(text, "fuzz.toml", "/nonexistent-pelt-fuzz", kVars, config, error)) {
    if (!error.empty() || config.scenarios.empty()) std::abort();
  } else if (!has_position(error)) {
    std::abort();
  }

  std::string expanded;
  size_t error_pos = 0;
  if (!pelt::expand_vars(text, kVars, expanded, error, error_pos)) {
    if (error.empty() || error_pos > size) std::abort();
  }
  return 0;
}
