// Scenario-file loader: the document, [target], [metrics] and the public entry points.
#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "config/config_loader.h"
#include "config/toml_guard.h"
#include "engine/segment.h"
#include "outputs/output_config.h"
#include "wire/url.h"

namespace pelt {
namespace config_detail {
namespace {

constexpr std::string_view kTopKeys[] = {"script",     "target",  "metrics",   "scenarios",
                                         "thresholds", "outputs", "execution", "observe"};
constexpr std::string_view kTargetKeys[] = {"url",     "timeout",  "method", "path",
                                            "body",    "headers",  "insecure", "cacert",
                                            "http",    "streams",  "h2c"};
constexpr std::string_view kMetricsKeys[] = {"listen", "buckets", "linger"};

}  // namespace

bool Loader::read_target(const toml::node& node, TargetConfig& out, RequestDefaults& defaults) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("target must be a table ([target]), not {}", type_name(node)));
  }
  const toml::node* h2c = nullptr;   // h2c = true, checked against url and http at the end
  const toml::node* http = nullptr;  // http = "...", likewise
  for (const auto& [key, value] : ordered(*table)) {
    if (!check_key(*key, kTargetKeys, "in [target]")) return false;
    const std::string name(key->str());
    const std::string what = "target." + name;
    bool ok = true;
    if (name == "http") {
      std::string text;
      ok = read_string(*value, what, text);
      if (ok && !parse_http_version(text, out.http)) {
        return fail(*value, fmt::format("target.http must be \"1.1\", \"2\" or \"auto\", got \"{}\"",
                                        text));
      }
      http = value;
    } else if (name == "streams") {
      ok = read_u32(*value, what, 1, out.streams);
    } else if (name == "h2c") {
      bool on = false;
      ok = read_bool(*value, what, on);
      if (ok && on) h2c = value;
    } else if (name == "url") {
      ok = read_string(*value, what, out.url);
      if (ok && out.url.rfind("http://", 0) != 0 && out.url.rfind("https://", 0) != 0) {
        return fail(*value, fmt::format("target.url must start with http:// or https://, got "
                                        "\"{}\"",
                                        out.url));
      }
      if (ok) {
        size_t host = out.url.find("://") + 3;
        if (host >= out.url.size() ||
            std::string_view("/?#").find(out.url[host]) != std::string_view::npos) {
          return fail(*value, fmt::format("target.url has no host: \"{}\"", out.url));
        }
        Url url;
        std::string message;
        if (!parse_url(out.url, url, message)) {
          return fail(*value, "target.url: " + message);
        }
      }
    } else if (name == "timeout") {
      ok = read_duration(*value, what, out.timeout);
      if (ok && out.timeout.count() == 0) return fail(*value, "target.timeout must be above 0");
    } else if (name == "method") {
      ok = read_method(*value, what, defaults.method);
    } else if (name == "path") {
      ok = read_path(*value, what, defaults.path);
    } else if (name == "body") {
      ok = read_string(*value, what, defaults.body);
    } else if (name == "headers") {
      ok = read_headers(*value, what, out.headers);
    } else if (name == "insecure") {
      ok = read_bool(*value, what, out.insecure);
    } else if (name == "cacert") {
      ok = read_file_path(*value, what, "CA file", out.cacert);
    }
    if (!ok) return false;
  }
  if (h2c != nullptr) {
    // Cleartext HTTP/2 with prior knowledge: http:// only, and HTTP/2.
    if (http != nullptr && out.http != HttpVersion::kHttp2) {
      return fail(*h2c, fmt::format("target.h2c = true is HTTP/2: it cannot go with http = \"{}\"",
                                    http_version_name(out.http)));
    }
    if (out.url.rfind("https://", 0) == 0) {
      return fail(*h2c, "target.h2c = true is cleartext HTTP/2 and needs an http:// url; over "
                        "https, http = \"2\" negotiates h2 by ALPN");
    }
    out.http = HttpVersion::kHttp2;
  }
  return true;
}

bool Loader::read_metrics(const toml::node& node, MetricsConfig& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("metrics must be a table ([metrics]), not {}", type_name(node)));
  }
  for (const auto& [key, value] : ordered(*table)) {
    if (!check_key(*key, kMetricsKeys, "in [metrics]")) return false;
    const std::string name(key->str());
    if (name == "listen") {
      if (!read_string(*value, "metrics.listen", out.listen)) return false;
      size_t colon = out.listen.rfind(':');
      std::string_view port =
          colon == std::string::npos ? "" : std::string_view(out.listen).substr(colon + 1);
      bool digits =
          !port.empty() && port.size() <= 5 &&
          std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stoi(std::string(port)) > 65535) {
        return fail(*value, fmt::format("metrics.listen must be HOST:PORT, e.g. "
                                        "\"127.0.0.1:9464\", got \"{}\"",
                                        out.listen));
      }
    } else if (name == "buckets") {
      const auto* array = value->as_array();
      if (array == nullptr || array->empty()) {
        return fail(*value,
                    "metrics.buckets must be a non-empty array of seconds, e.g. [0.005, "
                    "0.05, 0.5]");
      }
      out.buckets.clear();
      for (const auto& element : *array) {
        double bound = 0;
        if (!read_number(element, "metrics.buckets[]", bound)) return false;
        if (bound <= 0 || (!out.buckets.empty() && bound <= out.buckets.back())) {
          return fail(element, "metrics.buckets must be positive and strictly increasing");
        }
        out.buckets.push_back(bound);
      }
    } else if (name == "linger") {
      if (!read_duration(*value, "metrics.linger", out.linger)) return false;
    }
  }
  return true;
}

