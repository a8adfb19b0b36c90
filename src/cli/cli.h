// Command-line parsing: wrk's quick mode (`pelt [options] URL`) and `pelt run FILE.toml`.
// Both end in a RunOptions: quick mode is a constant-vus or constant-arrival-rate scenario.
#pragma once

#include <string>
#include <vector>

#include "engine/runner.h"

namespace pelt {

enum class CliAction { kRun, kHelp, kVersion, kError };

struct CliResult {
  CliAction action = CliAction::kError;  // what to do
  RunOptions options;                    // for kRun
  std::string message;                   // help text, or the error for kError
};

// argv as main() gets it. Never exits; errors come back as kError with a message.
CliResult parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace pelt
