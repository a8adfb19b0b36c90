// Scenario-file loader: [scenarios.NAME] tables, their executors and stages.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "config/config_loader.h"
#include "config/executors.h"

namespace pelt::config_detail {
namespace {

constexpr std::string_view kCommonKeys[] = {"executor", "start_time", "graceful_stop", "think_time",
                                            "script",   "headers",    "method",        "path",
                                            "body",     "tags"};
constexpr std::string_view kStageKeys[] = {"duration", "target"};
// "constant-vus, ramping-vus, ..." for messages.
std::vector<std::string_view> executor_names() {
  std::vector<std::string_view> names;
  for (const ExecutorInfo& e : executor_table()) names.push_back(e.name);
  return names;
}

bool contains(std::span<const std::string_view> list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

bool valid_scenario_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

bool Loader::read_scenarios(const toml::node& node, const TargetConfig& target,
                            const RequestDefaults& defaults, std::vector<ScenarioConfig>& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("scenarios must hold [scenarios.NAME] tables, not {}",
                                  node.is_array() ? "an array" : "a value"));
  }
  std::vector<Entry> entries = ordered(*table);
  if (entries.empty()) {
    return fail(node,
                "no scenarios: add a [scenarios.NAME] table with an executor, e.g. "
                "executor = \"constant-vus\"");
  }
  for (const auto& [key, value] : entries) {
    ScenarioConfig scenario;
    if (!read_scenario(*key, *value, target, defaults, scenario)) return false;
    out.push_back(std::move(scenario));
  }
  return true;
}

bool Loader::read_stages(const toml::node& node, const std::string& what, bool rates,
                         std::vector<StageSpec>& out, std::vector<bool>& per_second) {
  const auto* array = node.as_array();
  if (array == nullptr || array->empty()) {
    return fail(node, fmt::format("{} must be a non-empty array of stages, e.g. [{{ duration = "
                                  "\"30s\", target = 10 }}]",
                                  what));
  }
  out.clear();
  per_second.clear();
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string stage_what = fmt::format("{}[{}]", what, i);
    const auto* table = element.as_table();
    if (table == nullptr) {
      return fail(element, fmt::format("{} must be a table such as {{ duration = \"30s\", target "
                                       "= 10 }}, not a {}",
                                       stage_what, element.is_array() ? "array" : "value"));
    }
    const toml::node* duration = nullptr;
    const toml::node* target = nullptr;
    for (const auto& [key, value] : ordered(*table)) {
      if (!check_key(*key, kStageKeys, "in " + stage_what)) return false;
      (key->str() == "duration" ? duration : target) = value;
    }
    if (duration == nullptr || target == nullptr) {
      return fail(element, fmt::format("{} needs both duration and target", stage_what));
    }
    StageSpec stage;
    if (!read_duration(*duration, stage_what + ".duration", stage.duration)) return false;
    bool stage_per_second = false;
    if (rates) {
      if (!read_rate(*target, stage_what + ".target", stage.target, stage_per_second)) {
        return false;
      }
    } else {
      if (!read_number(*target, stage_what + ".target", stage.target)) return false;
      if (stage.target < 0) {
        return fail(*target, fmt::format("{}.target must not be negative, got {}", stage_what,
                                         stage.target));
      }
      if (stage.target > UINT32_MAX) {
        return fail(*target, fmt::format("{}.target is too large", stage_what));
      }
    }
    out.push_back(stage);
    per_second.push_back(stage_per_second);
  }
  return true;
}