bool Loader::read_execution(const toml::node& node, ExecutionConfig& out) {
  static constexpr std::string_view kKeys[] = {"segment"};
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("execution must be a table ([execution]), not {}", type_name(node)));
  }
  for (const auto& [key, value] : ordered(*table)) {
    if (!check_key(*key, kKeys, "in [execution]")) return false;
    if (!read_string(*value, "execution.segment", out.segment)) return false;
    Segment segment;
    std::string message;
    if (!parse_segment(out.segment, segment, message)) return fail(*value, "execution." + message.substr(4));
  }
  return true;
}

bool Loader::load(std::string_view text, RunConfig& out) {
  toml::table root;
  uint32_t deep_line = 0, deep_column = 0;
  std::string deep;
  if (!check_key_depth(text, kMaxKeyParts, deep_line, deep_column, deep)) {
    return fail(deep_line, deep_column, deep + ": nest tables instead");
  }
  try {
    root = toml::parse(text, std::string_view(source_));
  } catch (const toml::parse_error& e) {
    return fail(e.source().begin.line, e.source().begin.column, std::string(e.description()));
  }
  RunConfig config;
  config.source = source_;
  config.base_dir = base_dir_;
  for (const auto& [key, value] : ordered(root)) {
    if (!check_key(*key, kTopKeys, "at the top level")) return false;
  }
  if (const auto* node = root.get("script")) {
    if (!read_file_path(*node, "script", "script", config.script)) return false;
  }
  RequestDefaults defaults;
  if (const auto* node = root.get("target")) {
    if (!read_target(*node, config.target, defaults)) return false;
  }
  const auto* scenarios = root.get("scenarios");
  if (scenarios == nullptr) {
    return fail(1, 1,
                "no scenarios: add a [scenarios.NAME] table with an executor, e.g. "
                "executor = \"constant-vus\"");
  }
  if (!read_scenarios(*scenarios, config.target, defaults, config.scenarios)) return false;
  // Threshold filters may name the scenarios' own tags.
  has_script_ = !config.script.empty();
  for (const ScenarioConfig& sc : config.scenarios) {
    for (const auto& [tag, value] : sc.tags) scenario_tags_.push_back(tag);
    has_script_ = has_script_ || !sc.script.empty();
  }
  std::sort(scenario_tags_.begin(), scenario_tags_.end());
  scenario_tags_.erase(std::unique(scenario_tags_.begin(), scenario_tags_.end()),
                       scenario_tags_.end());
  if (const auto* node = root.get("observe")) {
    if (!read_observe(*node, config.observe)) return false;
  }
  observe_labels_ = observe_labels(config.observe);
  if (const auto* node = root.get("thresholds")) {
    if (!read_thresholds(*node, config.thresholds, config.submetrics)) return false;
  }
  if (const auto* node = root.get("metrics")) {
    if (!read_metrics(*node, config.metrics)) return false;
  }
  if (const auto* node = root.get("execution")) {
    if (!read_execution(*node, config.execution)) return false;
  }
  if (const auto* node = root.get("outputs")) {
    std::string error;
    config.outputs = parse_output_tables(*node, source_, error);
    if (!error.empty()) {
      error_ = error;  // already "file:line:col: message"
      return false;
    }
  }
  if (!check_capacity_file(root, config)) return false;
  out = std::move(config);
  return true;
}

}  // namespace config_detail

bool load_run_config(std::string_view toml_text, const std::string& source,
                     const std::string& base_dir, const std::map<std::string, std::string>& vars,
                     RunConfig& out, std::string& error) {
  try {
    config_detail::Loader loader(source, base_dir, vars);
    if (loader.load(toml_text, out)) return true;
    error = loader.error();
  } catch (const std::exception& e) {
    error = fmt::format("{}:1:1: {}", source, e.what());
  }
  return false;
}

bool load_run_config_file(const std::string& path, const std::map<std::string, std::string>& vars,
                          RunConfig& out, std::string& error) {
  std::string text;
  std::string source = path;
  std::string base_dir;
  try {
    if (path == "-") {
      source = "<stdin>";
      base_dir = ".";
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        error = fmt::format("{}: cannot open the scenario file", path);
        return false;
      }
      std::ostringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
      base_dir = std::filesystem::path(path).parent_path().string();
      if (base_dir.empty()) base_dir = ".";
    }
  } catch (const std::exception& e) {
    error = fmt::format("{}: cannot read the scenario file: {}", source, e.what());
    return false;
  }
  return load_run_config(text, source, base_dir, vars, out, error);
}

}  // namespace pelt
