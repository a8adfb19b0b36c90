#include "engine/capacity_executor.h"

#include <algorithm>

namespace pelt {

CapacitySearchExecutor::CapacitySearchExecutor(VuEnv& env, ScenarioContext& scenario,
                                               const ExecutorPlan& plan, Segment segment)
    : OpenLoopExecutor(env, scenario, plan, segment, false), schedule_(*plan.schedule()) {}

void CapacitySearchExecutor::control(uint64_t now_ns, std::chrono::microseconds t) {
  if (schedule_.version() != view_.version) {
    view_ = schedule_.view();
    reschedule();
  }
  OpenLoopExecutor::control(now_ns, t);
}

uint64_t CapacitySearchExecutor::plan_end_ns() const {
  const uint64_t cap = OpenLoopExecutor::plan_end_ns();
  if (view_.end_ns == RateScheduleView::kOpen) return cap;
  return std::min(cap, start_ns_ + view_.end_ns);
}

std::optional<uint64_t> CapacitySearchExecutor::arrival_due_ns(uint64_t n) const {
  const auto due = view_.due_ns(n);
  if (!due) return std::nullopt;
  return start_ns_ + *due;
}

double CapacitySearchExecutor::target_rate(std::chrono::microseconds t) const {
  return view_.rate_at(t.count() <= 0 ? 0 : static_cast<uint64_t>(t.count()) * 1000);
}

}  // namespace pelt
