// One worker's open second of the time series (results/series.h). The request path touches
// only the slot of the request's name (a dense histogram and a few counters); at the end of the
// second the scenario and run series are made by merging the names' slots, so every request
// counts once in each scope by construction. Owned by the worker thread: no lock.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "results/series.h"

namespace pelt {

// The figures one series gathers during the open second.
struct SeriesSlot {
  SeriesPoint point;        // counters (histograms are filled at the close)
  SecondHistogram latency;  // request durations of the second, us
  SecondHistogram lag;      // send lag of the second, us
  std::vector<std::pair<int, uint64_t>> codes;  // responses by status code (0 = no response)
  bool used = false;        // something was recorded this second

  void count_code(int code, uint64_t n) {
    for (auto& [c, count] : codes) {
      if (c == code) {
        count += n;
        return;
      }
    }
    codes.push_back({code, n});
  }
};

class SeriesRecorder {
 public:
  static constexpr size_t kMaxNameSeries = 20;  // names per scenario with a series of their own

  // The run starts at run_start_ns with `scenarios` scenarios.
  void start(uint64_t run_start_ns, size_t scenarios);
  bool started() const { return started_; }
  // Closes the open second when now_ns is past it.
  void roll(uint64_t now_ns) {
    if (now_ns >= second_end_ns_) close(now_ns);
  }
  // The run ended at now_ns: closes the open second.
  void finish(uint64_t now_ns);
  // Closed seconds not yet taken (the worker publishes them).
  std::vector<ClosedSecond> take_closed() { return std::move(closed_); }

  // Slots. name(): the request name's own slot, or the scenario's "other" past the cap.
  SeriesSlot& name(uint32_t scenario, const std::string& name, const std::string& method);
  SeriesSlot& scenario_extra(uint32_t scenario) { return scenarios_[scenario].extra; }
  SeriesSlot& run_extra() { return run_extra_; }
  // Gauges of a scenario, kept until they change.
  void set_gauges(uint32_t scenario, uint32_t vus, uint32_t vus_max, double target, bool rate);

 private:
  struct NameSlot {
    std::string name;    // request name ("other" for the fold)
    std::string method;  // its method
    SeriesSlot slot;     // its open second
  };
  struct ScenarioSlots {
    std::vector<std::unique_ptr<NameSlot>> names;  // stable addresses
    SeriesSlot extra;  // what belongs to no request: errors without one, iterations, gauges
    uint32_t vus = 0, vus_max = 0;  // last gauge values
    double target_vus = std::nan(""), target_rate = std::nan("");
  };

  void close(uint64_t now_ns);
  // Moves a slot's second into `out` (resetting it); false when nothing was recorded.
  static bool drain(SeriesSlot& slot, SeriesPoint& out);

  bool started_ = false;
  uint64_t run_start_ns_ = 0;   // run time 0
  uint64_t second_ = 0;         // index of the open second
  uint64_t second_end_ns_ = UINT64_MAX;  // when it ends (never before start())
  std::vector<ScenarioSlots> scenarios_;
  SeriesSlot run_extra_;        // bytes, and anything without a scenario
  std::vector<ClosedSecond> closed_;  // closed seconds waiting to be published
};

}  // namespace pelt
