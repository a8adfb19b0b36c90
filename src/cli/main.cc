// pelt: command line to exit code.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/merge_command.h"
#include "cli/compare_command.h"
#include "cli/report_command.h"
#include "engine/runner.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (pelt::is_report_command(args)) return pelt::run_report_command(args);
  if (pelt::is_merge_command(args)) return pelt::run_merge_command(args);
  if (pelt::is_compare_command(args)) return pelt::run_compare_command(args);
  pelt::CliResult cli = pelt::parse_command_line(args);
  switch (cli.action) {
    case pelt::CliAction::kHelp:
    case pelt::CliAction::kVersion:
      std::fputs(cli.message.c_str(), stdout);
      return pelt::kExitOk;
    case pelt::CliAction::kError:
      std::fprintf(stderr, "pelt: %s\n", cli.message.c_str());
      return pelt::kExitUsage;
    case pelt::CliAction::kRun:
      break;
  }
  return pelt::run(cli.options);
}
