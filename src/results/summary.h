// End-of-run output: wrk's summary layout (quick mode), a k6-style summary with thresholds and
// a per-stage table (pelt run), and the versioned JSON document (--json, --summary-json).
// Every figure comes from the RunReport and the metric catalogue.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "results/report.h"

namespace pelt {

// The version of the JSON document; bump it when a field changes meaning or goes away.
inline constexpr const char* kSummarySchema = "pelt.summary/v2";

// What a capped request tag of a scenario means (ScenarioStats::capped_tags; "" is the cap on
// tag sets), for the summaries.
std::string capped_tag_note(const std::string& scenario, const std::string& tag);

// wrk's "Running ..." header lines, printed when the run starts.
void print_wrk_header(std::FILE* out, const RunInfo& info);
// wrk's lines, byte for byte where wrk prints them, then pelt's additions.
void print_wrk_summary(std::FILE* out, const RunReport& report);
// Thresholds, totals, per-name lines, per-stage tables and the breaking point.
void print_run_summary(std::FILE* out, const RunReport& report);
// The whole report as JSON (schema in docs/OUTPUT.md).
nlohmann::json build_summary_json(const RunReport& report);
// Writes the JSON document to `path` atomically (a temporary file in the same folder, then
// renamed), so no reader ever sees half a document.
bool write_summary_json(const std::string& path, const RunReport& report, std::string& error);

}  // namespace pelt
