// The one place that knows every executor kind: the plan each kind follows and the Executor
// class that runs it. Adding an executor touches this file and the executor table of the
// scenario-file loader (config/executors.cc); both switch over every ExecutorKind, and the
// compiler rejects a switch that forgets one.
#pragma once

#include <memory>

#include "config/config.h"
#include "engine/executor.h"
#include "engine/plan.h"

namespace pelt {

// The plan of a scenario: stages, targets and VU bounds for its executor kind.
PlanSpec plan_spec(const ScenarioConfig& scenario);

// The executor that runs `scenario` on one worker (its part given by `segment`).
std::unique_ptr<Executor> make_executor(const ExecutorPlan& plan, VuEnv& env,
                                        ScenarioContext& scenario, Segment segment);

}  // namespace pelt
