// The metric catalogue: every metric a user can name (in thresholds, the text summary, the
// JSON document) with its type, unit, the tags it can be filtered by, and how to read it from
// the merged statistics. Thresholds, the summaries, the JSON and the Prometheus endpoint all
// read figures through here, so a figure has one meaning everywhere (docs/OUTPUT.md lists it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "results/histogram.h"
#include "results/stats.h"

namespace pelt {

struct ObserveResults;  // results/observe_results.h

// k6's four metric types.
enum class MetricType {
  kTrend,    // a distribution of durations (avg, min, max, med, p(N))
  kRate,     // a share of events (rate)
  kCounter,  // a count (count, and rate per second)
  kGauge,    // a current value (value, min, max)
};

// Tag filters a metric may carry (bit set).
enum TagBit : unsigned {
  kTagScenario = 1,   // scenario name, or a scenario's own tag
  kTagName = 2,       // request name
  kTagMethod = 4,     // request method
  kTagStatus = 8,     // response status code
  kTagStage = 16,     // 0-based stage index
  kTagCheck = 32,     // check name
  kTagExpected = 64,  // expected_response: true for a response below 400 (k6's default rule)
};

struct MetricDef {
  std::string_view name;         // as written in thresholds and the JSON document
  MetricType type;               // which aggregations it supports
  unsigned tags;                 // TagBit set of the filters it supports
  std::string_view unit;         // "ms" (trends, shown in ms), "requests", "bytes", "vus", ...
  std::string_view description;  // one line for docs and help
  std::string_view part_name;    // rates: what the rate counts ("fails", "passes")
  std::string_view other_name;   // rates: the complement ("passes", "fails")
  bool custom = false;           // a script's own metric (pelt.counter, pelt.trend, ...)
  bool is_time = false;          // custom trends: the values are durations in milliseconds
};

// Every metric, in the order summaries list them.
const std::vector<MetricDef>& metric_catalogue();
const MetricDef* find_metric(std::string_view name);
// A custom metric as the catalogue describes it (its name points into `info`): counters,
// gauges, rates and trends as k6's, filtered by scenario and by their own tags.
MetricDef custom_metric_def(const CustomMetricInfo& info);
// A built-in tag's bit; 0 for the scenarios' own tags (from their `tags` tables).
unsigned tag_bit(std::string_view tag);

// What the readers look at.
struct MetricSource {
  const WorkerStats* stats = nullptr;                        // merged totals
  const std::vector<std::string>* scenario_names = nullptr;  // names of stats->scenarios by index
  // Tags of stats->scenarios by index: a filter on any other tag than the built-in ones
  // (scenario, name, method, status, stage, check, expected_response) selects the scenarios
  // carrying it, and the requests carrying it (a request's own tags win over its scenario's).
  const std::vector<std::map<std::string, std::string>>* scenario_tags = nullptr;
  double elapsed_seconds = 0;  // run time so far, seconds (counter rates)
  const ObserveResults* observe = nullptr;  // [observe]: what Prometheus said (observe.LABEL)
  const std::vector<CustomMetricInfo>* custom = nullptr;  // the scripts' own metrics
};

// A built-in metric, or one of source.custom; nullopt for neither.
std::optional<MetricDef> find_metric(std::string_view name, const MetricSource& source);

// The part of the statistics a set of tag filters selects.
struct Selection {
  const WorkerStats* stats = nullptr;           // merged totals
  // The scenarios in scope of scenario figures (iterations, VUs, stages): by name and by the
  // scenarios' own tags.
  std::vector<const ScenarioStats*> scenarios;
  // The scenarios whose requests are in scope (by name only), with their own tags: a request
  // matches the tag filters through its own tags, then its scenario's.
  std::vector<std::pair<const ScenarioStats*, const std::map<std::string, std::string>*>>
      request_scenarios;
  std::vector<std::pair<std::string, std::string>> tag_filters;  // the other tags: key, value
  const std::string* name = nullptr;            // name filter, or none
  const std::string* method = nullptr;          // method filter, or none
  std::optional<int> status;                    // status filter, or none
  std::optional<size_t> stage;                  // stage filter, or none
  const std::string* check = nullptr;           // check filter, or none
  std::optional<bool> expected;                 // expected_response filter, or none
  bool scenario_filter = false;                 // a scenario or other tag filter was given

  bool by_name() const { return name || method || scenario_filter; }
};

// The sub-metric kept per request name that a trend over `sel` reads, if it needs one (a
// status or expected_response filter on http_req_duration; any request filter on the other
// request timings).
std::optional<RequestSplit> split_for(const MetricDef& metric, const Selection& sel);
// The sub-metrics the [thresholds] keys (metric and tag filters) need kept per request name,
// each once.
std::vector<RequestSplit> request_splits(
    const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& keys);

// Selects what `tags` (already validated with check_tags) pick. False when they pick nothing
// that exists (a scenario name or tag value no scenario has).
bool select(const std::map<std::string, std::string>& tags, const MetricSource& source,
            Selection& out);

// Readers, by metric type. Trends in microseconds.
Histogram read_trend(const MetricDef& metric, const Selection& sel);
struct RateParts {
  uint64_t part = 0;   // events counted by the rate (fails, passes)
  uint64_t total = 0;  // all events
};
RateParts read_rate(const MetricDef& metric, const Selection& sel);
uint64_t read_counter(const MetricDef& metric, const Selection& sel);
uint64_t read_gauge(const MetricDef& metric, const Selection& sel);
// A custom metric's figures merged over the selection (its scenarios; tag filters match the
// values' own tags, then their scenario's).
CustomFigures read_custom(const MetricDef& metric, const Selection& sel);

// Why `tags` select nothing, naming each filter whose value no sample carries and the values
// seen, e.g. "no request is named \"chekout\" (names: checkout, home)". Empty when every filter
// value occurs somewhere (the filters may still select nothing together). A status nobody
// answered with is named only when `with_status` (a count of 0 by status is often the point).
std::string unmatched_filters(const std::map<std::string, std::string>& tags,
                              const MetricSource& source, bool with_status);

// Checks that `tags` suit `metric`: each tag supported, stage and status well formed, stage
// combined with scenario only. False with a message otherwise.
bool check_tags(const MetricDef& metric, const std::map<std::string, std::string>& tags,
                std::string& error);

// The whole run's figures every output shows, read through the catalogue.
struct Totals {
  uint64_t http_reqs = 0;        // requests that ended: completed + failed + timed out
  uint64_t http_failed = 0;      // of those: status >= 400, broken or timed out
  uint64_t iterations = 0;       // iterations finished
  uint64_t dropped = 0;          // dropped iterations
  uint64_t interrupted = 0;      // interrupted iterations
  uint64_t vus_max = 0;          // VUs allocated
  uint64_t check_passes = 0;     // checks that held
  uint64_t check_total = 0;      // checks made
};
Totals read_totals(const WorkerStats& stats);

}  // namespace pelt
