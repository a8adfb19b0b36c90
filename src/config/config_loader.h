// Internal to the scenario-file loader (config.cc, config_values.cc, config_scenario.cc,
// config_thresholds.cc): the Loader walks a parsed TOML document and fills a RunConfig,
// stopping at the first problem.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace pelt::config_detail {

// A table entry with its key, so entries can be visited in file order.
using Entry = std::pair<const toml::key*, const toml::node*>;

// The table's entries sorted by where their keys appear in the file.
std::vector<Entry> ordered(const toml::table& table);

// The closest candidate to `word` when it looks like a typo of it, else "".
std::string closest(std::string_view word, std::span<const std::string_view> candidates);

// "a string", "an integer", ... for messages about wrong types.
const char* type_name(const toml::node& node);

// "a, b, c" from a list of names.
std::string join(std::span<const std::string_view> names);

// Request defaults from [target] that scenarios inherit.
struct RequestDefaults {
  std::string method = "GET";  // request method
  std::string path;            // request path ("" = the URL's path)
  std::string body;            // request body
};

class Loader {
 public:
  Loader(const std::string& source, const std::string& base_dir,
         const std::map<std::string, std::string>& vars)
      : source_(source), base_dir_(base_dir), vars_(vars) {}

  // Fills out from the document; false with error() set on the first problem.
  bool load(std::string_view text, RunConfig& out);
  const std::string& error() const { return error_; }

  // --- reporting (always return false so callers can `return fail(...)`) ---
  bool fail(uint32_t line, uint32_t column, const std::string& message);
  bool fail(const toml::node& node, const std::string& message);
  bool fail(const toml::key& key, const std::string& message);
  std::string location(const toml::source_region& region) const;

  // --- checked readers; `what` names the value in messages, e.g. "target.timeout" ---
  bool check_key(const toml::key& key, std::span<const std::string_view> allowed,
                 std::string_view where);
  bool read_string(const toml::node& node, const std::string& what, std::string& out);
  bool read_bool(const toml::node& node, const std::string& what, bool& out);
  bool read_number(const toml::node& node, const std::string& what, double& out);
  bool read_u32(const toml::node& node, const std::string& what, uint32_t min, uint32_t& out);
  bool read_u64(const toml::node& node, const std::string& what, uint64_t min, uint64_t& out);
  bool read_duration(const toml::node& node, const std::string& what,
                     std::chrono::microseconds& out);
  // A rate as a number (per time_unit, per_second = false) or a string such as "100/s".
  bool read_rate(const toml::node& node, const std::string& what, double& out, bool& per_second);
  bool read_headers(const toml::node& node, const std::string& what, HeaderList& out);
  bool read_tags(const toml::node& node, const std::string& what,
                 std::map<std::string, std::string>& out);
  bool read_method(const toml::node& node, const std::string& what, std::string& out);
  bool read_path(const toml::node& node, const std::string& what, std::string& out);
  bool read_think_time(const toml::node& node, const std::string& what, ThinkTime& out);
  // A file path relative to base_dir that must exist; kind is "script" or "CA file".
  bool read_file_path(const toml::node& node, const std::string& what, std::string_view kind,
                      std::string& out);

  // --- sections ---
  bool read_target(const toml::node& node, TargetConfig& out, RequestDefaults& defaults);
  bool read_execution(const toml::node& node, ExecutionConfig& out);
  bool read_metrics(const toml::node& node, MetricsConfig& out);
  bool read_scenarios(const toml::node& node, const TargetConfig& target,
                      const RequestDefaults& defaults, std::vector<ScenarioConfig>& out);
  bool read_scenario(const toml::key& key, const toml::node& node, const TargetConfig& target,
                     const RequestDefaults& defaults, ScenarioConfig& out);
  bool read_stages(const toml::node& node, const std::string& what, bool rates,
                   std::vector<StageSpec>& out, std::vector<bool>& per_second);
  // capacity-search (config_capacity.cc): step_factor (> 1) or precision (0 < p < 1), a
  // duration of whole seconds of at least min_seconds, the rates' order, and the checks on the
  // whole file (the only scenario, with objectives the probes can be judged on).
  bool read_capacity_number(const toml::node& node, const std::string& what, double& out);
  bool read_whole_seconds(const toml::node& node, const std::string& what, int64_t min_seconds,
                          std::chrono::microseconds& out);
  bool check_capacity_rates(const ScenarioConfig& scenario,
                            const std::map<std::string, const toml::node*, std::less<>>& seen);
  bool check_capacity_file(const toml::table& root, const RunConfig& config);
  // [observe] (config_observe.cc).
  bool read_observe(const toml::node& node, ObserveConfig& out);
  bool read_thresholds(const toml::node& node, std::vector<ThresholdConfig>& out,
                       std::vector<SubmetricConfig>& declared);
  bool read_threshold_key(const toml::key& key, std::string& metric,
                          std::map<std::string, std::string>& tags);
  bool check_observe_threshold_key(const toml::key& key, const std::string& metric, bool tags);
  bool read_threshold_entry(const toml::node& node, const toml::key& key, const std::string& metric,
                            const std::map<std::string, std::string>& tags,
                            std::vector<ThresholdConfig>& out);

 private:
  const std::string& source_;                       // file name for messages
  const std::string& base_dir_;                     // relative paths resolve against this
  const std::map<std::string, std::string>& vars_;  // -e values
  std::string error_;                               // the first problem, once found
  std::vector<std::string> scenario_tags_;          // tag names the scenarios define (sorted)
  std::vector<std::string> observe_labels_;         // [observe] query labels (observe.LABEL)
  bool has_script_ = false;  // some scenario runs a script (so requests may carry any tag)
};

// Header names compare case-insensitively; a later value replaces an earlier one in place.
void merge_headers(HeaderList& into, const HeaderList& overrides);

}  // namespace pelt::config_detail
