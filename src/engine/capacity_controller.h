// Runs a capacity-search scenario from the main thread: starts each probe by setting the rate
// of the scenario's RateSchedule (the workers follow it), judges the probe once every worker
// has closed the last second of its window (results/capacity.h: the thresholds on that window
// of the time series, and the generator's own limits), asks the CapacitySearch for the next
// rate, and ends the schedule when the answer is known.
//
// Probes begin on whole seconds of run time, so each judged window is a whole number of the
// time series' buckets. A probe keeps its rate until its verdict is in (a fraction of a second
// after its window); one that can no longer pass (results/capacity.h: certain_failure) is
// judged on its window so far and ends at once. After a failing probe the rate drops to 0 until the
// requests still in flight have drained (at most two probe lengths), so the next probe does not
// start behind a queue the overload left on the server.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/capacity_search.h"
#include "engine/plan.h"
#include "engine/rate_schedule.h"
#include "results/capacity.h"
#include "results/report.h"
#include "results/series.h"

namespace pelt {

class CapacityController {
 public:
  struct Options {
    ScenarioConfig scenario;                                        // the capacity-search scenario
    size_t scenario_index = 0;                                      // its index in the run
    size_t scenario_count = 1;                                      // scenarios in the run
    std::vector<ThresholdConfig> thresholds;                        // the objectives
    std::vector<std::string> scenario_names;                        // by index
    std::vector<std::map<std::string, std::string>> scenario_tags;  // by index
    uint32_t max_vus = 0;                                           // VUs the scenario may open
    RateSchedule* schedule = nullptr;  // what the workers follow (owned by the plan)
  };

  explicit CapacityController(Options options);

  // Before the workers start: the first probe, from the scenario's first whole run second.
  void begin();
  // Main thread, several times a second. elapsed_s: run time now; complete_s: every run second
  // before it has been closed by every worker and is in `series`; waiting: requests in flight
  // now (all workers). Returns what to tell the user (a probe's verdict, the answer).
  std::vector<std::string> poll(double elapsed_s, const TimeSeries& series, uint64_t complete_s,
                                uint64_t waiting);
  bool done() const { return phase_ == Phase::kDone; }
  // The answer so far (complete once done()).
  CapacityResult result() const;
  // Puts the answer into a report: its `capacity`, its thresholds as judged on the probe at the
  // maximum sustainable rate (or the first probe when even that failed: they pass when some
  // rate was sustainable), no stage-by-stage breaking point, and the scenario's one stage
  // showing the highest rate probed for as long as the search ran.
  void report(RunReport& report) const;

  // Seconds before its start that a rate change is announced (workers look every 10 ms).
  static constexpr double kLeadSeconds = 0.2;

 private:
  enum class Phase { kWaiting, kProbing, kRecovering, kDone };

  void start_probe(double elapsed_s);  // the next probe from the next whole second
  void set_rate_at(double run_s, double rate);
  uint64_t scenario_ns(double run_s) const;  // run time -> ns since the scenario start
  std::string probe_line(const ProbeResult& p) const;

  Options o_;
  CapacitySearch search_;
  double start_time_s_ = 0;           // the scenario's start_time, seconds
  double settle_s_ = 0, hold_s_ = 0;  // whole seconds
  Phase phase_ = Phase::kWaiting;
  uint64_t probe_start_s_ = 0;       // run second the current probe began
  uint64_t checked_through_s_ = 0;   // the partial window last checked for a certain failure
  double recover_since_s_ = 0;       // run time the recovery began
  std::vector<ProbeResult> probes_;  // judged so far
};

// The controller of a run's capacity-search scenario (plans by scenario index; a plan with a
// schedule is one), its first probe set; null when the run has none.
std::unique_ptr<CapacityController> start_capacity_controller(
    const RunConfig& config, const std::vector<ExecutorPlan>& plans, const RunInfo& info);

}  // namespace pelt
