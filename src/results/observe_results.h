// What Prometheus said about the server's side of a run ([observe], observe/observer.h): for
// each query, its average, minimum and maximum over each stage and over the whole run, or why
// there is none (no data, unreachable, an error with Prometheus's own message). The RunReport
// carries it to the per-stage table, the breaking-point line, the JSON, the HTML report and the
// thresholds on observe.LABEL.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "results/thresholds.h"

namespace pelt {

struct ThresholdConfig;

// One query's figure over one span.
struct ObserveFigure {
  enum class Status {
    kPending,      // not asked yet (the span has not ended, or its data is still arriving)
    kOk,           // avg, min and max hold the values
    kNoData,       // Prometheus answered with no sample
    kUnreachable,  // Prometheus did not answer (the message says how)
    kError,        // Prometheus answered with an error (its message)
  };
  Status status = Status::kPending;
  double avg = 0, min = 0, max = 0;  // over every sample of every series, in the query's own unit
  size_t samples = 0;                // samples the figures come from
  std::string error;                 // kUnreachable / kError: why
};
const char* observe_status_name(ObserveFigure::Status s);  // "pending", "ok", "no data", ...

// A query as run.
struct ObserveQueryInfo {
  std::string label;  // column and threshold name
  std::string query;  // PromQL
  std::string unit;   // "%" (a ratio shown as a percentage), "bytes", "B/s", "cores", ...
};

struct ObserveResults {
  std::string prometheus;                 // the server asked
  std::vector<ObserveQueryInfo> queries;  // in column order
  std::vector<ObserveFigure> run;         // per query, over the whole run
  // Per (scenario index, stage index), per query.
  std::map<std::pair<size_t, size_t>, std::vector<ObserveFigure>> stages;

  const std::vector<ObserveFigure>* stage(size_t scenario, size_t index) const;
};

// "observe.cpu" names a query's figures in [thresholds].
bool is_observe_metric(std::string_view metric);
constexpr std::string_view kObservePrefix = "observe.";

// A value as shown: "42%" for "%", "1.20 GiB" for bytes, "3.40 MiB/s" for B/s, "1.25 cores".
std::string observe_value_text(const ObserveQueryInfo& q, double value);
// A table cell: "42% (97%)" (average, maximum in parentheses), or "no data", "unreachable",
// "error", "…" (pending).
std::string observe_cell(const ObserveQueryInfo& q, const ObserveFigure& f);
// "server cpu avg 97%, max 100%; memory_used avg 1.20 GiB, max 1.31 GiB", for the breaking
// point; "" when nothing is known about the stage.
std::string observe_stage_text(const ObserveResults& r, size_t scenario, size_t stage);

// The summary JSON's `observe` object and a stage's `observe` (label -> figure).
nlohmann::json observe_json(const ObserveResults& r);
nlohmann::json observe_stage_json(const ObserveResults& r, size_t scenario, size_t stage);

// A threshold on observe.LABEL (avg, min or max over the whole run; "%" queries in percent).
ThresholdResult evaluate_observe_threshold(const ThresholdConfig& threshold,
                                           const ObserveResults* results);

}  // namespace pelt
