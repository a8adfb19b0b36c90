// `pelt merge A.json B.json ... [--summary-json OUT] [--report OUT.html] [--allow-partial]`:
// the summaries of a fleet's instances (pelt run --segment I/N) merged into the fleet's summary,
// its thresholds judged again on the merged figures. Exit codes as pelt run: 0 every threshold
// held, 99 one was crossed, 2 the summaries cannot be merged (or a bad command line), 1 an
// output could not be written. docs/DISTRIBUTED.md.
#pragma once

#include <string>
#include <vector>

namespace pelt {

// True when the command line asks for `pelt merge ...`.
bool is_merge_command(const std::vector<std::string>& args);

// Runs it with argv as main() gets it; returns the exit code. The fleet's summary goes to
// stdout (the layout of pelt run), messages to stderr.
int run_merge_command(const std::vector<std::string>& args);

std::string merge_usage_text();

}  // namespace pelt
