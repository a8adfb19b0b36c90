// [observe] in a scenario file and --observe-prometheus: the Prometheus server pelt asks about
// the server's side of each stage, and the queries (ready-made ones for node-exporter and
// cAdvisor, and your own, each with a label and a unit). docs/CAPACITY.md describes the table.
//
//   [observe]
//   prometheus = "http://127.0.0.1:9090"
//   defaults = ["node-exporter"]       # cpu, memory_used, load1, net_rx, net_tx
//   instance = "10\\.0\\.0\\.5:9100"     # node-exporter's instance label (regex)
//   cpu = { query = '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[30s]))', unit = "%" }
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace pelt {

// One query: a PromQL expression whose value over a stage pelt averages and maximises.
struct ObserveQuery {
  std::string label;   // column name and threshold name (observe.LABEL): [a-z_][a-z0-9_]*
  std::string query;   // PromQL; ${TARGET_HOST} stands for the target's host
  std::string unit;    // "%" (the query gives a ratio 0..1, shown and judged as a percentage),
                       // "bytes", "B/s", "cores", or any word shown after the value
  std::string origin;  // "file:line:col", or "node-exporter defaults", for messages
};

struct ObserveConfig {
  bool enabled = false;               // [observe] is present
  std::string prometheus;             // the server's base URL, e.g. http://127.0.0.1:9090
  std::vector<std::string> defaults;  // ready-made sets: "node-exporter", "cadvisor"
  bool defaults_set = false;          // `defaults` was written (else: node-exporter when
                                      // there are no queries of one's own)
  std::string instance;               // node-exporter's instance label, a regex ("" = the
                                      // target's host with any port)
  std::string container;              // cAdvisor's container `name` label, a regex ("" = any)
  std::chrono::milliseconds rate_window{30000};  // the range of rate() in the defaults
  std::chrono::milliseconds query_delay{5000};   // wait after a stage before asking (scrapes lag)
  std::chrono::milliseconds timeout{5000};       // each request to Prometheus
  std::vector<ObserveQuery> queries;             // one's own, in file order
  std::string origin;  // "file:line:col" of [observe], or "--observe-prometheus"
};

// The names of the ready-made sets, and their labels.
const std::vector<std::string>& observe_default_sets();
std::vector<std::string> observe_default_labels(const std::string& set);

// Every label the configuration will have (defaults and one's own), for threshold names.
std::vector<std::string> observe_labels(const ObserveConfig& config);

// The queries to run: the ready-made sets' (a query of one's own with the same label replaces
// one), then one's own, with ${TARGET_HOST} replaced by `target_host`.
std::vector<ObserveQuery> resolve_observe_queries(const ObserveConfig& config,
                                                  const std::string& target_host);

// A label is [a-z_][a-z0-9_]*. False with a message otherwise.
bool check_observe_label(const std::string& label, std::string& error);

// A regex matching `host` literally, as a PromQL string body ("127\\.0\\.0\\.1").
std::string promql_regex_literal(const std::string& host);

}  // namespace pelt
