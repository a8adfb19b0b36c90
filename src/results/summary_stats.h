// The exact figures inside a summary document, for `pelt merge`: the whole WorkerStats (ledger,
// counters, every histogram in the exact "h1" form, per scenario, per stage and per request
// name) and the fleet section (instance, segments, the plan's identity). Writing then reading
// gives back equal statistics, so summaries of a fleet's instances merge exactly.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "results/fleet_info.h"
#include "results/stats.h"

namespace pelt {

// The summary's "stats" object.
nlohmann::json stats_to_json(const WorkerStats& stats);
// Reads it back. False with a message naming the field otherwise.
bool stats_from_json(const nlohmann::json& j, WorkerStats& out, std::string& error);

// The summary's "fleet" object; start and end are the run's wall-clock bounds (Unix ms).
nlohmann::json fleet_to_json(const FleetInfo& fleet, int64_t start_unix_ms, int64_t end_unix_ms);
bool fleet_from_json(const nlohmann::json& j, FleetInfo& out, int64_t& start_unix_ms,
                     int64_t& end_unix_ms, std::string& error);

}  // namespace pelt
