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

std::vector<ThresholdOutcome> evaluate_thresholds(const RunInfo& info, const WorkerStats& stats,
                                                  double elapsed_seconds, ThresholdPhase phase) {
  const std::vector<std::string> names = info.scenario_names();
  const std::vector<std::map<std::string, std::string>> tags = info.scenario_tags();
  MetricSource in;
  in.stats = &stats;
  in.scenario_names = &names;
  in.scenario_tags = &tags;
  in.elapsed_seconds = elapsed_seconds;
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
