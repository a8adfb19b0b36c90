#include "results/report.h"

#include <algorithm>

namespace pelt {

std::vector<std::string> RunInfo::scenario_names() const {
  std::vector<std::string> out;
  for (const ScenarioInfo& s : scenarios) out.push_back(s.name);
  return out;
}

std::vector<std::map<std::string, std::string>> RunInfo::scenario_tags() const {
  std::vector<std::map<std::string, std::string>> out;
  for (const ScenarioInfo& s : scenarios) out.push_back(s.tags);
  return out;
}

void RunReport::index_scenarios() {
  scenario_names = info.scenario_names();
  scenario_tags = info.scenario_tags();
}

MetricSource RunReport::source() const {
  MetricSource s;
  s.stats = &stats;
  s.scenario_names = &scenario_names;
  s.scenario_tags = &scenario_tags;
  s.elapsed_seconds = elapsed_seconds;
  s.observe = observe ? &*observe : nullptr;
  s.custom = &info.custom_metrics;
  return s;
}

double RunReport::stage_seconds(size_t scenario, size_t stage) const {
  const ScenarioInfo& sc = info.scenarios[scenario];
  const StageInfo& st = sc.stages[stage];
  const double start = static_cast<double>((sc.start_time + st.start).count()) / 1e6;
  const double len = static_cast<double>(st.length.count()) / 1e6;
  const double ran = elapsed_seconds - start;
  return ran < len ? std::max(0.0, ran) : len;
}

namespace {

const char* kind_text(const CustomMetricInfo& m) {
  switch (m.kind) {
    case CustomKind::kCounter:
      return "counter";
    case CustomKind::kGauge:
      return "gauge";
    case CustomKind::kRate:
      return "rate";
    case CustomKind::kTrend:
      return m.is_time ? "time trend" : "trend";
  }
  return "metric";
}

// "did you mean" for a metric name: a built-in or custom one within two edits.
std::string closest_metric(const std::string& name, const RunInfo& info) {
  auto distance = [](const std::string& a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    return row[b.size()];
  };
  std::vector<std::string_view> names;
  for (const MetricDef& m : metric_catalogue()) names.push_back(m.name);
  for (const CustomMetricInfo& m : info.custom_metrics) names.push_back(m.name);
  for (std::string_view n : names) {
    if (distance(name, n) <= 2) return " (did you mean \"" + std::string(n) + "\"?)";
  }
  return "";
}

}  // namespace

bool resolve_custom_metrics(const std::vector<std::vector<CustomMetricInfo>>& scripts,
                            RunInfo& info, std::string& error) {
  info.custom_metrics.clear();
  for (const auto& defs : scripts) {
    for (const CustomMetricInfo& d : defs) {
      auto it = std::find_if(info.custom_metrics.begin(), info.custom_metrics.end(),
                             [&](const CustomMetricInfo& m) { return m.name == d.name; });
      if (it == info.custom_metrics.end()) {
        info.custom_metrics.push_back(d);
      } else if (it->kind != d.kind || it->is_time != d.is_time) {
        error = "custom metric \"" + d.name + "\" is a " + kind_text(*it) +
                " in one script and a " + kind_text(d) + " in another";
        return false;
      }
    }
  }
  std::sort(info.custom_metrics.begin(), info.custom_metrics.end(),
            [](const CustomMetricInfo& a, const CustomMetricInfo& b) { return a.name < b.name; });
  MetricSource source;
  source.custom = &info.custom_metrics;
  auto check = [&](const std::string& metric, const std::map<std::string, std::string>& tags,
                   const std::string& where) {
    const std::optional<MetricDef> def = find_metric(metric, source);
    if (!def) {
      error = where + "unknown metric \"" + metric + "\" in [thresholds]: not one of pelt's, and " +
              "no script defines it with pelt.counter, pelt.gauge, pelt.rate or pelt.trend" +
              closest_metric(metric, info);
      return false;
    }
    std::string message;
    if (!check_tags(*def, tags, message)) {
      error = where + "bad tag filter on " + metric + ": " + message;
      return false;
    }
    return true;
  };
  for (const ThresholdConfig& th : info.thresholds) {
    // ([observe] figures were checked with the file: they are no request metrics.)
    if (is_observe_metric(th.metric)) continue;
    const std::string where = th.location.empty() ? "" : th.location + ": ";
    if (!check(th.metric, th.tags, where)) return false;
    std::string message;
    if (!check_aggregation(*find_metric(th.metric, source), th.parsed, message)) {
      error = where + "threshold \"" + th.expression + "\" for " + th.key + ": " + message;
      return false;
    }
  }
  for (const SubmetricConfig& sub : info.submetrics) {
    if (is_observe_metric(sub.metric)) continue;
    if (!check(sub.metric, sub.tags, "")) return false;
  }
  return true;
}

std::vector<ThresholdOutcome> evaluate_thresholds(const RunInfo& info, const WorkerStats& stats,
                                                  double elapsed_seconds, ThresholdPhase phase,
                                                  const ObserveResults* observe) {
  const std::vector<std::string> names = info.scenario_names();
  const std::vector<std::map<std::string, std::string>> tags = info.scenario_tags();
  MetricSource in;
  in.stats = &stats;
  in.scenario_names = &names;
  in.scenario_tags = &tags;
  in.elapsed_seconds = elapsed_seconds;
  in.observe = observe;
  in.custom = &info.custom_metrics;
  std::vector<ThresholdOutcome> out;
  for (const ThresholdConfig& th : info.thresholds) {
    out.push_back({&th, evaluate_threshold(th, in, phase)});
  }
  return out;
}

BreakingPoint find_breaking_point(const RunReport& r) {
  BreakingPoint bp;
  const std::vector<std::string>& names = r.scenario_names;
  for (size_t si = 0; si < r.stats.scenarios.size() && si < r.info.scenarios.size(); ++si) {
    const ScenarioStats& sc = r.stats.scenarios[si];
    for (size_t st = 0; st < sc.stages.size() && st < r.info.scenarios[si].stages.size(); ++st) {
      if (sc.stages[st].requests.ended() == 0) continue;
      MetricSource in = r.source();
      in.elapsed_seconds = std::max(1e-9, r.stage_seconds(si, st));
      for (const ThresholdConfig& th : r.info.thresholds) {
        if (th.metric != "http_req_duration" && th.metric != "http_req_failed") continue;
        if (!th.tags.empty()) continue;
        // The same threshold, on this stage of this scenario only.
        ThresholdConfig staged = th;
        staged.tags = {{"scenario", names[si]}, {"stage", std::to_string(st)}};
        const ThresholdResult res = evaluate_threshold(staged, in);
        if (res.has_data && !res.ok) {
          bp.found = true;
          bp.scenario = si;
          bp.stage = st;
          bp.description = res.text + " crossed " + th.expression;
          return bp;
        }
      }
    }
  }
  return bp;
}

}  // namespace pelt
