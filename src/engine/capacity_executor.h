// The executor of capacity-search: an OpenLoopExecutor whose arrival times come from the
// plan's live RateSchedule instead of fixed stages. The main thread's CapacityController
// writes the schedule; this executor takes a fresh copy when its version changed (one atomic
// load per control tick), then re-reads the due time of its next arrival. The plan's length
// only caps the search; the schedule's end stops it.
#pragma once

#include "engine/executor.h"
#include "engine/rate_schedule.h"

namespace pelt {

class CapacitySearchExecutor : public OpenLoopExecutor {
 public:
  CapacitySearchExecutor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan,
                         Segment segment);

 protected:
  void control(uint64_t now_ns, std::chrono::microseconds t) override;
  uint64_t plan_end_ns() const override;
  std::optional<uint64_t> arrival_due_ns(uint64_t n) const override;
  double target_rate(std::chrono::microseconds t) const override;

 private:
  RateSchedule& schedule_;  // the plan's live schedule
  RateScheduleView view_;   // this worker's copy
};

}  // namespace pelt
