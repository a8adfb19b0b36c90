// Scenario-file loader: the [observe] table (observe/observe_config.h, docs/CAPACITY.md).
#include <fmt/format.h>

#include <algorithm>

#include "config/config_loader.h"

namespace pelt::config_detail {
namespace {

constexpr std::string_view kObserveSettings[] = {
    "prometheus", "defaults", "instance", "container", "rate_window", "query_delay", "timeout"};
constexpr std::string_view kQueryKeys[] = {"query", "unit"};

}  // namespace

bool Loader::read_observe(const toml::node& node, ObserveConfig& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("observe must be a table ([observe]), not {}", type_name(node)));
  }
  out.enabled = true;
  out.origin = location(node.source());
  for (const auto& [key, value] : ordered(*table)) {
    const std::string name(key->str());
    const std::string what = "observe." + name;
    const bool setting = std::find(std::begin(kObserveSettings), std::end(kObserveSettings),
                                   name) != std::end(kObserveSettings);
    bool ok = true;
    if (name == "prometheus") {
      ok = read_string(*value, what, out.prometheus);
      if (ok && out.prometheus.rfind("http://", 0) != 0 &&
          out.prometheus.rfind("https://", 0) != 0) {
        return fail(*value,
                    fmt::format("observe.prometheus must be an http:// or https:// URL, got \"{}\"",
                                out.prometheus));
      }
    } else if (name == "defaults") {
      out.defaults_set = true;
      out.defaults.clear();
      std::vector<const toml::node*> items;
      if (const auto* array = value->as_array()) {
        for (const auto& element : *array) items.push_back(&element);
      } else {
        items.push_back(value);
      }
      for (const toml::node* item : items) {
        std::string set;
        if (!read_string(*item, what, set)) return false;
        const auto& known = observe_default_sets();
        if (std::find(known.begin(), known.end(), set) == known.end()) {
          return fail(
              *item,
              fmt::format("unknown observe.defaults \"{}\": use node-exporter and/or cadvisor",
                          set));
        }
        out.defaults.push_back(set);
      }
    } else if (name == "instance") {
      ok = read_string(*value, what, out.instance);
    } else if (name == "container") {
      ok = read_string(*value, what, out.container);
    } else if (name == "rate_window" || name == "query_delay" || name == "timeout") {
      std::chrono::microseconds d{0};
      ok = read_duration(*value, what, d);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
      if (ok && name != "query_delay" && ms.count() < 1)
        return fail(*value, what + " must be at least 1ms");
      (name == "rate_window"   ? out.rate_window
       : name == "query_delay" ? out.query_delay
                               : out.timeout) = ms;
    } else if (!setting) {
      const auto* q = value->as_table();
      if (q == nullptr) {
        return fail(
            *key,
            fmt::format("unknown key \"{}\" in [observe]: the settings are {}; a query is a table "
                        "such as cpu = {{ query = '...', unit = \"%\" }}",
                        name, join(kObserveSettings)));
      }
      std::string error;
      if (!check_observe_label(name, error)) return fail(*key, error);
      ObserveQuery query;
      query.label = name;
      query.origin = location(value->source());
      const toml::node* text = nullptr;
      for (const auto& [qkey, qvalue] : ordered(*q)) {
        if (!check_key(*qkey, kQueryKeys, "in " + what)) return false;
        if (qkey->str() == "query") {
          text = qvalue;
        } else if (!read_string(*qvalue, what + ".unit", query.unit)) {
          return false;
        }
      }
      if (text == nullptr) {
        return fail(*value, fmt::format("{} needs query = '...' (PromQL)", what));
      }
      // ${TARGET_HOST} is the target's host, known when the run starts (--target may change it).
      const auto* raw = text->as_string();
      if (raw == nullptr) return fail(*text, what + ".query must be a string");
      std::string escaped = raw->get();
      for (size_t at = escaped.find("${TARGET_HOST}"); at != std::string::npos;
           at = escaped.find("${TARGET_HOST}", at + 15)) {
        escaped.insert(at, "$");
      }
      std::string message;
      size_t pos = 0;
      if (!expand_vars(escaped, vars_, query.query, message, pos))
        return fail(*text, what + ".query: " + message);
      if (query.query.empty()) return fail(*text, what + ".query is empty");
      out.queries.push_back(std::move(query));
    }
    if (!ok) return false;
  }
  if (out.prometheus.empty()) {
    // --observe-prometheus may give it; run() checks that one of the two did.
  }
  return true;
}

}  // namespace pelt::config_detail