bool Loader::read_scenario(const toml::key& key, const toml::node& node, const TargetConfig& target,
                           const RequestDefaults& defaults, ScenarioConfig& out) {
  const std::string name(key.str());
  if (!valid_scenario_name(name)) {
    return fail(key, fmt::format("bad scenario name \"{}\": use letters, digits, _ and -", name));
  }
  const std::string prefix = "scenarios." + name;
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("{} must be a table ([{}]), not a value", prefix, prefix));
  }
  out.name = name;
  out.location = location(node.source());
  out.method = defaults.method;
  out.path = defaults.path;
  out.body = defaults.body;
  out.headers = target.headers;

  const toml::node* executor_node = table->get("executor");
  if (executor_node == nullptr) {
    return fail(node, fmt::format("scenario \"{}\" has no executor: add executor = \"...\", one "
                                  "of {}",
                                  name, join(executor_names())));
  }
  std::string executor;
  if (!read_string(*executor_node, prefix + ".executor", executor)) return false;
  const ExecutorInfo* info = find_executor(executor);
  if (info == nullptr) {
    std::string guess = closest(executor, executor_names());
    std::string hint = guess.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", guess);
    return fail(*executor_node, fmt::format("unknown executor \"{}\"{}; use one of {}", executor,
                                            hint, join(executor_names())));
  }
  out.executor = info->kind;
  std::vector<std::string_view> allowed(std::begin(kCommonKeys), std::end(kCommonKeys));
  allowed.insert(allowed.end(), info->keys.begin(), info->keys.end());
  const bool arrival = info->open_loop;

  std::map<std::string, const toml::node*, std::less<>> seen;
  bool rate_per_second = false;
  bool start_rate_per_second = false;
  bool max_rate_per_second = false;
  std::vector<bool> stage_per_second;
  HeaderList header_overrides;
  for (const auto& [entry_key, value] : ordered(*table)) {
    const std::string k(entry_key->str());
    if (!contains(allowed, k)) {
      std::vector<std::string_view> owners;
      for (const auto& other : executor_table()) {
        if (contains(other.keys, k)) owners.push_back(other.name);
      }
      if (!owners.empty()) {
        return fail(*entry_key,
                    fmt::format("key \"{}\" does not apply to executor {} (it is for {}); {} "
                                "takes {} and the common keys {}",
                                k, info->name, join(owners), info->name, join(info->keys),
                                join(kCommonKeys)));
      }
      return check_key(*entry_key, allowed, "in [" + prefix + "]");
    }
    seen[k] = value;
    const std::string what = prefix + "." + k;
    const toml::node& v = *value;
    bool ok = true;
    if (k == "vus") {
      ok = read_u32(v, what, 1, out.vus);
    } else if (k == "start_vus") {
      ok = read_u32(v, what, 0, out.start_vus);
    } else if (k == "stages") {
      ok = read_stages(v, what, arrival, out.stages, stage_per_second);
    } else if (k == "rate") {
      ok = read_rate(v, what, out.rate, rate_per_second);
      if (ok && out.rate <= 0) return fail(v, what + " must be above 0");
    } else if (k == "start_rate") {
      ok = read_rate(v, what, out.start_rate, start_rate_per_second);
    } else if (k == "max_rate") {
      ok = read_rate(v, what, out.max_rate, max_rate_per_second);
    } else if (k == "step_factor" || k == "precision") {
      ok = read_capacity_number(v, what, k == "step_factor" ? out.step_factor : out.precision);
    } else if (k == "hold" || k == "settle") {
      ok = read_whole_seconds(v, what, k == "hold" ? 1 : 0, k == "hold" ? out.hold : out.settle);
    } else if (k == "time_unit") {
      ok = read_duration(v, what, out.time_unit);
      if (ok && out.time_unit.count() == 0) return fail(v, what + " must be above 0");
    } else if (k == "pre_allocated_vus") {
      ok = read_u32(v, what, 0, out.pre_allocated_vus);
    } else if (k == "max_vus") {
      ok = read_u32(v, what, 0, out.max_vus);
    } else if (k == "iterations") {
      ok = read_u64(v, what, 1, out.iterations);
    } else if (k == "duration" || k == "max_duration") {
      auto& field = k == "duration" ? out.duration : out.max_duration;
      ok = read_duration(v, what, field);
      if (ok && field.count() == 0) return fail(v, what + " must be above 0");
    } else if (k == "start_time") {
      ok = read_duration(v, what, out.start_time);
    } else if (k == "graceful_stop") {
      ok = read_duration(v, what, out.graceful_stop);
    } else if (k == "graceful_ramp_down") {
      ok = read_duration(v, what, out.graceful_ramp_down);
    } else if (k == "think_time") {
      ok = read_think_time(v, what, out.think_time);
    } else if (k == "script") {
      ok = read_file_path(v, what, "script", out.script);
    } else if (k == "headers") {
      ok = read_headers(v, what, header_overrides);
    } else if (k == "method") {
      ok = read_method(v, what, out.method);
    } else if (k == "path") {
      ok = read_path(v, what, out.path);
    } else if (k == "body") {
      ok = read_string(v, what, out.body);
    } else if (k == "tags") {
      ok = read_tags(v, what, out.tags);
    }
    if (!ok) return false;
  }
  merge_headers(out.headers, header_overrides);

  // Keys each executor cannot do without, in the order the messages should mention them.
  auto require = [&](std::string_view k, std::string_view example) {
    if (seen.count(k) != 0) return true;
    return fail(
        node, fmt::format("scenario \"{}\" ({}) needs {}, e.g. {}", name, info->name, k, example));
  };
  for (const auto& [key, example] : info->required) {
    if (!require(key, example)) return false;
  }

  // Rates written as "N/period" strings are per second; convert them to per time_unit.
  const double unit_seconds = static_cast<double>(out.time_unit.count()) / 1e6;
  if (rate_per_second) out.rate *= unit_seconds;
  if (start_rate_per_second) out.start_rate *= unit_seconds;
  if (max_rate_per_second) out.max_rate *= unit_seconds;
  for (size_t i = 0; i < out.stages.size(); ++i) {
    if (stage_per_second[i]) out.stages[i].target *= unit_seconds;
  }

  if (info->kind == ExecutorKind::kRampingVus) {
    // As k6: some VU must run at some point (start_vus defaults to 1, as in k6).
    double peak = out.start_vus;
    for (const StageSpec& stage : out.stages) peak = std::max(peak, stage.target);
    if (peak < 1) {
      return fail(*seen.find("stages")->second,
                  fmt::format("scenario \"{}\" never runs a VU: start_vus and every stage target "
                              "are 0; raise start_vus or a target",
                              name));
    }
  }
  if (arrival) {
    // max_vus = 0 written out is a value, not "unset" (as in k6).
    if (seen.count("max_vus") != 0 && out.max_vus < out.pre_allocated_vus) {
      return fail(*seen.find("max_vus")->second,
                  fmt::format("{}.max_vus ({}) must be at least pre_allocated_vus ({})", prefix,
                              out.max_vus, out.pre_allocated_vus));
    }
    if (out.pre_allocated_vus == 0 && out.max_vus == 0) {
      return fail(*seen.find("pre_allocated_vus")->second,
                  fmt::format("scenario \"{}\" has no VUs: set pre_allocated_vus above 0", name));
    }
  }
  if (info->kind == ExecutorKind::kCapacitySearch && !check_capacity_rates(out, seen)) return false;
  if (info->kind == ExecutorKind::kSharedIterations && out.iterations < out.vus) {
    auto it = seen.find("iterations");
    const toml::node& where = it != seen.end() ? *it->second : *seen.find("vus")->second;
    return fail(where, fmt::format("{}.iterations ({}) must be at least vus ({})", prefix,
                                   out.iterations, out.vus));
  }
  return true;
}

}  // namespace pelt::config_detail
