// The executor table of the scenario-file loader: every executor kind with its name in files,
// the keys only it accepts, the keys it cannot do without (with an example for the message),
// and whether it is open loop (arrival rate). engine/executors.cc holds the engine's side.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace pelt {

struct ExecutorInfo {
  ExecutorKind kind;                    // the enum value
  std::string_view name;                // name in files, e.g. "ramping-vus"
  std::vector<std::string_view> keys;   // executor-specific keys
  // Keys the executor needs, with an example for the message when one is missing.
  std::vector<std::pair<std::string_view, std::string_view>> required;
  bool open_loop;                       // rates are iterations per time_unit (arrival rate)
};

// Every executor, in the order messages list them.
const std::vector<ExecutorInfo>& executor_table();
// The entry of a kind (every kind has one).
const ExecutorInfo& executor_info(ExecutorKind kind);
// The entry named `name`, or null.
const ExecutorInfo* find_executor(std::string_view name);

}  // namespace pelt
