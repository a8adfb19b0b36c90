#include "observe/observe_config.h"

#include <fmt/format.h>

#include <algorithm>

namespace pelt {
namespace {

struct Preset {
  const char* label;
  const char* unit;
  const char* query;  // $S: the label selector, $W: the rate window
};

// node-exporter: the machine's CPU busy share, memory in use, load average, network bytes.
const std::vector<Preset>& node_exporter() {
  static const std::vector<Preset> kAll = {
      {"cpu", "%", "1 - avg(rate(node_cpu_seconds_total{mode=\"idle\",$S}[$W]))"},
      {"memory_used", "bytes",
       "sum(node_memory_MemTotal_bytes{$S} - node_memory_MemAvailable_bytes{$S})"},
      {"load1", "", "avg(node_load1{$S})"},
      {"net_rx", "B/s", "sum(rate(node_network_receive_bytes_total{device!=\"lo\",$S}[$W]))"},
      {"net_tx", "B/s", "sum(rate(node_network_transmit_bytes_total{device!=\"lo\",$S}[$W]))"},
  };
  return kAll;
}

// cAdvisor: the containers' CPU (in cores) and working-set memory.
const std::vector<Preset>& cadvisor() {
  static const std::vector<Preset> kAll = {
      {"container_cpu", "cores", "sum(rate(container_cpu_usage_seconds_total{$S}[$W]))"},
      {"container_memory", "bytes", "sum(container_memory_working_set_bytes{$S})"},
  };
  return kAll;
}

const std::vector<Preset>* preset(const std::string& set) {
  if (set == "node-exporter") return &node_exporter();
  if (set == "cadvisor") return &cadvisor();
  return nullptr;
}

std::vector<std::string> sets_in_use(const ObserveConfig& c) {
  if (c.defaults_set) return c.defaults;
  return c.queries.empty() ? std::vector<std::string>{"node-exporter"} : std::vector<std::string>{};
}

// "30s", "1500ms": a duration as PromQL writes it.
std::string promql_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

const std::vector<std::string>& observe_default_sets() {
  static const std::vector<std::string> kSets = {"node-exporter", "cadvisor"};
  return kSets;
}

std::vector<std::string> observe_default_labels(const std::string& set) {
  std::vector<std::string> out;
  if (const auto* p = preset(set)) {
    for (const Preset& q : *p) out.push_back(q.label);
  }
  return out;
}

std::vector<std::string> observe_labels(const ObserveConfig& config) {
  std::vector<std::string> out;
  for (const std::string& set : sets_in_use(config)) {
    for (const std::string& l : observe_default_labels(set)) out.push_back(l);
  }
  for (const ObserveQuery& q : config.queries) {
    if (std::find(out.begin(), out.end(), q.label) == out.end()) out.push_back(q.label);
  }
  return out;
}

std::string promql_regex_literal(const std::string& host) {
  std::string out;
  for (char ch : host) {
    if (std::string_view(".+*?()[]{}|^$\\").find(ch) != std::string_view::npos) out += "\\\\";
    if (ch == '"') out += '\\';
    out += ch;
  }
  return out;
}

std::vector<ObserveQuery> resolve_observe_queries(const ObserveConfig& c,
                                                  const std::string& target_host) {
  std::vector<ObserveQuery> out;
  const std::string window = promql_duration(c.rate_window);
  for (const std::string& set : sets_in_use(c)) {
    const auto* p = preset(set);
    if (!p) continue;
    std::string selector;
    if (set == "node-exporter") {
      const std::string host = target_host.size() > 1 && target_host.front() == '['
                                   ? target_host.substr(1, target_host.size() - 2)
                                   : target_host;
      const std::string regex =
          c.instance.empty() ? promql_regex_literal(host) + "(:[0-9]+)?" : c.instance;
      selector = fmt::format("instance=~\"{}\"", regex);
    } else {
      selector = fmt::format("name=~\"{}\"", c.container.empty() ? ".+" : c.container);
    }
    for (const Preset& q : *p) {
      std::string text = q.query;
      replace_all(text, "$S", selector);
      replace_all(text, "$W", window);
      out.push_back({q.label, text, q.unit, set + " defaults"});
    }
  }
  for (const ObserveQuery& q : c.queries) {
    ObserveQuery r = q;
    replace_all(r.query, "${TARGET_HOST}", target_host);
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const ObserveQuery& o) { return o.label == q.label; });
    if (same != out.end()) {
      *same = r;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool check_observe_label(const std::string& label, std::string& error) {
  const bool ok = !label.empty() && !(label[0] >= '0' && label[0] <= '9') &&
                  std::all_of(label.begin(), label.end(), [](char ch) {
                    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
                  });
  if (!ok)
    error = "bad query label \"" + label +
            "\": use lower-case letters, digits and _, not starting with a digit";
  return ok;
}

}  // namespace pelt
