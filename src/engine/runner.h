// run(): a RunOptions in, an exit code out. It reads as its four steps —
//   prepare: Lua states (setup/init), the scenario plans, the outputs;
//   start:   the workers, together, each running its part of every scenario;
//   monitor: once a second, merge the workers' snapshots, redact them, judge the thresholds
//            (abort_on_fail) and hand the snapshot to every output;
//   finish:  merge the final figures into one RunReport and hand it to every output, then the
//            Lua done() hooks, then outputs that linger (metrics).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/fleet.h"

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
  std::string command_line;                  // the command as typed (redacted before output)
  std::vector<std::string> script_args;      // arguments after --, for init(args)
  std::map<std::string, std::string> env;    // -e KEY=VALUE (overrides the environment)
  std::string json_path;                     // --json FILE
  std::string summary_json_path;             // --summary-json FILE
  std::string timeseries_path;               // --timeseries FILE (CSV, or JSON lines for .jsonl)
  std::vector<std::string> outs;             // --out KIND=URL (repeatable)
  std::vector<std::string> out_labels;       // --out-label KEY=VALUE (repeatable)
  std::string report_path;                   // --report FILE.html
  std::string junit_path;                    // --junit FILE.xml
  bool dashboard = false;                    // --dashboard[=ADDR]
  std::string dashboard_listen;              // its address ("" = 127.0.0.1:5665)
  std::chrono::milliseconds dashboard_linger{0};  // --dashboard-linger D
  std::vector<std::string> sources;          // --source local addresses
  std::string metrics_listen;                // --metrics ADDR (overrides [metrics] listen)
  std::string observe_prometheus;            // --observe-prometheus URL (overrides [observe])
  std::chrono::milliseconds metrics_linger{-1};  // --metrics-linger (-1 = from config)
  FleetOptions fleet;  // --segment, --instance, --run-id, --start-at, --paused, --control
};

// Runs everything and returns the process exit code. Messages go to stderr.
int run(RunOptions& options);

}  // namespace pelt
