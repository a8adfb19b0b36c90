// libFuzzer entry point for the threshold expression parser. Build with
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src \
//     fuzz/thresholds_fuzz.cc src/results/thresholds.cc src/results/catalogue.cc src/results/stats.cc \
//     src/results/histogram.cc src/results/observe_results.cc src/util/units.cc -lfmt
// Whatever the input, parsing must not crash, an error must point inside the input, and an
// accepted expression must survive describe() and a second parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "results/thresholds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  pelt::ThresholdExpr expr;
  std::string error;
  size_t error_pos = 0;
  if (!pelt::parse_threshold(text, expr, error, error_pos)) {
    if (error.empty() || error_pos > size) std::abort();
    return 0;
  }
  const std::string canonical = pelt::describe(expr);
  pelt::ThresholdExpr again;
  if (!pelt::parse_threshold(canonical, again, error, error_pos)) std::abort();
  if (again.aggregation != expr.aggregation || again.op != expr.op ||
      again.percentile != expr.percentile || again.value != expr.value) {
    std::abort();
  }
  if (pelt::describe(again) != canonical) std::abort();
  for (const char* metric : {"http_req_duration", "http_req_failed", "http_reqs", "vus"}) {
    pelt::check_metric_aggregation(metric, expr, error);
  }
  return 0;
}
