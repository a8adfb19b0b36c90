// Live Prometheus metrics: an HTTP endpoint (prometheus-cpp's Exposer) serving
// GET /metrics from a snapshot of the merged worker statistics. The main thread
// replaces the snapshot about once a second; scrapes only read it, so nothing
// on the request path is touched.
#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "results/sink.h"
#include "results/stats.h"

namespace pelt {

class Redactor;

// How the metrics endpoint is set up and which run it describes.
// listen forms: "9464" and ":9464" (both 127.0.0.1:9464), "127.0.0.1:9464", "0.0.0.0:9464",
// "[::1]:9464"; port 0 picks any free port.
struct MetricsOptions {
  std::string listen;                       // endpoint address (forms above)
  std::vector<double> buckets;              // duration bucket bounds, s; empty = 1 ms .. 60 s
  std::string version;                      // pelt version
  std::string run_id;                       // unique per run (time + pid), or --run-id
  std::string instance;                     // the instance label (--instance); "" = none
  std::string target;                       // target URL, any user:password already stripped
  std::vector<std::string> scenario_names;  // scenario name by index in WorkerStats::scenarios
  std::vector<bool> arrival_rate;           // by scenario index: target is a rate (iterations/s)
  // By scenario index: the scenario's tags, added as labels to every series of that scenario.
  std::vector<std::map<std::string, std::string>> scenario_tags;
  size_t max_label_values = 100;            // per label; later values fold into "other"
  const Redactor* redactor = nullptr;       // the run's redaction policy, applied to labels
};

// One threshold and whether it currently holds.
struct ThresholdState {
  std::string name;  // e.g. "http_req_duration{name:issue} p(99)<500"
  bool ok = true;    // currently passing
};

class MetricsServer {
 public:
  // Starts serving GET /metrics. Returns nullptr and sets `error` (e.g. "cannot
  // listen on 127.0.0.1:9464: address in use") on failure.
  static std::unique_ptr<MetricsServer> start(const MetricsOptions& options, std::string& error);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::string address() const;  // actual "host:port" (after port 0 resolution)

  // Main thread, about once a second and once at the end: replaces the snapshot
  // that scrapes read.
  void update(const WorkerStats& merged, const std::vector<ThresholdState>& thresholds);

  // After the final update(): blocks until `scrapes` scrapes have happened after
  // this call, `linger` has passed, or `stopped()` turned true; returns the scrapes seen.
  int linger(std::chrono::milliseconds linger, int scrapes, const std::function<bool()>& stopped);

  uint64_t scrape_count() const;  // scrapes served since start

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Builds the exposition families snapshot after snapshot, keeping the label folding (which
// values were admitted, which fold into "other") from one to the next, as the endpoint does.
class FamilyMaker {
 public:
  explicit FamilyMaker(MetricsOptions options);
  ~FamilyMaker();
  std::vector<prometheus::MetricFamily> make(const WorkerStats& merged,
                                             const std::vector<ThresholdState>& thresholds);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The exposition families built from one snapshot (used by the endpoint and by tests).
std::vector<prometheus::MetricFamily> build_families(const MetricsOptions& options,
                                                     const WorkerStats& merged,
                                                     const std::vector<ThresholdState>& thresholds);

// The endpoint as an output: updated once a second and at the end, then serving the final
// figures for up to `linger` (until scraped twice, or Ctrl-C), saying so on the console.
std::unique_ptr<Sink> make_metrics_sink(std::unique_ptr<MetricsServer> server,
                                        std::chrono::milliseconds linger, Console& console);

// Parses a --metrics address into host and port ("9464" -> 127.0.0.1, 9464).
// Returns false with `error` set when it is malformed.
bool parse_listen_address(const std::string& listen, std::string& host, uint16_t& port,
                          std::string& error);

}  // namespace pelt
