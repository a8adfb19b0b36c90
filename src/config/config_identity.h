// The identity of a plan: a SHA-256 over what pelt understood from the scenario file (or the
// quick-mode command line) after ${VAR} expansion — target, request defaults, every scenario
// with its executor, stages, VUs, rates, tags and the content of its Lua script, and the
// thresholds. What differs between the instances of one fleet by design ([execution] segment,
// [metrics], [[outputs]]) is left out. `pelt merge` refuses summaries of different plans.
#pragma once

#include <string>

#include "config/config.h"

namespace pelt {

// 64 lowercase hex digits.
std::string plan_identity(const RunConfig& config);

}  // namespace pelt
