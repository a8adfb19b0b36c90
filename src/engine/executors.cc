#include "engine/executors.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/capacity_executor.h"
#include "engine/capacity_search.h"

namespace pelt {
namespace {

// Slack for floating point noise when a value should land on a whole number.
constexpr double kEpsilon = 1e-9;

double per_second(double per_unit, std::chrono::microseconds time_unit) {
  const double unit_s = static_cast<double>(time_unit.count()) / 1e6;
  return unit_s > 0 ? per_unit / unit_s : 0;
}

uint32_t ceil_vus(double v) {
  if (!(v > 0)) return 0;
  const double c = std::ceil(v - kEpsilon);
  if (c >= static_cast<double>(std::numeric_limits<uint32_t>::max())) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(c);
}

// One stage of `length` holding `value`.
PlanSpec constant(bool open_loop, double value, std::chrono::microseconds length) {
  PlanSpec spec;
  spec.open_loop = open_loop;
  spec.start = value;
  spec.stages.push_back({length, value});
  return spec;
}

}  // namespace

PlanSpec plan_spec(const ScenarioConfig& c) {
  PlanSpec spec;
  switch (c.executor) {
    case ExecutorKind::kConstantVus:
      spec = constant(false, c.vus, c.duration);
      spec.initial_vus = spec.max_vus = c.vus;
      break;
    case ExecutorKind::kRampingVus: {
      spec.start = c.start_vus;
      spec.stages = c.stages;
      double peak = c.start_vus;
      for (const StageSpec& s : c.stages) peak = std::max(peak, s.target);
      spec.initial_vus = c.start_vus;
      spec.max_vus = std::max(c.start_vus, ceil_vus(peak));
      break;
    }
    case ExecutorKind::kConstantArrivalRate:
      spec = constant(true, per_second(c.rate, c.time_unit), c.duration);
      spec.initial_vus = c.pre_allocated_vus;
      spec.max_vus = std::max(c.max_vus, c.pre_allocated_vus);
      break;
    case ExecutorKind::kRampingArrivalRate:
      spec.open_loop = true;
      spec.start = per_second(c.start_rate, c.time_unit);
      for (const StageSpec& s : c.stages) spec.stages.push_back({s.duration, per_second(s.target, c.time_unit)});
      spec.initial_vus = c.pre_allocated_vus;
      spec.max_vus = std::max(c.max_vus, c.pre_allocated_vus);
      break;
    case ExecutorKind::kPerVuIterations:
    case ExecutorKind::kSharedIterations:
      spec = constant(false, c.vus, c.max_duration);
      spec.initial_vus = spec.max_vus = c.vus;
      break;
    case ExecutorKind::kCapacitySearch:
      // One stage as long as the search can take, up to max_rate; the rates themselves are
      // decided while it runs (engine/capacity_controller.h).
      spec = constant(true, per_second(c.max_rate, c.time_unit), search_time_bound(c));
      spec.initial_vus = c.pre_allocated_vus;
      spec.max_vus = std::max(c.max_vus, c.pre_allocated_vus);
      spec.schedule = std::make_shared<RateSchedule>();
      break;
  }
  return spec;
}

std::unique_ptr<Executor> make_executor(const ExecutorPlan& plan, VuEnv& env,
                                        ScenarioContext& scenario, Segment segment) {
  const ScenarioConfig& c = scenario.config();
  switch (c.executor) {
    case ExecutorKind::kConstantVus:
    case ExecutorKind::kRampingVus:
      return std::make_unique<ClosedLoopExecutor>(env, scenario, plan, segment,
                                                  IterationQuota::kNone, 0);
    case ExecutorKind::kPerVuIterations:
      return std::make_unique<ClosedLoopExecutor>(env, scenario, plan, segment,
                                                  IterationQuota::kPerVu, c.iterations);
    case ExecutorKind::kSharedIterations:
      return std::make_unique<ClosedLoopExecutor>(env, scenario, plan, segment,
                                                  IterationQuota::kShared, c.iterations);
    case ExecutorKind::kConstantArrivalRate:
    case ExecutorKind::kRampingArrivalRate:
      return std::make_unique<OpenLoopExecutor>(env, scenario, plan, segment, c.queue_when_busy);
    case ExecutorKind::kCapacitySearch:
      return std::make_unique<CapacitySearchExecutor>(env, scenario, plan, segment);
  }
  return nullptr;
}

}  // namespace pelt
