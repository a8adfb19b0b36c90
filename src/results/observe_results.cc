#include "results/observe_results.h"

#include <fmt/format.h>

#include "config/config.h"
#include "util/units.h"

namespace pelt {
namespace {

using nlohmann::json;
using Agg = ThresholdExpr::Aggregation;

// The value in the unit thresholds and people read: "%" queries give ratios.
double shown(const ObserveQueryInfo& q, double v) {
  return q.unit == "%" ? v * 100 : v;
}

json figure_json(const ObserveQueryInfo& q, const ObserveFigure& f) {
  json j = {{"status", observe_status_name(f.status)}};
  if (f.status == ObserveFigure::Status::kOk) {
    j["avg"] = f.avg;
    j["min"] = f.min;
    j["max"] = f.max;
    j["samples"] = f.samples;
    j["text"] = observe_cell(q, f);
  }
  if (!f.error.empty()) j["error"] = f.error;
  return j;
}

}  // namespace

const char* observe_status_name(ObserveFigure::Status s) {
  switch (s) {
    case ObserveFigure::Status::kPending:
      return "pending";
    case ObserveFigure::Status::kOk:
      return "ok";
    case ObserveFigure::Status::kNoData:
      return "no data";
    case ObserveFigure::Status::kUnreachable:
      return "unreachable";
    case ObserveFigure::Status::kError:
      return "error";
  }
  return "pending";
}

const std::vector<ObserveFigure>* ObserveResults::stage(size_t scenario, size_t index) const {
  const auto it = stages.find({scenario, index});
  return it == stages.end() ? nullptr : &it->second;
}

bool is_observe_metric(std::string_view metric) {
  return metric.size() > kObservePrefix.size() &&
         metric.substr(0, kObservePrefix.size()) == kObservePrefix;
}

std::string observe_value_text(const ObserveQueryInfo& q, double v) {
  if (q.unit == "%") return fmt::format("{:.0f}%", v * 100);
  if (q.unit == "bytes") return format_binary(v) + "B";
  if (q.unit == "B/s" || q.unit == "bytes/s") return format_binary(v) + "B/s";
  const std::string number = fmt::format("{:.3g}", v);
  return q.unit.empty() ? number : number + " " + q.unit;
}

std::string observe_cell(const ObserveQueryInfo& q, const ObserveFigure& f) {
  switch (f.status) {
    case ObserveFigure::Status::kOk:
      return observe_value_text(q, f.avg) + " (" + observe_value_text(q, f.max) + ")";
    case ObserveFigure::Status::kPending:
      return "\xE2\x80\xA6";
    default:
      return observe_status_name(f.status);
  }
}

std::string observe_stage_text(const ObserveResults& r, size_t scenario, size_t stage) {
  const auto* figures = r.stage(scenario, stage);
  if (!figures) return "";
  std::string out;
  for (size_t i = 0; i < figures->size() && i < r.queries.size(); ++i) {
    const ObserveFigure& f = (*figures)[i];
    const ObserveQueryInfo& q = r.queries[i];
    std::string part = q.label + " ";
    if (f.status == ObserveFigure::Status::kOk) {
      part += "avg " + observe_value_text(q, f.avg) + ", max " + observe_value_text(q, f.max);
    } else if (f.status == ObserveFigure::Status::kPending) {
      continue;
    } else {
      part += observe_status_name(f.status);
    }
    out += (out.empty() ? "server " : "; ") + part;
  }
  return out;
}

json observe_json(const ObserveResults& r) {
  json queries = json::array();
  for (size_t i = 0; i < r.queries.size(); ++i) {
    const ObserveQueryInfo& q = r.queries[i];
    json j = {{"label", q.label}, {"query", q.query}, {"unit", q.unit}};
    j["run"] = i < r.run.size() ? figure_json(q, r.run[i]) : json{{"status", "pending"}};
    queries.push_back(j);
  }
  return {{"prometheus", r.prometheus}, {"queries", queries}};
}

json observe_stage_json(const ObserveResults& r, size_t scenario, size_t stage) {
  json out = json::object();
  const auto* figures = r.stage(scenario, stage);
  for (size_t i = 0; i < r.queries.size(); ++i) {
    out[r.queries[i].label] = figures && i < figures->size()
                                  ? figure_json(r.queries[i], (*figures)[i])
                                  : json{{"status", "pending"}};
  }
  return out;
}

ThresholdResult evaluate_observe_threshold(const ThresholdConfig& threshold,
                                           const ObserveResults* results) {
  ThresholdResult r;
  const std::string label = threshold.metric.substr(kObservePrefix.size());
  const Agg a = threshold.parsed.aggregation;
  const char* agg = a == Agg::kAvg   ? "avg"
                    : a == Agg::kMin ? "min"
                    : a == Agg::kMax ? "max"
                                     : nullptr;
  if (!agg) {
    r.ok = false;
    r.text = threshold.metric + " supports avg, min and max";
    return r;
  }
  r.text = std::string(agg) + ": no data";
  if (!results) return r;
  for (size_t i = 0; i < results->queries.size() && i < results->run.size(); ++i) {
    const ObserveQueryInfo& q = results->queries[i];
    if (q.label != label) continue;
    const ObserveFigure& f = results->run[i];
    if (f.status != ObserveFigure::Status::kOk) {
      r.text = std::string(agg) + ": " + observe_status_name(f.status);
      return r;
    }
    const double v = a == Agg::kAvg ? f.avg : a == Agg::kMin ? f.min : f.max;
    r.has_data = true;
    r.observed = shown(q, v);
    r.text = fmt::format("{}={}", agg, observe_value_text(q, v));
    const double limit = threshold.parsed.value;
    switch (threshold.parsed.op) {
      case ThresholdExpr::Op::kLt:
        r.ok = r.observed < limit;
        break;
      case ThresholdExpr::Op::kLe:
        r.ok = r.observed <= limit;
        break;
      case ThresholdExpr::Op::kGt:
        r.ok = r.observed > limit;
        break;
      case ThresholdExpr::Op::kGe:
        r.ok = r.observed >= limit;
        break;
      case ThresholdExpr::Op::kEq:
        r.ok = r.observed == limit;
        break;
      case ThresholdExpr::Op::kNe:
        r.ok = r.observed != limit;
        break;
    }
    return r;
  }
  return r;
}

}  // namespace pelt
