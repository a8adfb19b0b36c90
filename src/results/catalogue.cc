#include "results/catalogue.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace pelt {
namespace {

constexpr unsigned kRequestTags = kTagScenario | kTagName | kTagMethod | kTagStage;
// Filters of the timings kept per request name (no stage: they are not kept per stage).
constexpr unsigned kTimingTags = kTagScenario | kTagName | kTagMethod | kTagStatus | kTagExpected;
constexpr uint64_t kMaxStatusCode = 999;

const std::string* tag_value(const std::map<std::string, std::string>& tags, const char* key) {
  const auto it = tags.find(key);
  return it == tags.end() ? nullptr : &it->second;
}

// A non-negative decimal integer of at most `max` (whole string).
std::optional<uint64_t> parse_index(const std::string& text, uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

// What a tag filters: a scenario tag selects scenarios, as `scenario` does.
unsigned filter_bit(std::string_view tag) {
  const unsigned bit = tag_bit(tag);
  return bit != 0 ? bit : kTagScenario;
}

// A request's tag: its own (pelt.tag), else its scenario's; null when neither has it.
const std::string* effective_tag(const NameKey& key, const std::map<std::string, std::string>* own,
                                 const std::string& tag) {
  if (const std::string* v = key.tag(tag)) return v;
  if (!own) return nullptr;
  const auto it = own->find(tag);
  return it == own->end() ? nullptr : &it->second;
}

bool tags_match(const Selection& sel, const NameKey& key,
                const std::map<std::string, std::string>* own) {
  for (const auto& [tag, value] : sel.tag_filters) {
    const std::string* have = effective_tag(key, own, tag);
    if (!have || *have != value) return false;
  }
  return true;
}

template <typename F>
void for_each_name(const Selection& sel, F&& f) {
  for (const auto& [sc, own] : sel.request_scenarios) {
    for (const auto& [key, ns] : sc->names) {
      if (sel.name && key.name != *sel.name) continue;
      if (sel.method && ns.method != *sel.method) continue;
      if (!tags_match(sel, key, own)) continue;
      f(ns);
    }
  }
}

template <typename F>
void for_each_stage(const Selection& sel, F&& f) {
  for (const ScenarioStats* sc : sel.scenarios) {
    if (*sel.stage < sc->stages.size()) f(sc->stages[*sel.stage]);
  }
}

// A figure of the selection's scope: merged over the selected stage of each scenario in
// scope, over the request names in scope, or the whole run's.
template <typename T, typename OfStage, typename OfName, typename OfRun>
T gather(const Selection& sel, OfStage of_stage, OfName of_name, OfRun of_run) {
  T out{};
  if (sel.stage) {
    for_each_stage(sel, [&](const StageStats& s) { out.merge(of_stage(s)); });
  } else if (sel.by_name()) {
    for_each_name(sel, [&](const NameStats& ns) { out.merge(of_name(ns)); });
  } else {
    out = of_run(*sel.stats);
  }
  return out;
}

// How the requests in scope ended.
RequestCounts request_counts(const Selection& sel) {
  return gather<RequestCounts>(
      sel, [](const StageStats& s) { return s.requests; },
      [](const NameStats& ns) { return ns.requests; },
      [](const WorkerStats& st) {
        RequestCounts c;
        c.responses = st.ledger.completed;
        c.failed_responses = st.errors.status;
        c.no_response = st.ledger.failed + st.ledger.timed_out;
        return c;
      });
}

}  // namespace

const std::vector<MetricDef>& metric_catalogue() {
  static const std::vector<MetricDef> kAll = {
      {"http_reqs", MetricType::kCounter, kRequestTags | kTagStatus | kTagExpected, "requests",
       "requests that ended: answered, broken or timed out", "", ""},
      {"http_req_duration", MetricType::kTrend, kRequestTags | kTagStatus | kTagExpected, "ms",
       "request duration (from the scheduled send in open loop)", "", ""},
      {"http_req_failed", MetricType::kRate, kRequestTags | kTagStatus | kTagExpected, "ratio",
       "share of requests that failed: status >= 400, broken or timed out", "fails", "passes"},
      {"http_req_connecting", MetricType::kTrend, 0, "ms", "TCP connect time", "", ""},
      {"http_req_tls_handshaking", MetricType::kTrend, 0, "ms", "TLS handshake time", "", ""},
      {"http_req_waiting", MetricType::kTrend, kTimingTags, "ms", "time to the first response byte",
       "", ""},
      {"http_req_blocked", MetricType::kTrend, kTimingTags, "ms",
       "time a request waited for a usable connection (connect and TLS included, 0 on a kept-alive "
       "one)",
       "", ""},
      {"http_req_sending", MetricType::kTrend, kTimingTags, "ms",
       "time to write a request: pelt hands it to the socket in one call and does not time it, so "
       "0 for every request sent",
       "", ""},
      {"http_req_receiving", MetricType::kTrend, kTimingTags, "ms",
       "from the first response byte to the last", "", ""},
      {"service_time", MetricType::kTrend, 0, "ms", "from the actual send to the response", "", ""},
      {"send_lag", MetricType::kTrend, 0, "ms", "how late sends left, against the schedule", "",
       ""},
      {"checks", MetricType::kRate, kTagCheck, "ratio", "share of checks that held", "passes",
       "fails"},
      {"iterations", MetricType::kCounter, kTagScenario, "iterations", "iterations finished", "",
       ""},
      {"iteration_duration", MetricType::kTrend, kTagScenario, "ms",
       "time an iteration takes: delay(), its requests and the think time after it", "", ""},
      {"dropped_iterations", MetricType::kCounter, kTagScenario | kTagStage, "iterations",
       "arrivals that found no VU, and iterations max_duration left unstarted", "", ""},
      {"interrupted_iterations", MetricType::kCounter, kTagScenario, "iterations",
       "iterations cut unfinished (graceful_stop, graceful_ramp_down, or the run stopped)", "", ""},
      {"data_received", MetricType::kCounter, 0, "bytes", "bytes received, headers included", "",
       ""},
      {"data_sent", MetricType::kCounter, 0, "bytes", "bytes sent", "", ""},
      {"vus", MetricType::kGauge, kTagScenario, "vus", "VUs running now", "", ""},
      {"vus_max", MetricType::kGauge, kTagScenario, "vus", "VUs allocated", "", ""},
  };
  return kAll;
}

MetricDef custom_metric_def(const CustomMetricInfo& info) {
  MetricDef d{};
  d.name = info.name;
  switch (info.kind) {
    case CustomKind::kCounter:
      d.type = MetricType::kCounter;
      break;
    case CustomKind::kGauge:
      d.type = MetricType::kGauge;
      break;
    case CustomKind::kRate:
      d.type = MetricType::kRate;
      d.part_name = "passes";
      d.other_name = "fails";
      break;
    case CustomKind::kTrend:
      d.type = MetricType::kTrend;
      break;
  }
  d.tags = kTagScenario;  // (its own tags filter as a scenario's do)
  d.unit = info.is_time ? "ms" : "";
  d.description = "a script's own metric";
  d.custom = true;
  d.is_time = info.is_time;
  return d;
}

std::optional<MetricDef> find_metric(std::string_view name, const MetricSource& source) {
  if (const MetricDef* d = find_metric(name)) return *d;
  if (source.custom) {
    for (const CustomMetricInfo& info : *source.custom) {
      if (info.name == name) return custom_metric_def(info);
    }
  }
  return std::nullopt;
}

const MetricDef* find_metric(std::string_view name) {
  for (const MetricDef& m : metric_catalogue()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

unsigned tag_bit(std::string_view tag) {
  if (tag == "scenario") return kTagScenario;
  if (tag == "name") return kTagName;
  if (tag == "method") return kTagMethod;
  if (tag == "status") return kTagStatus;
  if (tag == "stage") return kTagStage;
  if (tag == "check") return kTagCheck;
  if (tag == "expected_response") return kTagExpected;
  return 0;
}

bool check_tags(const MetricDef& metric, const std::map<std::string, std::string>& tags,
                std::string& error) {
  for (const auto& [tag, value] : tags) {
    const unsigned bit = filter_bit(tag);
    if (!(bit & metric.tags)) {
      error = "metric '" + std::string(metric.name) + "' cannot be filtered by tag '" + tag + "'";
      return false;
    }
    if (bit == kTagStage && !parse_index(value, UINT32_MAX)) {
      error = "stage must be a stage index (0, 1, ...), not '" + value + "'";
      return false;
    }
    if (bit == kTagStatus && !parse_index(value, kMaxStatusCode)) {
      error = "status must be a status code (100..999, or 0 for no response), not '" + value + "'";
      return false;
    }
    if (bit == kTagExpected && value != "true" && value != "false") {
      error = "expected_response must be true or false, not '" + value + "'";
      return false;
    }
  }
  const bool stage = tags.count("stage") != 0;
  if (stage && (tags.count("name") || tags.count("method") || tags.count("status") ||
                tags.count("expected_response"))) {
    error = "stage can only be combined with scenario";
    return false;
  }
  return true;
}

bool select(const std::map<std::string, std::string>& tags, const MetricSource& in, Selection& sel) {
  sel = Selection{};
  sel.stats = in.stats;
  sel.name = tag_value(tags, "name");
  sel.method = tag_value(tags, "method");
  sel.check = tag_value(tags, "check");
  if (const std::string* e = tag_value(tags, "expected_response")) {
    if (*e != "true" && *e != "false") return false;
    sel.expected = *e == "true";
  }
  if (const std::string* s = tag_value(tags, "status")) {
    const auto code = parse_index(*s, kMaxStatusCode);
    if (!code) return false;
    sel.status = static_cast<int>(*code);
  }
  if (const std::string* s = tag_value(tags, "stage")) {
    const auto index = parse_index(*s, UINT32_MAX);
    if (!index) return false;
    sel.stage = static_cast<size_t>(*index);
  }
  const std::string* scenario = tag_value(tags, "scenario");
  // Other tags are the scenarios' own (their `tags` tables) or the requests' (pelt.tag).
  for (const auto& [tag, value] : tags) {
    if (tag_bit(tag) == 0) sel.tag_filters.emplace_back(tag, value);
  }
  sel.scenario_filter = scenario != nullptr || !sel.tag_filters.empty();
  bool any = false;  // some scenario or request carries the tags
  for (size_t i = 0; i < in.stats->scenarios.size(); ++i) {
    if (scenario) {
      if (!in.scenario_names || i >= in.scenario_names->size()) return false;
      if ((*in.scenario_names)[i] != *scenario) continue;
    }
    const ScenarioStats* sc = &in.stats->scenarios[i];
    const std::map<std::string, std::string>* own =
        in.scenario_tags && i < in.scenario_tags->size() ? &(*in.scenario_tags)[i] : nullptr;
    sel.request_scenarios.emplace_back(sc, own);
    if (tags_match(sel, NameKey(), own)) {
      sel.scenarios.push_back(sc);
      any = true;
    } else {
      for (const auto& [key, ns] : sc->names) any = any || tags_match(sel, key, own);
      for (const auto& [key, f] : sc->custom) any = any || tags_match(sel, key, own);
    }
  }
  if (scenario && sel.request_scenarios.empty()) return false;
  return sel.tag_filters.empty() || any;
}

namespace {

std::optional<RequestTrend> request_trend(std::string_view metric) {
  if (metric == "http_req_duration") return RequestTrend::kDuration;
  if (metric == "http_req_waiting") return RequestTrend::kWaiting;
  if (metric == "http_req_blocked") return RequestTrend::kBlocked;
  if (metric == "http_req_receiving") return RequestTrend::kReceiving;
  return std::nullopt;
}

// The split a trend under these filters needs (status, expected_response, any filter at all).
std::optional<RequestSplit> split_of(std::string_view metric, bool filtered,
                                     std::optional<int> status, std::optional<bool> expected) {
  const std::optional<RequestTrend> trend = request_trend(metric);
  if (!trend) return std::nullopt;
  const bool split = *trend == RequestTrend::kDuration ? status || expected : filtered;
  if (!split) return std::nullopt;
  RequestSplit s;
  s.trend = *trend;
  s.status = status.value_or(-1);
  s.expected = expected ? (*expected ? 1 : 0) : -1;
  return s;
}

// Requests in scope by status (0: without a response) and expected response.
uint64_t count_requests(const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  if (sel.status) {
    const int code = *sel.status;
    if (sel.expected && *sel.expected != (code > 0 && code < 400)) return 0;
    uint64_t n = 0;
    if (sel.by_name()) {
      for_each_name(sel, [&](const NameStats& ns) {
        if (code == 0) {
          n += ns.requests.no_response;
        } else {
          const auto it = ns.status.find(code);
          n += it == ns.status.end() ? 0 : it->second;
        }
      });
    } else if (code == 0) {
      n = st.ledger.failed + st.ledger.timed_out;
    } else if (static_cast<size_t>(code) < st.status.size()) {
      n = st.status[static_cast<size_t>(code)];
    }
    return n;
  }
  const RequestCounts c = request_counts(sel);
  if (sel.expected) return *sel.expected ? c.responses - c.failed_responses : c.failed();
  return c.ended();
}

}  // namespace

std::optional<RequestSplit> split_for(const MetricDef& metric, const Selection& sel) {
  return split_of(metric.name, sel.by_name() || sel.status || sel.expected, sel.status,
                  sel.expected);
}

std::vector<RequestSplit> request_splits(
    const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& keys) {
  std::vector<RequestSplit> out;
  for (const auto& [metric, tags] : keys) {
    std::optional<int> status;
    std::optional<bool> expected;
    if (const std::string* s = tag_value(tags, "status")) {
      if (const auto code = parse_index(*s, kMaxStatusCode)) status = static_cast<int>(*code);
    }
    if (const std::string* e = tag_value(tags, "expected_response")) expected = *e == "true";
    const auto split = split_of(metric, !tags.empty(), status, expected);
    if (split && std::find(out.begin(), out.end(), *split) == out.end()) out.push_back(*split);
  }
  return out;
}

CustomFigures read_custom(const MetricDef& metric, const Selection& sel) {
  CustomFigures out;
  for (const auto& [sc, own] : sel.request_scenarios) {
    for (const auto& [key, figures] : sc->custom) {
      if (key.name != metric.name || !tags_match(sel, key, own)) continue;
      out.merge(figures);
    }
  }
  return out;
}

Histogram read_trend(const MetricDef& metric, const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  if (metric.custom) {
    const CustomFigures f = read_custom(metric, sel);
    return f.trend ? *f.trend : Histogram();
  }
  if (const auto split = split_for(metric, sel)) {
    Histogram h;
    for_each_name(sel, [&](const NameStats& ns) {
      const auto it = ns.splits.find(split->key());
      if (it != ns.splits.end()) h.merge(it->second);
    });
    return h;
  }
  if (metric.name == "send_lag") return st.send_lag;
  if (metric.name == "service_time") return st.service;
  if (metric.name == "http_req_connecting") return st.connect_time;
  if (metric.name == "http_req_tls_handshaking") return st.tls_time;
  if (metric.name == "http_req_waiting") return st.waiting;
  if (metric.name == "http_req_blocked") return st.blocked;
  if (metric.name == "http_req_receiving") return st.receiving;
  if (metric.name == "http_req_sending") {
    // One 0 for every request sent (see the catalogue entry), or every one in scope.
    Histogram zeros;
    const bool filtered = sel.by_name() || sel.status || sel.expected;
    zeros.record_n(0, filtered ? count_requests(sel) : st.ledger.sent);
    return zeros;
  }
  if (metric.name == "iteration_duration") {
    Histogram h;
    for (const ScenarioStats* sc : sel.scenarios) h.merge(sc->iteration_duration);
    return h;
  }
  // http_req_duration
  return gather<Histogram>(
      sel, [](const StageStats& s) -> const Histogram& { return s.latency; },
      [](const NameStats& ns) -> const Histogram& { return ns.latency; },
      [](const WorkerStats& w) -> const Histogram& { return w.latency; });
}

RateParts read_rate(const MetricDef& metric, const Selection& sel) {
  RateParts r;
  if (metric.custom) {
    const CustomFigures f = read_custom(metric, sel);
    r.part = f.nonzero;
    r.total = f.samples;
    return r;
  }
  if (metric.name == "checks") {
    for (const auto& [name, c] : sel.stats->checks) {
      if (sel.check && name != *sel.check) continue;
      r.part += c.passes;
      r.total += c.passes + c.fails;
    }
    return r;
  }
  // http_req_failed
  if (sel.status || sel.expected) {
    // Failed is not expected: status >= 400 or no response.
    r.total = count_requests(sel);
    const bool failed = sel.status ? *sel.status == 0 || *sel.status >= 400 : !*sel.expected;
    r.part = failed ? r.total : 0;
    return r;
  }
  const RequestCounts c = request_counts(sel);
  r.part = c.failed();
  r.total = c.ended();
  return r;
}

uint64_t read_counter(const MetricDef& metric, const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  uint64_t n = 0;
  if (metric.custom) {
    const double sum = read_custom(metric, sel).sum;
    return sum > 0 ? static_cast<uint64_t>(sum + 0.5) : 0;
  }
  if (metric.name == "data_sent") return st.bytes_written;
  if (metric.name == "data_received") return st.bytes_read;
  if (metric.name == "iterations") {
    for (const ScenarioStats* sc : sel.scenarios) n += sc->iterations;
    return n;
  }
  if (metric.name == "interrupted_iterations") {
    for (const ScenarioStats* sc : sel.scenarios) n += sc->interrupted_iterations;
    return n;
  }
  if (metric.name == "dropped_iterations") {
    if (sel.stage) {
      for_each_stage(sel, [&](const StageStats& s) { n += s.dropped_iterations; });
    } else {
      for (const ScenarioStats* sc : sel.scenarios) n += sc->dropped_iterations;
    }
    return n;
  }
  // http_reqs
  return count_requests(sel);
}

uint64_t read_gauge(const MetricDef& metric, const Selection& sel) {
  if (metric.custom) {
    const double last = read_custom(metric, sel).last;
    return last > 0 ? static_cast<uint64_t>(last + 0.5) : 0;
  }
  // Only the current snapshot is known, so value, min and max all read it.
  uint64_t n = 0;
  for (const ScenarioStats* sc : sel.scenarios) n += metric.name == "vus" ? sc->vus : sc->vus_max;
  return n;
}

namespace {

// "a, b, c" from the first few of `values`, "…" when there are more.
std::string some_of(const std::set<std::string>& values) {
  constexpr size_t kShown = 10;
  std::string out;
  size_t n = 0;
  for (const std::string& v : values) {
    if (n == kShown) return out + ", ...";
    out += (n++ ? ", " : "") + v;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::string unmatched_filters(const std::map<std::string, std::string>& tags,
                              const MetricSource& in, bool with_status) {
  if (!in.stats) return "";
  std::set<std::string> scenarios, names, methods, statuses, checks;
  std::map<std::string, std::set<std::string>> own;  // scenario tag -> values
  for (size_t i = 0; i < in.stats->scenarios.size(); ++i) {
    if (in.scenario_names && i < in.scenario_names->size())
      scenarios.insert((*in.scenario_names)[i]);
    if (in.scenario_tags && i < in.scenario_tags->size()) {
      for (const auto& [k, v] : (*in.scenario_tags)[i]) own[k].insert(v);
    }
    for (const auto& [key, figures] : in.stats->scenarios[i].custom) {
      for (const auto& [k, v] : key.tags) own[k].insert(v);
    }
    for (const auto& [key, ns] : in.stats->scenarios[i].names) {
      if (ns.requests.ended() == 0) continue;
      names.insert(key.name);
      for (const auto& [k, v] : key.tags) own[k].insert(v);
      methods.insert(ns.method);
      for (const auto& [code, count] : ns.status) {
        if (count) statuses.insert(std::to_string(code));
      }
    }
  }
  for (const auto& [name, c] : in.stats->checks) checks.insert(name);
  std::string out;
  auto miss = [&](const std::string& what, const std::string& value,
                  const std::set<std::string>& seen, const std::string& plural) {
    if (seen.count(value)) return;
    out += (out.empty() ? "" : "; ") + what + " \"" + value + "\" (" + plural + ": " +
           some_of(seen) + ")";
  };
  for (const auto& [tag, value] : tags) {
    if (tag == "scenario") {
      miss("no scenario is named", value, scenarios, "scenarios");
    } else if (tag == "name") {
      miss("no request is named", value, names, "names");
    } else if (tag == "method") {
      miss("no request used the method", value, methods, "methods");
    } else if (tag == "status") {
      if (with_status) miss("no response had the status", value, statuses, "statuses");
    } else if (tag == "check") {
      miss("no check is named", value, checks, "checks");
    } else if (tag_bit(tag) == 0) {
      miss("no sample has " + tag + " =", value, own[tag], "values");
    }
  }
  return out;
}

Totals read_totals(const WorkerStats& stats) {
  MetricSource source;
  source.stats = &stats;
  Selection all;
  select({}, source, all);
  Totals t;
  t.http_reqs = read_counter(*find_metric("http_reqs"), all);
  t.http_failed = read_rate(*find_metric("http_req_failed"), all).part;
  t.iterations = read_counter(*find_metric("iterations"), all);
  t.dropped = read_counter(*find_metric("dropped_iterations"), all);
  t.interrupted = read_counter(*find_metric("interrupted_iterations"), all);
  t.vus_max = read_gauge(*find_metric("vus_max"), all);
  const RateParts checks = read_rate(*find_metric("checks"), all);
  t.check_passes = checks.part;
  t.check_total = checks.total;
  return t;
}

}  // namespace pelt
