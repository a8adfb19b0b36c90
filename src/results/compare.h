// `pelt compare`: summaries of several runs side by side (different hosts, builds or days).
// The first run is the baseline; every figure of the others gets its change against it and a
// mark saying whether the change is beyond the runs' own noise (results/compare_noise.h).
// Figures: the whole run's req/s, p50/p90/p95/p99/max and error rate; the same per stage where
// every run has that stage (same scenario name and stage index); the server's columns
// ([observe]) where present. `--fail-if` rules turn a regression beyond a tolerance into exit
// 99. This file is the pure logic; cli/compare_command.cc reads the files and writes the
// outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pelt {

// One summary to compare.
struct CompareInput {
  std::string file;    // where it came from (for messages)
  std::string label;   // its column's name
  nlohmann::json doc;  // the summary document (pelt.summary/v2)
};

// A figure compare knows: what --fail-if names and which direction is better.
enum class CompareMetric { kRps, kP50, kP90, kP95, kP99, kMax, kErrorRate, kServer };

// "--fail-if p(95) > +10%": the candidate's figure against the baseline's.
struct FailIf {
  std::string text;                            // as given
  CompareMetric metric = CompareMetric::kP95;  // which whole-run figure
  bool greater = true;                         // `>` / `>=` (else `<` / `<=`)
  bool or_equal = false;                       // `>=` / `<=`
  double tolerance = 0;                        // signed: +0.10 for +10%, -5 for -5 ms ...
  enum class Unit { kPercent, kPoints, kMs } unit = Unit::kPercent;  // %, pp (error rate), ms
};

// Parses a rule: METRIC OP [+-]NUMBER UNIT with METRIC one of req/s (rps), p(50) (med), p(90),
// p(95), p(99), max, error_rate (errors), OP one of > >= < <=, UNIT % (relative change), pp
// (error rate only: percentage points) or ms (latencies only: absolute change). False with a
// message naming what is wrong.
bool parse_fail_if(std::string_view text, FailIf& out, std::string& error);

// Whether a change is beyond the noise.
enum class NoiseMark {
  kBaseline,  // the baseline's own cell
  kUnknown,   // no time series (or too short) to tell
  kWithin,    // within the noise
  kBeyond,    // beyond the noise
};

// One run's figure in a row.
struct CompareCell {
  std::optional<double> value;  // the figure (req/s, ms, a ratio for error rates, the query's unit)
  std::optional<double> change;  // relative to the baseline: (value - base) / base
  std::optional<double> diff;    // value - base
  std::optional<double> noise;   // half the 95% interval of the difference
  NoiseMark mark = NoiseMark::kUnknown;
};

struct CompareRow {
  std::string metric;              // "req/s", "p(95)", "error rate", "cpu avg" ...
  std::string unit;                // "req/s", "ms", "ratio", or the query's unit
  int better = 0;                  // +1 higher is better, -1 lower is better, 0 neither
  std::vector<CompareCell> cells;  // one per run, baseline first
};

struct CompareSection {
  std::string title;     // "whole run", "stage 2 of shop (target 300/s)", "server"
  std::string scope;     // "run", "stage", "server"
  std::string scenario;  // stage sections: the scenario
  int stage = -1;        // stage sections: the 0-based index
  std::vector<CompareRow> rows;
};

// A --fail-if rule applied to one candidate.
struct FailIfOutcome {
  std::string rule;                // as given
  size_t run = 0;                  // the candidate's index
  bool fired = false;              // the candidate regressed beyond the tolerance
  std::optional<double> observed;  // the change, in the rule's unit (0.12 for +12%)
  std::string text;                // e.g. "arm: p(95) +41.3% (12.1 ms -> 17.1 ms)"
};

// Who did best and worst on a figure, and whether the gap is beyond the noise.
struct Ranking {
  std::string metric;          // "p(95)", "req/s"
  size_t best = 0, worst = 0;  // run indexes
  double best_value = 0, worst_value = 0;
  NoiseMark mark = NoiseMark::kUnknown;  // worst against best
};

struct Comparison {
  std::vector<std::string> labels, files, targets;  // per run
  std::vector<CompareSection> sections;
  std::vector<FailIfOutcome> fail_if;
  std::vector<Ranking> rankings;  // p(95) and req/s
  bool failed = false;            // some --fail-if rule fired
};

struct CompareOptions {
  std::vector<FailIf> fail_if;  // the gates
  size_t resamples = 2000;      // bootstrap resamples per pair of runs and scope
  uint64_t seed = 20261206;     // bootstrap seed (output is reproducible)
};

// The label of a run when none is given: the target's host[:port].
std::string default_label(const nlohmann::json& doc);

// Compares runs[1..] with runs[0].
Comparison compare_runs(const std::vector<CompareInput>& runs, const CompareOptions& options);

// The text table (what `pelt compare` prints).
void print_comparison(std::FILE* out, const Comparison& c);
// The machine-readable form (`--json`), with each run's per-second req/s and p95 under
// "series" when with_series (the HTML page draws them).
nlohmann::json comparison_json(const Comparison& c, const std::vector<CompareInput>& runs,
                               bool with_series);

// "1,840.2", "12.1 ms", "0.02%": a figure as the table shows it.
std::string format_compare_value(const CompareRow& row, double v);

}  // namespace pelt
