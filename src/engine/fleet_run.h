// The runner's fleet steps: what the report says about this instance, and a warning when a
// worker's part of a scenario gets no VU (its arrivals would all be dropped).
#pragma once

#include <string>
#include <vector>

#include "engine/fleet.h"
#include "engine/plan.h"
#include "results/fleet_info.h"
#include "results/sink.h"

namespace pelt {

// The report's FleetInfo for a run with these options and plan identity.
FleetInfo fleet_info(const FleetOptions& fleet, const std::string& plan_sha256);

// Says on the console when one of the `threads` workers of this instance would get no VU of an
// arrival-rate scenario (its share of the arrivals would be dropped), with the fix.
void warn_idle_workers(const std::vector<ExecutorPlan>& plans, const Segment& instance, int threads,
                       Console& console);

}  // namespace pelt
