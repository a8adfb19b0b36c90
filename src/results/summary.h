// End-of-run output: wrk's summary layout (quick mode), a k6-style summary with thresholds and
// a per-stage table (pelt run), and the versioned JSON document (--json, --summary-json).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/runner.h"

namespace pelt {

// The version of the JSON document; bump the suffix on incompatible changes.
inline constexpr const char* kSummarySchema = "pelt.summary/v1";

// wrk's lines, byte for byte where wrk prints them, then pelt's additions.
void print_wrk_summary(std::FILE* out, const RunResult& result);
// Thresholds, totals, per-name lines, per-stage tables and the breaking point.
void print_run_summary(std::FILE* out, const RunResult& result);
// The whole result as JSON (schema in docs/OUTPUT.md).
nlohmann::json build_summary_json(const RunResult& result);
bool write_summary_json(const std::string& path, const RunResult& result, std::string& error);

// The first stage at which a latency or error-rate threshold no longer held.
struct BreakingPoint {
  bool found = false;        // some stage crossed a threshold
  size_t scenario = 0;       // scenario index
  size_t stage = 0;          // stage index
  std::string description;   // e.g. "p(95)=2.31s crossed p(95)<2000"
};
BreakingPoint find_breaking_point(const RunResult& result);

}  // namespace pelt
