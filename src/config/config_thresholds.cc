// Scenario-file loader: the [thresholds] table.
#include <fmt/format.h>

#include <algorithm>

#include "config/config_loader.h"
#include "results/catalogue.h"
#include "results/observe_results.h"
#include "results/thresholds.h"

namespace pelt::config_detail {
namespace {

// Every metric name of the catalogue, in its order (for messages and typo hints).
std::vector<std::string_view> metric_names() {
  std::vector<std::string_view> names;
  for (const MetricDef& m : metric_catalogue()) names.push_back(m.name);
  return names;
}

constexpr std::string_view kTags[] = {"scenario", "name",  "method",
                                      "status",   "stage", "expected_response"};
constexpr std::string_view kCheckTags[] = {"scenario", "name",  "method",
                                           "status",   "stage", "check"};
constexpr std::string_view kEntryKeys[] = {"threshold", "abort_on_fail", "delay_abort_eval"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A tag name or value as k6 reads it: spaces around it, then any quotes around that, go
// ({method:"GET"} and {name:'checkout'} filter on GET and checkout).
std::string_view unquote(std::string_view s) {
  s = trim(s);
  while (!s.empty() && (s.front() == '"' || s.front() == '\'')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '"' || s.back() == '\'')) s.remove_suffix(1);
  return s;
}

// A name a script's own metric may have: letters, digits and _, not starting with a digit.
bool custom_metric_name(std::string_view name) {
  return !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_';
         });
}

}  // namespace

bool Loader::read_thresholds(const toml::node& node, std::vector<ThresholdConfig>& out,
                             std::vector<SubmetricConfig>& declared) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, "thresholds must be a table ([thresholds])");
  }
  for (const auto& [key, value] : ordered(*table)) {
    std::string metric;
    std::map<std::string, std::string> tags;
    if (!read_threshold_key(*key, metric, tags)) return false;
    const bool seen = std::any_of(declared.begin(), declared.end(), [&](const SubmetricConfig& d) {
      return d.metric == metric && d.tags == tags;
    });
    if (!seen) declared.push_back({metric, tags, std::string(key->str())});
    if (value->is_string()) {
      if (!read_threshold_entry(*value, *key, metric, tags, out)) return false;
      continue;
    }
    // An empty list declares the sub-metric for the summary without a threshold (as in k6).
    const auto* array = value->as_array();
    if (array == nullptr) {
      return fail(*value, fmt::format("thresholds for {} must be an array of expressions, e.g. "
                                      "[\"p(95)<500\"] ([] shows the metric in the summary "
                                      "without a threshold)",
                                      key->str()));
    }
    for (const auto& element : *array) {
      if (!read_threshold_entry(element, *key, metric, tags, out)) return false;
    }
  }
  return true;
}

bool Loader::read_threshold_key(const toml::key& key, std::string& metric,
                                std::map<std::string, std::string>& tags) {
  const std::string_view text = key.str();
  const size_t brace = text.find('{');
  metric = std::string(trim(text.substr(0, brace)));
  if (is_observe_metric(metric)) return check_observe_threshold_key(key, metric, brace != std::string_view::npos);
  // With a script, another name may be the script's own metric (pelt.counter, pelt.trend ...):
  // checked once the script has loaded.
  const bool custom = find_metric(metric) == nullptr && has_script_ && custom_metric_name(metric);
  if (find_metric(metric) == nullptr && !custom) {
    const std::vector<std::string_view> names = metric_names();
    std::string guess = closest(metric, names);
    std::string hint = guess.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", guess);
    return fail(key, fmt::format("unknown metric \"{}\" in [thresholds]{}; metrics: {}", metric,
                                 hint, join(names)));
  }
  if (brace == std::string_view::npos) return true;
  if (text.back() != '}') {
    return fail(key, fmt::format("missing }} at the end of threshold key \"{}\"", text));
  }
  std::string_view inner = text.substr(brace + 1, text.size() - brace - 2);
  if (trim(inner).empty()) {
    return fail(
        key, fmt::format("empty tag filter in \"{}\": write e.g. {}{{name:issue}}", text, metric));
  }
  std::span<const std::string_view> allowed = kTags;
  if (metric == "checks") allowed = kCheckTags;
  while (true) {
    const size_t comma = inner.find(',');
    const std::string_view part = inner.substr(0, comma);
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      return fail(key, fmt::format("bad tag filter \"{}\" in \"{}\": write tag:value, e.g. "
                                   "name:issue",
                                   trim(part), text));
    }
    const std::string tag(unquote(part.substr(0, colon)));
    const std::string value(unquote(part.substr(colon + 1)));
    // The scenarios' own tags filter like scenario, which checks do not take; with a script,
    // any tag may be a request's own (pelt.tag): a typo shows at the end as a warning.
    const bool own_tags_apply = metric != "checks";
    const bool own =
        own_tags_apply &&
        (has_script_ || std::binary_search(scenario_tags_.begin(), scenario_tags_.end(), tag));
    if (!own && std::find(allowed.begin(), allowed.end(), tag) == allowed.end()) {
      std::vector<std::string_view> own_tags;
      if (own_tags_apply) own_tags.assign(scenario_tags_.begin(), scenario_tags_.end());
      std::vector<std::string_view> known(allowed.begin(), allowed.end());
      known.insert(known.end(), own_tags.begin(), own_tags.end());
      std::string guess = closest(tag, known);
      std::string hint = guess.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", guess);
      std::string own_list =
          own_tags.empty() ? "" : fmt::format("; the scenarios' tags: {}", join(own_tags));
      return fail(key, fmt::format("unknown tag \"{}\" in \"{}\"{}; tags: {}{}", tag, text, hint,
                                   join(allowed), own_list));
    }
    if (value.empty()) {
      return fail(key, fmt::format("tag {} has no value in \"{}\"", tag, text));
    }
    if (!tags.emplace(tag, value).second) {
      return fail(key, fmt::format("tag {} appears twice in \"{}\"", tag, text));
    }
    if (comma == std::string_view::npos) break;
    inner.remove_prefix(comma + 1);
  }
  std::string message;
  if (!custom && !check_threshold_tags(metric, tags, message)) {
    return fail(key, fmt::format("bad tag filter in \"{}\": {}", text, message));
  }
  return true;
}

