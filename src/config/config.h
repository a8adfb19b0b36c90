// Scenario files: the TOML format behind `pelt run FILE.toml`, parsed and validated into a
// RunConfig. Every problem is reported as one "file:line:col: message" string.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "observe/observe_config.h"
#include "outputs/output_config.h"
#include "results/thresholds.h"
#include "wire/http_version.h"

namespace pelt {

// How a scenario schedules iterations (k6's executors).
enum class ExecutorKind {
  kConstantVus,
  kRampingVus,
  kConstantArrivalRate,
  kRampingArrivalRate,
  kPerVuIterations,
  kSharedIterations,
  kCapacitySearch  // open loop, the rate found as it runs (docs/CAPACITY.md)
};

// The executor's name as written in files, e.g. "ramping-vus".
const char* executor_name(ExecutorKind);

// One stage of a ramping executor.
struct StageSpec {
  std::chrono::microseconds duration{0};  // length of the stage
  double target = 0;  // VUs (ramping-vus) or iterations per time_unit (ramping-arrival-rate)
};

// Pause after each iteration, drawn uniformly in [min, max].
struct ThinkTime {
  std::chrono::microseconds min{0};  // shortest pause
  std::chrono::microseconds max{0};  // longest pause (== min for a fixed pause)
};

// Header name/value pairs in order.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One [scenarios.NAME] table.
struct ScenarioConfig {
  std::string name;                                    // table key, e.g. "browse"
  ExecutorKind executor = ExecutorKind::kConstantVus;  // scheduling model
  uint32_t vus = 1;                                    // VUs for constant-vus and *-iterations
  uint32_t start_vus = 1;                              // ramping-vus: VUs before the first stage
  std::vector<StageSpec> stages;                       // ramping-*: stages in order
  double rate = 0;        // constant-arrival-rate: iterations per time_unit
  double start_rate = 0;  // ramping-arrival-rate: iterations per time_unit before stage 1;
                          // capacity-search: the first probe's rate
  double max_rate = 0;    // capacity-search: the highest rate probed, per time_unit
  double step_factor = 1.5;  // capacity-search: each passing probe multiplies the rate by this
  double precision = 0.05;   // capacity-search: bisect until (failing - passing) / passing <= this
  std::chrono::microseconds hold{0};  // capacity-search: judged length of each probe
  std::chrono::microseconds settle{std::chrono::seconds(2)};  // capacity-search: not judged, at each probe's start
  std::chrono::microseconds time_unit{std::chrono::seconds(1)};  // period rates refer to
  uint32_t pre_allocated_vus = 0;         // arrival-rate: VUs opened at start
  uint32_t max_vus = 0;                   // arrival-rate: VU cap (0 = pre_allocated_vus)
  uint64_t iterations = 1;                // *-iterations: per VU, or shared in total
  std::chrono::microseconds duration{0};  // constant-*: how long to run
  std::chrono::microseconds max_duration{std::chrono::minutes(10)};        // *-iterations: time cap
  std::chrono::microseconds start_time{0};                                 // delay from run start
  std::chrono::microseconds graceful_stop{std::chrono::seconds(30)};       // wait for iterations
  std::chrono::microseconds graceful_ramp_down{std::chrono::seconds(30)};  // ramping-vus
  ThinkTime think_time;                     // pause after each iteration
  std::string script;                       // resolved path; "" = the file's script (maybe none)
  std::string method = "GET";               // default request method
  std::string path;                         // default request path ("" = URL's path)
  std::string body;                         // default request body
  HeaderList headers;                       // target headers with the scenario's overrides applied
  std::map<std::string, std::string> tags;  // extra tags
  bool queue_when_busy = false;  // arrival-rate: wait for a VU instead of dropping (quick -R mode)
  std::string location;          // "file:line:col" of the scenario table, for messages
};

// One threshold expression from [thresholds].
struct ThresholdConfig {
  std::string metric;                       // e.g. "http_req_duration"
  std::map<std::string, std::string> tags;  // from {name:issue}
  std::string key;             // the key as written, e.g. "http_req_duration{name:issue}"
  std::string expression;      // e.g. "p(99)<500"
  ThresholdExpr parsed;        // the parsed expression
  bool abort_on_fail = false;  // stop the run when crossed
  std::chrono::microseconds delay_abort_eval{0};  // no abort before this much run time
  std::string location;                           // "file:line:col" of the expression
};

// A metric under tag filters that a [thresholds] key names, e.g. http_reqs{status:404}. Every key
// declares one (an empty list declares it without a threshold, as in k6); the summary shows each.
struct SubmetricConfig {
  std::string metric;                       // e.g. "http_reqs"
  std::map<std::string, std::string> tags;  // from {status:404}, quotes stripped
  std::string key;                          // the key as written
};

// The [metrics] table.
struct MetricsConfig {
  std::string listen;           // Prometheus endpoint "host:port"; "" = off
  std::vector<double> buckets;  // request duration buckets in seconds; empty = defaults
  std::chrono::microseconds linger{std::chrono::seconds(5)};  // keep serving after the run
};

// The [target] table.
struct TargetConfig {
  std::string url;                                              // after ${VAR} expansion
  std::chrono::microseconds timeout{std::chrono::seconds(60)};  // per-request timeout
  HeaderList headers;                                           // headers sent with every request
  bool insecure = false;                                        // skip TLS certificate verification
  std::string cacert;  // extra CA file, resolved path; "" = none
  HttpVersion http = HttpVersion::kHttp11;  // http = "1.1" | "2" | "auto" (h2c = true: "2")
  uint32_t streams = 1;  // VUs per connection: concurrent HTTP/2 streams (pipelined over 1.1)
};

// The [execution] table: this instance's part of a plan run by many (docs/DISTRIBUTED.md).
struct ExecutionConfig {
  std::string segment;  // "I/N", checked at load time; "" = the whole plan
};

// A whole scenario file.
struct RunConfig {
  std::string source;                       // file name used in messages ("<stdin>" for -)
  std::string base_dir;                     // relative paths resolve against this
  std::string script;                       // resolved top-level script path, "" = none
  TargetConfig target;                      // [target]
  std::vector<ScenarioConfig> scenarios;    // in file order
  std::vector<ThresholdConfig> thresholds;  // in file order
  std::vector<SubmetricConfig> submetrics;  // every [thresholds] key, in file order
  MetricsConfig metrics;                    // [metrics]
  std::vector<OutputConfig> outputs;        // [[outputs]]: stores the results are pushed to
  ExecutionConfig execution;                // [execution]
  ObserveConfig observe;                    // [observe]: the server's side from Prometheus
};

// Parses and validates. vars: -e values (they win over the process environment, which is read
// with getenv). On any problem returns false with error = "file:line:col: message" (one
// message; the first problem), and nothing else happens.
bool load_run_config(std::string_view toml_text, const std::string& source,
                     const std::string& base_dir, const std::map<std::string, std::string>& vars,
                     RunConfig& out, std::string& error);

// Reads path ("-" = stdin) and calls load_run_config with its directory as base_dir.
bool load_run_config_file(const std::string& path, const std::map<std::string, std::string>& vars,
                          RunConfig& out, std::string& error);

// ${VAR} / ${VAR:-default} expansion used above (exposed for tests): error_pos = offset in text.
bool expand_vars(std::string_view text, const std::map<std::string, std::string>& vars,
                 std::string& out, std::string& error, size_t& error_pos);

}  // namespace pelt
