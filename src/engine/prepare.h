// The Lua side of preparing a run: one main state per scenario (setup() and done()), and one
// state per worker and scenario (init(), then request(), response(), delay()), with wrk's
// thread objects between them; the request each worker sends when the script builds none.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/scenario.h"
#include "wire/url.h"

namespace pelt {

// The main state of one scenario and wrk's thread objects (which must outlive done()).
struct PreparedScenario {
  std::unique_ptr<Script> main;                        // setup() and done(); null without a script
  std::vector<std::unique_ptr<ThreadHandle>> handles;  // one per worker
};

struct PreparedRun {
  std::vector<PreparedScenario> scenarios;           // by scenario index
  std::vector<std::vector<ScenarioSetup>> workers;   // by worker, then scenario index
};

// Prepares every scenario for `threads` workers. On failure returns false with a message and
// the exit code to use (2: bad script or input; 1: the target refuses every connection).
bool prepare_scripts(const RunConfig& config, const Url& url, int threads,
                     const std::vector<std::string>& script_args,
                     const std::map<std::string, std::string>& env_overrides, PreparedRun& out,
                     std::string& error, int& exit_code);

}  // namespace pelt
