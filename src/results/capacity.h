// capacity-search results: each probe (a rate held for a while, judged on its window of the
// time series against the file's thresholds and against the generator's own limits) and the
// search's answer — the maximum sustainable rate, the first failing one and what limited it.
// The engine's controller (engine/capacity_controller.h) runs the search; the RunReport
// carries its CapacityResult to every output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "results/stats.h"
#include "results/thresholds.h"

namespace pelt {

// How a probe ended.
enum class ProbeVerdict {
  kPass,        // every objective held and the generator kept the rate
  kObjectives,  // an objective (a threshold) was crossed
  kGenerator,   // pelt itself could not keep the rate: sends lagged, or arrivals were dropped
};
const char* verdict_name(ProbeVerdict v);  // "pass", "objectives", "generator"

// One threshold judged on a probe's window.
struct ObjectiveOutcome {
  std::string metric;      // e.g. "http_req_duration"
  std::string key;         // as written, e.g. "http_req_duration{name:api}"
  std::string expression;  // e.g. "p(95)<200"
  ThresholdExpr parsed;    // the parsed expression
  ThresholdResult result;  // observed value and verdict on the window
};

// One probe: a rate held for settle + hold seconds, judged on the hold.
struct ProbeResult {
  size_t index = 0;          // 0-based, in the order probed
  double rate = 0;           // target iterations per second
  double start_s = 0;        // run time the probe began (its settle), seconds
  double window_from_s = 0;  // judged window: run seconds [from, to)
  double window_to_s = 0;
  uint64_t requests = 0;  // requests that ended in the window
  double rps = 0;         // requests per second in the window
  uint64_t failed = 0;    // of those, failed
  double error_rate = 0;  // failed / requests
  double p50_ms = 0, p90_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;  // latency in the window
  uint64_t dropped = 0;        // arrivals dropped in the window
  double send_lag_p50_ms = 0;  // send lag in the window: median (judged) and p95
  double send_lag_p95_ms = 0;
  uint32_t vus_max = 0;  // VUs allocated at the window's end
  ProbeVerdict verdict = ProbeVerdict::kPass;
  bool early = false;  // judged before its hold was over: it could no longer pass
  std::string reason;  // why it failed ("" when it passed)
  std::vector<ObjectiveOutcome> objectives;  // every threshold on the window
};

// The search's answer.
struct CapacityResult {
  std::string scenario;                        // the capacity-search scenario
  double start_rate = 0, max_rate = 0;         // iterations per second
  double step_factor = 0, precision = 0;       // as configured
  double hold_s = 0, settle_s = 0;             // seconds
  std::optional<double> max_sustainable_rate;  // highest passing rate; none: even the start failed
  std::optional<double> first_failing_rate;    // lowest failing rate; none: max_rate passed
  // "objectives" or "generator" (what the first failing probe ran into), "max_rate" (every
  // probe up to max_rate passed), "" when the search did not finish.
  std::string limited_by;
  bool complete = false;                // the search reached its answer (not interrupted)
  std::optional<size_t> best_probe;     // the probe at max_sustainable_rate
  std::optional<size_t> failing_probe;  // the probe at first_failing_rate
  std::vector<ProbeResult> probes;      // in the order probed
};

// What the judge needs besides the window.
struct ProbeJudgeInput {
  const std::vector<ThresholdConfig>* thresholds = nullptr;  // the objectives
  const std::vector<std::string>* scenario_names = nullptr;  // by scenario index
  const std::vector<std::map<std::string, std::string>>* scenario_tags = nullptr;
  size_t scenario = 0;   // the capacity-search scenario's index
  uint32_t max_vus = 0;  // VUs the scenario may open (for the generator's message)
};

// The largest median send lag (ms) a probe may show before the generator counts as unable to
// keep the rate: a quarter of the tightest http_req_duration limit, at least 10 ms; 50 ms when
// no threshold limits the duration from above. (The median, so that a pause of the machine
// for a moment does not count; a generator that cannot keep the rate falls further behind
// with every second, which moves the median.)
double send_lag_limit_ms(const std::vector<ThresholdConfig>& thresholds);

// Judges a probe at `rate` (per second) on `window` (window_stats of its hold, `seconds` long).
// Order: a lagging generator first (lag inflates open-loop latency, so objectives crossed then
// say nothing about the server), then the objectives, then dropped arrivals (more than 0.1% of
// those planned), then a window without a single request is a failure too.
ProbeResult judge_probe(const WorkerStats& window, double seconds, double rate,
                        const ProbeJudgeInput& in);

// Whether a probe at `rate` (per second) held for `hold_s` seconds can no longer pass, judged
// on the first part of its window: more requests above a p(N) or max duration limit, more
// failed requests, or more dropped arrivals than the whole window may have (counted against
// the arrivals planned for it, with 10% to spare). Objectives with tag filters other than the
// scenario, and averages, wait for the whole window.
bool certain_failure(const WorkerStats& partial, double rate, double hold_s,
                     const ProbeJudgeInput& in);

// "p95 180 ms < 200 ms", "errors 0.02% < 1%", "http_reqs rate=95.00/s > 90": one objective.
std::string objective_text(const ObjectiveOutcome& o, bool with_limit);
// The summary line: "maximum sustainable rate: 1,840 req/s (p95 180 ms < 200 ms, errors 0.02%
// < 1%); first failing: 1,960 req/s (p95 410 ms)".
std::string capacity_headline(const CapacityResult& c);
// The `capacity` object of the summary JSON (docs/OUTPUT.md).
nlohmann::json capacity_json(const CapacityResult& c);
// The text summary's section: the headline and the table of probes.
void print_capacity(std::FILE* out, const CapacityResult& c);

}  // namespace pelt
