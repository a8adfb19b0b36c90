// `pelt compare A.json B.json [C.json ...]`: summaries side by side, the first as the baseline
// (results/compare.h), with --label, --fail-if (exit 99 on a regression), --json and --html.
#pragma once

#include <string>
#include <vector>

namespace pelt {

// True when the command line asks for `pelt compare ...`.
bool is_compare_command(const std::vector<std::string>& args);

// Runs `pelt compare` with argv as main() gets it. Returns the exit code: 0, 99 when a
// --fail-if rule fired, 2 for a bad command line or input document, 1 when the HTML page
// cannot be written. Messages go to stderr.
int run_compare_command(const std::vector<std::string>& args);

std::string compare_usage_text();

}  // namespace pelt
