// `pelt report SUMMARY.json -o FILE.html [--junit FILE.xml]`: the HTML report and the JUnit XML
// built from a saved summary document (pelt.summary/v1 or v2).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pelt {

// True when the command line asks for `pelt report ...`.
bool is_report_command(const std::vector<std::string>& args);

// Runs `pelt report` with argv as main() gets it. Returns the exit code: 0, 2 for a bad command
// line or input document, 1 when an output file cannot be written. Messages go to stderr.
int run_report_command(const std::vector<std::string>& args);

// Reads and checks a summary document. `label` names it in messages ("out/run.json"). Returns
// false with `error` set ("out/run.json:3:14: not JSON: ...", "... schema \"x\" is not ...").
bool load_summary_document(const std::string& text, const std::string& label, nlohmann::json& out,
                           std::string& error);

std::string report_usage_text();

}  // namespace pelt
