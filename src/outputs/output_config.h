// Where results are pushed while a run goes: the --out / --out-label command-line values and
// the [[outputs]] tables of a scenario file, parsed into OutputConfig (docs/OUTPUTS.md).
//
//   --out influxdb=http://127.0.0.1:8086/pelt          InfluxDB 1.x, database "pelt"
//   --out influxdb2=http://127.0.0.1:8086?org=o&bucket=b   InfluxDB 2.x (token from
//   PELT_INFLUXDB_TOKEN)
//   --out prometheus-rw=http://127.0.0.1:9090/api/v1/write  Prometheus remote write
//   --out-label env=ci                                 an extra tag / label on every point
//
//   [[outputs]]
//   type = "influxdb"
//   url = "http://127.0.0.1:8086/pelt"
//   tags = { env = "ci" }        # or labels = {...}
//   flush_interval = "5s"
//
// Secrets never come from these values: a URL carrying user:password@ or a token-like query
// parameter is refused; credentials are read from the environment when the output starts.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pelt {

enum class OutputKind {
  kInfluxDb,      // InfluxDB 1.x: POST /write?db=...
  kInfluxDb2,     // InfluxDB 2.x: POST /api/v2/write?org=...&bucket=...
  kPrometheusRw,  // Prometheus remote write 1.0
};

// One output as configured.
struct OutputConfig {
  OutputKind kind = OutputKind::kInfluxDb;         // which store
  std::string url;                                 // as written (checked, credential-free)
  std::map<std::string, std::string> tags;         // extra tags (InfluxDB) / labels (remote write)
  std::chrono::milliseconds flush_interval{1000};  // how often queued points are sent, ms
  std::string origin;                              // where it was configured: "--out" or
                                                   // "pelt.toml:12:1", for messages
};

// A checked output URL taken apart.
struct OutputEndpoint {
  std::string origin;                        // "http://127.0.0.1:8086" (scheme://host[:port])
  std::string path;                          // path without query; InfluxDB kinds: no trailing /
  std::map<std::string, std::string> query;  // query parameters, percent-decoded
  std::string database;                      // influxdb: last path segment
  std::string path_prefix;                   // influxdb: path before the database ("" usually)
};

// "influxdb", "influxdb2", "prometheus-rw".
const char* output_kind_name(OutputKind kind);

// The environment variables the kind reads credentials from, for messages and docs.
const char* output_credentials_hint(OutputKind kind);

// Checks `url` for the kind and takes it apart. False with a message when the URL is malformed,
// carries credentials, lacks the InfluxDB database, or has parameters the kind does not know.
bool split_output_url(OutputKind kind, const std::string& url, OutputEndpoint& out,
                      std::string& error);

// Every --out value ("KIND=URL"), in order. On a bad value returns {} with `error` set, e.g.
// `--out "kafka=..."`: unknown output "kafka" (known: influxdb, influxdb2, prometheus-rw).
std::vector<OutputConfig> parse_out_flags(const std::vector<std::string>& values,
                                          std::string& error);

// Every --out-label value ("KEY=VALUE") into `out`. False with `error` set on a bad one.
bool parse_out_labels(const std::vector<std::string>& values,
                      std::map<std::string, std::string>& out, std::string& error);

// Adds labels to every output; a label given here replaces one of the same name.
void add_output_labels(std::vector<OutputConfig>& outputs,
                       const std::map<std::string, std::string>& labels);

// The value of the "outputs" key of a scenario file (an array of tables). `source` names the
// file in messages ("pelt.toml:14:7: outputs[1]: unknown key \"tag\" (known: ...)"). On error
// returns {} with `error` set.
std::vector<OutputConfig> parse_output_tables(const toml::node& outputs, const std::string& source,
                                              std::string& error);

// Checks an extra tag/label name: [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix, not one pelt sets
// itself (run_id, scenario, name, method, status, le, quantile, time).
bool check_label_name(std::string_view name, std::string& error);

}  // namespace pelt
