// wrk's done(summary, latency, requests) hook as an output: called in each scenario's main
// Lua state after the summaries are written, as wrk calls it after printing its own.
#pragma once

#include <memory>
#include <vector>

#include "engine/prepare.h"
#include "results/sink.h"

namespace pelt {

// `scenarios` (their main states) must outlive the sink.
std::unique_ptr<Sink> make_done_hooks_sink(std::vector<PreparedScenario>& scenarios);

}  // namespace pelt
