// The run report: everything the outputs show about one run, built once from the merged and
// redacted statistics at the end (and, for live outputs, rebuilt each second). It carries
// what the run was (RunInfo, copied from the options, with no pointer back to them) and what
// happened (figures, thresholds, the breaking point); each output formats it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "results/capacity.h"
#include "results/catalogue.h"
#include "results/fleet_info.h"
#include "results/observe_results.h"
#include "results/series.h"
#include "results/stats.h"
#include "results/thresholds.h"

namespace pelt {

// Layout of one stage of a scenario's plan.
struct StageInfo {
  double target = 0;                   // VUs, or iterations per second
  std::chrono::microseconds start{0};  // offset from the scenario start
  std::chrono::microseconds length{0}; // stage length
};

// One scenario as planned.
struct ScenarioInfo {
  std::string name;                         // scenario name
  std::string executor;                     // executor name, e.g. "ramping-vus"
  bool arrival_rate = false;                // targets are iterations per second
  std::map<std::string, std::string> tags;  // the scenario's tags
  std::chrono::microseconds start_time{0};  // offset from the run start
  std::vector<StageInfo> stages;            // its plan's stages
};

// What was asked for.
struct RunInfo {
  std::string run_id;                       // unique per run (time + pid)
  std::string version;                      // pelt's version
  std::string target;                       // target URL, credentials removed
  bool quick = false;                       // wrk-style command line (else pelt run FILE)
  std::string source;                       // scenario file, or "command line"
  std::string command_line;                 // the command as typed, secrets redacted
  int threads = 1;                          // worker threads
  uint64_t connections = 0;                 // quick mode: -c
  std::string http = "1.1";                 // --http: "1.1", "2" or "auto"
  uint32_t streams = 1;                     // -m: VUs (streams) per connection
  std::chrono::microseconds duration{0};    // quick mode: -d
  double rate = 0;                          // quick mode: -R (0 = closed loop)
  bool latency = false;                     // print the latency distribution
  double planned_seconds = 0;               // when the last scenario's plan ends
  std::chrono::system_clock::time_point started_at;  // wall-clock start
  std::vector<ScenarioInfo> scenarios;      // by scenario index
  std::vector<ThresholdConfig> thresholds;  // in file order
  FleetInfo fleet;                          // instance, segments, the plan's identity
  std::vector<SubmetricConfig> submetrics;  // sub-metrics [thresholds] names, shown in the summary
  std::vector<CustomMetricInfo> custom_metrics;  // the scripts' own metrics, by name

  std::vector<std::string> scenario_names() const;
  std::vector<std::map<std::string, std::string>> scenario_tags() const;
};

// One threshold's outcome.
struct ThresholdOutcome {
  const ThresholdConfig* config = nullptr;  // the threshold (in RunInfo::thresholds)
  ThresholdResult result;                   // observed value and verdict
};

// The first stage at which a latency or error-rate threshold no longer held.
struct BreakingPoint {
  bool found = false;       // some stage crossed a threshold
  size_t scenario = 0;      // scenario index
  size_t stage = 0;         // stage index
  std::string description;  // e.g. "p(95)=2310.00ms crossed p(95)<2000"
};

// What an output that pushes to a store delivered (or lost), for the summaries.
struct OutputSummary {
  std::string line;        // e.g. "influxdb: 300 points sent, 0 dropped"
  nlohmann::json details;  // the same as an object, for the JSON document
};

// The run at its end — or, for live outputs, as it stands (`live`), rebuilt once a second.
struct RunReport {
  bool live = false;                         // the run is still going
  RunInfo info;                              // what was asked for
  WorkerStats stats;                         // merged, redacted figures
  double elapsed_seconds = 0;                // run time
  std::chrono::system_clock::time_point ended_at;  // wall-clock end
  std::vector<ThresholdOutcome> thresholds;  // in file order
  bool thresholds_ok = true;                 // every threshold held
  bool interrupted = false;                  // stopped by SIGINT/SIGTERM
  bool aborted = false;                      // stopped by an abort_on_fail threshold
  std::string abort_reason;                  // which threshold stopped it
  BreakingPoint breaking_point;              // first stage that crossed a threshold
  const TimeSeries* timeseries = nullptr;    // the run second by second (names redacted)
  std::vector<OutputSummary> outputs;        // pushed outputs: what reached the store
  std::optional<CapacityResult> capacity;    // a capacity-search run's probes and answer
  std::optional<ObserveResults> observe;     // [observe]: the server's side, from Prometheus
  std::vector<std::string> scenario_names;   // info.scenarios' names, by index
  std::vector<std::map<std::string, std::string>> scenario_tags;  // and their tags

  // Fills scenario_names and scenario_tags from info (call once info is set).
  void index_scenarios();
  MetricSource source() const;               // for the catalogue's readers
  // Seconds of a stage that actually ran (cut short when the run ended early).
  double stage_seconds(size_t scenario, size_t stage) const;
};

// The custom metrics the scripts define (each script's list, in order), each once, into
// info.custom_metrics; then checks that every metric info.thresholds and info.submetrics name is
// built in or defined, with an aggregation and tag filters it supports. False with a message
// ("file:line:col: ..." where the threshold is known) otherwise, e.g. a metric two scripts
// define as different kinds, or a threshold on a metric no script defines.
bool resolve_custom_metrics(const std::vector<std::vector<CustomMetricInfo>>& scripts,
                            RunInfo& info, std::string& error);

// Evaluates every threshold of `info` on `stats` (and on `observe` for observe.LABEL; kEnd:
// the verdict, with k6's rules for sub-metrics without samples and a warning for each).
std::vector<ThresholdOutcome> evaluate_thresholds(const RunInfo& info, const WorkerStats& stats,
                                                  double elapsed_seconds,
                                                  ThresholdPhase phase = ThresholdPhase::kLive,
                                                  const ObserveResults* observe = nullptr);
// The first stage that crossed an untagged latency or error-rate threshold.
BreakingPoint find_breaking_point(const RunReport& report);

}  // namespace pelt
