// Result outputs: push the run's figures to a metrics store while the run goes
// (docs/OUTPUTS.md). Each output owns a background sender (Pusher), so the calls below only
// encode and queue; none waits for the network except flush().
//
//   std::string error;
//   auto outs = make_outputs(configs, run_info, error);      // at start; error -> exit 2
//   for (auto& o : outs) o->on_tick(tick, families, now);     // once a second
//   for (auto& o : outs) o->on_final(tick, families, now);    // after the last tick
//   for (auto& o : outs) o->flush(deadline);                  // end of run, or SIGTERM
//   for (auto& o : outs) puts(o->stats().summary_line().c_str());
//
// `tick` is the time-series part of the summary with the new buckets (the "timeseries"
// object of schema pelt.summary/v2, or an object holding it under "timeseries"), `families` what
// build_families() returns for /metrics at that moment, `now` the wall-clock time of both.
// InfluxDB outputs read the tick, remote-write outputs the families.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "outputs/output_config.h"
#include "outputs/pusher.h"

namespace pelt {

// What every output needs to know about the run.
struct OutputRunInfo {
  std::string run_id;         // the run's id (the run_id label of /metrics), tagged on points
  int64_t start_unix_ms = 0;  // wall-clock time of run time 0, ms (when a tick does not say)
  std::string version;        // pelt version, sent in User-Agent
  bool tls_verify = true;     // verify the certificates of https outputs
  std::string ca_file;        // extra CA bundle (PEM) for https outputs; "" = system store
  std::chrono::milliseconds connect_timeout{2000};  // per request, ms
  std::chrono::milliseconds request_timeout{5000};  // per request after connecting, ms
  // Reads an environment variable (credentials); null = the process environment.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Receives the senders' warnings ("influxdb: connect ...: ECONNREFUSED; retrying"), from
  // their threads; null = "pelt: <text>" on stderr.
  std::function<void(const std::string&)> warn;
};

// Figures for the summary.
struct OutputStats {
  std::string kind;  // "influxdb", "influxdb2", "prometheus-rw"
  std::string url;   // where the points go
  PushStats push;    // sent, dropped by cause, last error

  // "influxdb: 300 points sent, 0 dropped", with the causes and the last error when any
  // point was dropped.
  std::string summary_line() const;
  // {"type", "url", "points_sent", "requests", "retries", "dropped": {"total", "queue_full",
  //  "retries", "rejected", "unsent"}, "last_error"}
  nlohmann::json to_json() const;
};

class Output {
 public:
  virtual ~Output() = default;

  // Once a second (main thread): encodes and queues the new data.
  virtual void on_tick(const nlohmann::json& tick,
                       const std::vector<prometheus::MetricFamily>& families,
                       std::chrono::system_clock::time_point now) = 0;
  // Once after the last tick, with the final buckets and the final families.
  virtual void on_final(const nlohmann::json& tick,
                        const std::vector<prometheus::MetricFamily>& families,
                        std::chrono::system_clock::time_point now) = 0;
  // Sends what is queued and stops the sender by `deadline` (default wait 2 s). True when
  // every point was delivered. Calls after the first return at once.
  virtual bool flush(std::chrono::steady_clock::time_point deadline) = 0;
  bool flush(std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    return flush(std::chrono::steady_clock::now() + wait);
  }

  virtual OutputStats stats() const = 0;
};

// One output per config, in order. Reads credentials from the environment (OutputRunInfo::getenv).
// On a problem (missing org/bucket/token, half of a user/password pair, both basic and bearer
// credentials) returns {} with `error` set, naming where the output was configured.
std::vector<std::unique_ptr<Output>> make_outputs(const std::vector<OutputConfig>& configs,
                                                  const OutputRunInfo& run, std::string& error);

// The two families of outputs (make_outputs picks by kind).
std::unique_ptr<Output> make_influxdb_output(const OutputConfig& config, const OutputRunInfo& run,
                                             std::string& error);
std::unique_ptr<Output> make_prometheus_rw_output(const OutputConfig& config, const OutputRunInfo& run,
                                                  std::string& error);

}  // namespace pelt