bool Loader::read_threshold_entry(const toml::node& node, const toml::key& key,
                                  const std::string& metric,
                                  const std::map<std::string, std::string>& tags,
                                  std::vector<ThresholdConfig>& out) {
  ThresholdConfig threshold;
  threshold.metric = metric;
  threshold.tags = tags;
  threshold.key = std::string(key.str());
  const std::string what = fmt::format("thresholds.\"{}\"", threshold.key);
  const toml::node* expression = &node;
  if (const auto* table = node.as_table()) {
    expression = nullptr;
    for (const auto& [entry_key, value] : ordered(*table)) {
      if (!check_key(*entry_key, kEntryKeys, "in a threshold table")) return false;
      const std::string_view k = entry_key->str();
      if (k == "threshold") {
        expression = value;
      } else if (k == "abort_on_fail") {
        if (!read_bool(*value, what + ".abort_on_fail", threshold.abort_on_fail)) return false;
      } else if (!read_duration(*value, what + ".delay_abort_eval", threshold.delay_abort_eval)) {
        return false;
      }
    }
    if (expression == nullptr) {
      return fail(node, fmt::format("threshold table for {} needs threshold = \"...\", e.g. "
                                    "{{ threshold = \"p(99)<500\", abort_on_fail = true }}",
                                    threshold.key));
    }
  }
  const auto* text = expression->as_string();
  if (text == nullptr) {
    return fail(*expression, fmt::format("threshold for {} must be a string such as "
                                         "\"p(95)<500\" or a table {{ threshold = \"...\" }}",
                                         threshold.key));
  }
  threshold.expression = text->get();
  std::string message;
  size_t pos = 0;
  if (!parse_threshold(threshold.expression, threshold.parsed, message, pos)) {
    const auto& region = expression->source();
    uint32_t column = region.begin.column;
    if (region.begin.line == region.end.line) column += 1 + static_cast<uint32_t>(pos);
    return fail(region.begin.line, column,
                fmt::format("bad threshold \"{}\" for {}: {}", threshold.expression, threshold.key,
                            message));
  }
  if (is_observe_metric(metric)) {
    const auto a = threshold.parsed.aggregation;
    if (a != ThresholdExpr::Aggregation::kAvg && a != ThresholdExpr::Aggregation::kMin &&
        a != ThresholdExpr::Aggregation::kMax) {
      return fail(*expression, fmt::format("threshold \"{}\" for {}: a query's figures support avg, min and max "
                                           "(over the whole run), e.g. \"max<90\"",
                                           threshold.expression, threshold.key));
    }
  } else if (find_metric(metric) != nullptr &&
             !check_metric_aggregation(metric, threshold.parsed, message)) {
    return fail(*expression, fmt::format("threshold \"{}\" for {}: {}", threshold.expression,
                                         threshold.key, message));
  }
  threshold.location = location(expression->source());
  out.push_back(std::move(threshold));
  return true;
}

}  // namespace pelt::config_detail

namespace pelt::config_detail {

bool Loader::check_observe_threshold_key(const toml::key& key, const std::string& metric, bool tags) {
  const std::string label = metric.substr(kObservePrefix.size());
  if (tags) {
    return fail(key, fmt::format("{} takes no tag filter: it is judged over the whole run", metric));
  }
  if (std::find(observe_labels_.begin(), observe_labels_.end(), label) == observe_labels_.end()) {
    std::vector<std::string_view> known(observe_labels_.begin(), observe_labels_.end());
    std::string guess = closest(label, known);
    std::string hint = guess.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", guess);
    return fail(key, fmt::format("unknown query \"{}\" in {}{}; [observe] has {}", label, metric, hint, join(known)));
  }
  return true;
}

}  // namespace pelt::config_detail
