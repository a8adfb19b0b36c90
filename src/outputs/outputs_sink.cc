#include "outputs/outputs_sink.h"

#include "outputs/output.h"
#include "results/series_json.h"

namespace pelt {
namespace {

constexpr auto kFlushDeadline = std::chrono::seconds(2);

class OutputsSink : public Sink {
 public:
  OutputsSink(std::vector<std::unique_ptr<Output>> outputs, const MetricsOptions& metrics)
      : outputs_(std::move(outputs)), families_(metrics) {}

  void on_tick(const RunReport& live) override {
    if (!live.timeseries) return;
    const nlohmann::json tick = new_buckets(live);
    const auto families = families_.make(live.stats, states(live));
    const auto now = std::chrono::system_clock::now();
    for (auto& o : outputs_) o->on_tick(tick, families, now);
  }

  void before_final(RunReport& report) override {
    const nlohmann::json tick = report.timeseries ? new_buckets(report) : nlohmann::json::object();
    const auto families = families_.make(report.stats, states(report));
    const auto now = std::chrono::system_clock::now();
    for (auto& o : outputs_) o->on_final(tick, families, now);
    const auto deadline = std::chrono::steady_clock::now() + kFlushDeadline;
    for (auto& o : outputs_) o->flush(deadline);
    for (auto& o : outputs_) {
      const OutputStats st = o->stats();
      report.outputs.push_back({st.summary_line(), st.to_json()});
    }
  }

 private:
  static std::vector<ThresholdState> states(const RunReport& r) {
    std::vector<ThresholdState> out;
    for (const ThresholdOutcome& o : r.thresholds) {
      out.push_back({o.config->key + " " + o.config->expression, o.result.ok});
    }
    return out;
  }

  // The buckets from the last one sent on: it may have grown since (late seconds of other
  // workers), and the store replaces a point written again at the same time.
  nlohmann::json new_buckets(const RunReport& r) {
    const auto& buckets = r.timeseries->buckets();
    size_t from = buckets.size();
    while (from > 0 && buckets[from - 1].start_s >= last_start_s_) --from;
    if (!buckets.empty()) last_start_s_ = buckets.back().start_s;
    return timeseries_json(*r.timeseries, r.info, from);
  }

  std::vector<std::unique_ptr<Output>> outputs_;  // one per --out / [[outputs]]
  FamilyMaker families_;                          // the /metrics families, folding kept
  uint64_t last_start_s_ = 0;                     // start of the newest bucket sent
};

}  // namespace

std::unique_ptr<Sink> make_outputs_sink(const std::vector<OutputConfig>& configs,
                                        const MetricsOptions& metrics, bool tls_verify,
                                        const std::string& ca_file, Console& console,
                                        std::string& error) {
  OutputRunInfo run;
  run.run_id = metrics.run_id;
  run.version = metrics.version;
  run.tls_verify = tls_verify;
  run.ca_file = ca_file;
  run.warn = [&console](const std::string& text) { console.notice("pelt: " + text); };
  auto outputs = make_outputs(configs, run, error);
  if (outputs.empty()) return nullptr;
  return std::make_unique<OutputsSink>(std::move(outputs), metrics);
}

}  // namespace pelt
