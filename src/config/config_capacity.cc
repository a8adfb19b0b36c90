// Scenario-file loader: what capacity-search needs (docs/CAPACITY.md) — its numbers, and a file
// it can search with: the only scenario, with thresholds (its objectives) that a probe's window
// of the time series can judge.
#include <fmt/format.h>

#include <cmath>

#include "config/config_loader.h"
#include "config/executors.h"
#include "results/probe_window.h"

namespace pelt::config_detail {

bool Loader::read_capacity_number(const toml::node& node, const std::string& what, double& out) {
  if (!read_number(node, what, out)) return false;
  const bool step = what.size() >= 11 && what.compare(what.size() - 11, 11, "step_factor") == 0;
  if (step && !(out > 1 && out <= 100)) {
    return fail(node, fmt::format("{} must be above 1 (and at most 100), got {}", what, out));
  }
  if (!step && !(out > 0 && out < 1)) {
    return fail(node,
                fmt::format("{} must be between 0 and 1 (a share: 0.05 = 5%), got {}", what, out));
  }
  return true;
}

bool Loader::read_whole_seconds(const toml::node& node, const std::string& what,
                                int64_t min_seconds, std::chrono::microseconds& out) {
  if (!read_duration(node, what, out)) return false;
  if (out.count() % 1'000'000 != 0) {
    return fail(node,
                fmt::format("{} must be a whole number of seconds (probes are judged on whole "
                            "seconds of the time series), e.g. \"10s\"",
                            what));
  }
  if (out < std::chrono::seconds(min_seconds)) {
    return fail(node, fmt::format("{} must be at least {}s", what, min_seconds));
  }
  return true;
}

bool Loader::check_capacity_rates(
    const ScenarioConfig& s, const std::map<std::string, const toml::node*, std::less<>>& seen) {
  const std::string prefix = "scenarios." + s.name;
  if (!(s.start_rate > 0)) {
    return fail(*seen.find("start_rate")->second, prefix + ".start_rate must be above 0");
  }
  if (s.max_rate < s.start_rate) {
    return fail(*seen.find("max_rate")->second,
                fmt::format("{}.max_rate ({:g}) must be at least start_rate ({:g})", prefix,
                            s.max_rate, s.start_rate));
  }
  return true;
}

bool Loader::check_capacity_file(const toml::table& root, const RunConfig& config) {
  const ScenarioConfig* search = nullptr;
  for (const ScenarioConfig& s : config.scenarios) {
    if (s.executor == ExecutorKind::kCapacitySearch) search = &s;
  }
  if (search == nullptr) return true;
  const toml::node* scenarios = root.get("scenarios");
  if (config.scenarios.size() > 1) {
    const toml::node* other = nullptr;
    for (const auto& [key, value] : ordered(*scenarios->as_table())) {
      if (key->str() != search->name) {
        other = value;
        break;
      }
    }
    return fail(
        other ? *other : *scenarios,
        fmt::format(
            "scenario \"{}\" is a capacity-search: it must be the only scenario of the file "
            "(any other load would change what it measures)",
            search->name));
  }
  const toml::node* thresholds = root.get("thresholds");
  if (config.thresholds.empty()) {
    return fail(
        thresholds ? *thresholds : *scenarios->as_table()->get(search->name),
        fmt::format("scenario \"{}\" (capacity-search) needs objectives: add [thresholds], e.g. "
                    "http_req_duration = [\"p(95)<200\"] and http_req_failed = [\"rate<0.01\"]",
                    search->name));
  }
  for (const ThresholdConfig& th : config.thresholds) {
    const toml::node* where = thresholds ? thresholds->as_table()->get(th.key) : nullptr;
    const toml::node& at = where ? *where : *thresholds;
    if (!window_has_metric(th.metric)) {
      return fail(
          at, fmt::format("threshold on {}: capacity-search judges each probe on the per-second "
                          "time series, which does not keep {}; use {}",
                          th.key, th.metric, join(window_metrics())));
    }
    if (th.abort_on_fail) {
      return fail(
          at,
          fmt::format("threshold on {}: abort_on_fail does not apply to capacity-search, which "
                      "judges its thresholds on each probe and expects some probes to cross them",
                      th.key));
    }
  }
  return true;
}

}  // namespace pelt::config_detail
