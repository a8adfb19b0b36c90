// The Runner turns a RunConfig into a run: it prepares the Lua states (setup/init), splits the
// load over the workers, starts them together, aggregates their snapshots once a second
// (progress line, Prometheus, abort_on_fail thresholds), and after the run merges the final
// figures, prints the summary, writes every requested output and returns the exit code.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "results/stats.h"
#include "results/thresholds.h"

namespace pelt {

// Exit codes (k6's 99 for crossed thresholds, so CI scripts carry over).
constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitThresholds = 99;

// How the run was asked for, beyond the scenario file.
struct RunOptions {
  RunConfig config;                          // scenarios, target, thresholds, metrics
  bool quick = false;                        // wrk-style command line: wrk's summary layout
  int threads = 2;                           // worker threads
  uint64_t connections = 0;                  // quick mode: -c (for the header line)
  std::chrono::microseconds duration{0};     // quick mode: -d (for the header line)
  double rate = 0;                           // quick mode: -R (0 = closed loop)
  bool latency = false;                      // print the latency distribution
  bool quiet = false;                        // no progress line
  std::vector<std::string> script_args;      // arguments after --, for init(args)
  std::map<std::string, std::string> env;    // -e KEY=VALUE (overrides the environment)
  std::string json_path;                     // --json FILE
  std::string summary_json_path;             // --summary-json FILE
  std::vector<std::string> sources;          // --source local addresses
  std::string metrics_listen;                // --metrics ADDR (overrides [metrics] listen)
  std::chrono::milliseconds metrics_linger{-1};  // --metrics-linger (-1 = from config)
};

// One threshold's outcome at the end of the run.
struct ThresholdOutcome {
  const ThresholdConfig* config = nullptr;   // the threshold
  ThresholdResult result;                    // observed value and verdict
};

// Stage layout of one scenario, for the per-stage table.
struct StageInfo {
  double target = 0;                         // VUs, or iterations per second
  std::chrono::microseconds start{0};        // offset from the scenario start
  std::chrono::microseconds length{0};       // stage length
};

// Everything the summaries print.
struct RunResult {
  const RunOptions* options = nullptr;       // what was asked for
  std::string url;                           // target, credentials removed
  std::string run_id;                        // unique id of this run
  WorkerStats stats;                         // merged figures
  double elapsed_seconds = 0;                // run time
  std::vector<std::string> scenario_names;   // by scenario index
  std::vector<std::string> scenario_executors;  // executor names by scenario index
  std::vector<bool> arrival_rate;            // by scenario index
  std::vector<std::map<std::string, std::string>> scenario_tags;  // by scenario index
  std::vector<std::vector<StageInfo>> stages;  // by scenario index
  std::vector<ThresholdOutcome> thresholds;  // in file order
  bool thresholds_ok = true;                 // every threshold held
  bool interrupted = false;                  // stopped by SIGINT/SIGTERM
  bool aborted = false;                      // stopped by an abort_on_fail threshold
  std::string abort_reason;                  // which threshold stopped it
};

// Runs everything and returns the process exit code. Messages go to stderr.
int run(RunOptions& options);

}  // namespace pelt
