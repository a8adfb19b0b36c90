// Pass/fail thresholds: k6's expression grammar `<aggregation> <op> <number>[unit]`, which
// metric supports which aggregation (from the metric catalogue, results/catalogue.h), and
// evaluation against merged WorkerStats.
//
// This header depends on nothing else in pelt (config.h includes it for ThresholdExpr).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pelt {

struct ThresholdConfig;  // config.h
struct MetricSource;     // catalogue.h: the statistics and scenario names and tags read

// One parsed threshold expression, e.g. "p(95)<2s".
struct ThresholdExpr {
  enum class Aggregation { kAvg, kMin, kMax, kMed, kPercentile, kRate, kCount, kValue };
  enum class Op { kLt, kLe, kGt, kGe, kEq, kNe };
  Aggregation aggregation = Aggregation::kAvg;  // what is computed from the metric
  double percentile = 0;                        // for kPercentile, 0..100
  Op op = Op::kLt;                              // comparison: observed <op> value
  double value = 0;  // right-hand side; durations already converted to milliseconds
};

// Parses `text` (spaces allowed around the parts). Durations default to milliseconds; the units
// us, µs, ms, s, m and h may be written after the number. On failure returns false with a
// message and the byte offset in `text` where the problem is.
bool parse_threshold(std::string_view text, ThresholdExpr& out, std::string& error,
                     size_t& error_pos);

// Canonical text, e.g. "p(95)<2000", "rate<0.01", "p(99.9)<=500.5".
std::string describe(const ThresholdExpr& expr);

// Which aggregations each metric supports: trends (http_req_duration, send_lag, ...): avg min
// max med p(N); rates (http_req_failed, checks): rate; counters (http_reqs, iterations, ...):
// count, rate (per second); gauges (vus, vus_max): value, min, max. False with a message for an
// unknown metric or an unsupported aggregation.
bool check_metric_aggregation(const std::string& metric, const ThresholdExpr& expr,
                              std::string& error);
// The same for any metric the catalogue describes (built-in or a script's).
struct MetricDef;
bool check_aggregation(const MetricDef& metric, const ThresholdExpr& expr, std::string& error);

// Which tag filters each metric supports (the catalogue lists them; config validation calls
// this at load time). `stage` is a 0-based stage index (alone or with scenario) and `status` a
// status code. False with a message otherwise.
bool check_threshold_tags(const std::string& metric, const std::map<std::string, std::string>& tags,
                          std::string& error);

// The outcome of evaluating one threshold.
struct ThresholdResult {
  bool ok = true;         // the condition holds
  bool has_data = false;  // the sub-metric had samples (a counter always has: its count)
  double observed = 0;    // the value compared (ms for durations, 0..1 rates, count, per second)
  std::string text;       // e.g. "p(95)=12.34ms" for the summary; "no data" beside it without
  // Set at the end of the run when the threshold selected no samples (or its tag filters name
  // a value no sample carries), e.g. "selected no samples: no request is named \"chekout\"
  // (names: checkout, home)". Empty otherwise.
  std::string warning;
};

// What the evaluator reads.
using ThresholdInputs = MetricSource;

// When a threshold is evaluated.
enum class ThresholdPhase {
  kLive,  // during the run: without samples it holds (never aborts a run)
  kEnd,   // the verdict: without samples k6's rule applies (a trend reads 0, a rate holds, a
          // counter counts 0, a gauge reads 0) and the result carries a warning
};

// Evaluates threshold.parsed on threshold.metric filtered by threshold.tags.
ThresholdResult evaluate_threshold(const ThresholdConfig& threshold, const ThresholdInputs& in,
                                   ThresholdPhase phase = ThresholdPhase::kLive);

}  // namespace pelt
