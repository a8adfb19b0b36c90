#include "engine/done_sink.h"

namespace pelt {
namespace {

class DoneHooksSink : public Sink {
 public:
  explicit DoneHooksSink(std::vector<PreparedScenario>& scenarios) : scenarios_(scenarios) {}

  bool on_final(const RunReport& report, std::string& error) override {
    std::fflush(stdout);  // done() prints after the summary
    DoneSummary ds;
    ds.duration_us = static_cast<uint64_t>(report.elapsed_seconds * 1e6);
    ds.requests = report.stats.ledger.completed;  // wrk's "requests": the completed ones
    ds.bytes = report.stats.bytes_read;
    ds.errors = report.stats.errors;
    bool ok = true;
    for (PreparedScenario& ps : scenarios_) {
      if (!ps.main || !ps.main->has_done()) continue;
      std::string message;
      if (!ps.main->done(ds, report.stats.latency, report.stats.req_per_sec, message)) {
        if (!ok) error += "; ";
        error += "done() failed: " + message;
        ok = false;
      }
    }
    std::fflush(stdout);
    return ok;
  }

 private:
  std::vector<PreparedScenario>& scenarios_;  // main states (owned by the run)
};

}  // namespace

std::unique_ptr<Sink> make_done_hooks_sink(std::vector<PreparedScenario>& scenarios) {
  return std::make_unique<DoneHooksSink>(scenarios);
}

}  // namespace pelt
