// InfluxDB outputs: line protocol over POST /write (1.x) or /api/v2/write (2.x).
#include <chrono>

#include "outputs/influx_line.h"
#include "outputs/output.h"
#include "outputs/push_output.h"
#include "util/http_client.h"

namespace pelt {
namespace {

class InfluxDbOutput : public PushOutput {
 public:
  InfluxDbOutput(const OutputConfig& config, const OutputRunInfo& run, const std::string& write_url,
                 HttpHeaders headers)
      : PushOutput(config, config.url, pusher_options(config, run),
                   [write_url, headers](std::string payload) {
                     HttpRequest r;
                     r.method = "POST";
                     r.url = write_url;
                     r.headers = headers;
                     r.body = std::move(payload);
                     return r;
                   }) {
    options_.run_id = run.run_id;
    options_.tags = config.tags;
    options_.start_unix_ms = run.start_unix_ms;
  }

  void on_tick(const nlohmann::json& tick, const std::vector<prometheus::MetricFamily>&,
               std::chrono::system_clock::time_point) override {
    encode_and_push(tick);
  }
  void on_final(const nlohmann::json& tick, const std::vector<prometheus::MetricFamily>&,
                std::chrono::system_clock::time_point) override {
    encode_and_push(tick);
  }

 private:
  // Buckets that start before the newest one already written were written complete (or are
  // coarsened copies of them) and are skipped; the newest is written again, replacing the
  // point with the fuller figures.
  void encode_and_push(const nlohmann::json& tick) {
    std::string lines;
    InfluxTickResult result;
    std::string error;
    if (!encode_influx_tick(tick, options_, lines, result, error)) return;
    if (result.last_t >= 0) options_.min_t = result.last_t;
    if (result.points > 0) pusher_.push(std::move(lines), result.points);
  }

  InfluxTickOptions options_;  // run id, tags, and the first bucket still to write
};

}  // namespace

std::unique_ptr<Output> make_influxdb_output(const OutputConfig& config, const OutputRunInfo& run,
                                             std::string& error) {
  OutputEndpoint ep;
  if (!split_output_url(config.kind, config.url, ep, error)) return nullptr;
  HttpHeaders headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  std::string write_url;
  if (config.kind == OutputKind::kInfluxDb) {
    write_url = ep.origin + ep.path_prefix + "/write?db=" + url_query_escape(ep.database);
    if (auto rp = ep.query.find("rp"); rp != ep.query.end() && !rp->second.empty()) {
      write_url += "&rp=" + url_query_escape(rp->second);
    }
    write_url += "&precision=ms";
    const auto user = env_value(run, "PELT_INFLUXDB_USERNAME");
    const auto password = env_value(run, "PELT_INFLUXDB_PASSWORD");
    if (user.has_value() != password.has_value()) {
      error = "influxdb: set both PELT_INFLUXDB_USERNAME and PELT_INFLUXDB_PASSWORD, or neither";
      return nullptr;
    }
    if (user) headers.push_back({"Authorization", basic_authorization(*user, *password)});
  } else {
    auto pick = [&](const char* key, const char* env) -> std::string {
      if (auto it = ep.query.find(key); it != ep.query.end() && !it->second.empty()) {
        return it->second;
      }
      return env_value(run, env).value_or("");
    };
    const std::string org = pick("org", "PELT_INFLUXDB_ORG");
    const std::string bucket = pick("bucket", "PELT_INFLUXDB_BUCKET");
    const auto token = env_value(run, "PELT_INFLUXDB_TOKEN");
    if (org.empty() || bucket.empty()) {
      error = std::string("influxdb2 needs ") + (org.empty() ? "an org" : "a bucket") +
              ": add ?org=NAME&bucket=NAME to the URL, or set PELT_INFLUXDB_ORG and "
              "PELT_INFLUXDB_BUCKET";
      return nullptr;
    }
    if (!token) {
      error = "influxdb2 needs a token: set PELT_INFLUXDB_TOKEN (never on the command line)";
      return nullptr;
    }
    write_url = ep.origin + ep.path + "/api/v2/write?org=" + url_query_escape(org) +
                "&bucket=" + url_query_escape(bucket) + "&precision=ms";
    headers.push_back({"Authorization", "Token " + *token});
  }
  return std::make_unique<InfluxDbOutput>(config, run, write_url, std::move(headers));
}

}  // namespace pelt
