// Prometheus remote-write output: the /metrics families as snappy-compressed protobuf.
#include <chrono>

#include "outputs/output.h"
#include "outputs/push_output.h"
#include "outputs/remote_write.h"
#include "util/http_client.h"

namespace pelt {
namespace {

class PrometheusRwOutput : public PushOutput {
 public:
  PrometheusRwOutput(const OutputConfig& config, const OutputRunInfo& run, HttpHeaders headers)
      : PushOutput(config, config.url, pusher_options(config, run),
                   [url = config.url, headers](std::string payload) {
                     HttpRequest r;
                     r.method = "POST";
                     r.url = url;
                     r.headers = headers;
                     r.body = snappy_compress(payload);
                     return r;
                   }),
        labels_(config.tags) {}

  void on_tick(const nlohmann::json&, const std::vector<prometheus::MetricFamily>& families,
               std::chrono::system_clock::time_point now) override {
    push(families, now, false);
  }
  void on_final(const nlohmann::json&, const std::vector<prometheus::MetricFamily>& families,
                std::chrono::system_clock::time_point now) override {
    push(families, now, true);
  }

 private:
  // A series takes one sample per timestamp, later than the last: a tick in the same
  // millisecond as the previous one is skipped; the final figures are never skipped (they go
  // 1 ms after the previous sample if the clock has not moved).
  void push(const std::vector<prometheus::MetricFamily>& families,
            std::chrono::system_clock::time_point now, bool final) {
    int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    if (ms <= last_ms_) {
      if (!final) return;
      ms = last_ms_ + 1;
    }
    const std::vector<RwSeries> series = expand_families(families, labels_);
    if (series.empty()) return;
    last_ms_ = ms;
    pusher_.push(encode_write_request(series, ms), series.size());
  }

  std::map<std::string, std::string> labels_;  // extra labels
  int64_t last_ms_ = INT64_MIN;                // timestamp of the last samples queued, ms
};

}  // namespace

std::unique_ptr<Output> make_prometheus_rw_output(const OutputConfig& config, const OutputRunInfo& run,
                                                  std::string& error) {
  OutputEndpoint ep;
  if (!split_output_url(config.kind, config.url, ep, error)) return nullptr;
  HttpHeaders headers = {{"Content-Encoding", "snappy"},
                         {"Content-Type", "application/x-protobuf"},
                         {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  const auto user = env_value(run, "PELT_RW_USERNAME");
  const auto password = env_value(run, "PELT_RW_PASSWORD");
  const auto bearer = env_value(run, "PELT_RW_BEARER_TOKEN");
  if (user.has_value() != password.has_value()) {
    error = "prometheus-rw: set both PELT_RW_USERNAME and PELT_RW_PASSWORD, or neither";
    return nullptr;
  }
  if (user && bearer) {
    error =
        "prometheus-rw: set either PELT_RW_BEARER_TOKEN or PELT_RW_USERNAME/PELT_RW_PASSWORD, "
        "not both";
    return nullptr;
  }
  if (bearer) headers.push_back({"Authorization", "Bearer " + *bearer});
  if (user) headers.push_back({"Authorization", basic_authorization(*user, *password)});
  return std::make_unique<PrometheusRwOutput>(config, run, std::move(headers));
}

}  // namespace pelt
