// The JSON document (docs/OUTPUT.md, docs/summary.schema.json).

#include <cmath>
#include <ctime>

#include "results/series_json.h"
#include "results/summary_stats.h"
#include "results/summary.h"
#include "util/atomic_file.h"

namespace pelt {
namespace {

using nlohmann::json;

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }
// A percentile in ms, interpolated as k6 does while the histogram holds few samples.
double q_ms(const Histogram& h, double p) {
  return h.quantile(p) / 1000.0;
}

json histogram_ms(const Histogram& h) {
  json j;
  j["count"] = h.count();
  j["avg"] = h.mean() / 1000.0;
  j["min"] = ms(h.min());
  j["med"] = q_ms(h, 50);
  j["max"] = ms(h.max());
  j["stdev"] = h.stdev() / 1000.0;
  j["p90"] = q_ms(h, 90);
  j["p95"] = q_ms(h, 95);
  j["p99"] = q_ms(h, 99);
  j["p99_9"] = q_ms(h, 99.9);
  j["p99_99"] = q_ms(h, 99.99);
  return j;
}

const char* kind_name(CustomKind kind) {
  switch (kind) {
    case CustomKind::kCounter:
      return "counter";
    case CustomKind::kGauge:
      return "gauge";
    case CustomKind::kRate:
      return "rate";
    case CustomKind::kTrend:
      return "trend";
  }
  return "counter";
}

// A custom metric's figures: as the built-in metrics of its kind, plus what it is.
json custom_json(const CustomFigures& f, CustomKind kind, bool is_time, double secs) {
  json j;
  switch (kind) {
    case CustomKind::kTrend:
      // (values are kept x 1000: histogram_ms gives them in ms for times, else in their unit)
      j = histogram_ms(f.trend ? *f.trend : Histogram());
      break;
    case CustomKind::kRate:
      j = {{"rate",
            f.samples ? static_cast<double>(f.nonzero) / static_cast<double>(f.samples) : 0.0},
           {"passes", f.nonzero},
           {"fails", f.samples - f.nonzero},
           {"total", f.samples}};
      break;
    case CustomKind::kCounter:
      j = {{"count", f.sum}, {"rate", f.sum / secs}};
      break;
    case CustomKind::kGauge:
      j = {{"value", f.last}, {"min", f.samples ? f.min : 0.0}, {"max", f.samples ? f.max : 0.0}};
      break;
  }
  j["custom"] = true;
  j["kind"] = kind_name(kind);
  j["is_time"] = is_time;
  return j;
}

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

// "2026-12-05T23:01:02.345Z"
std::string iso_utc(std::chrono::system_clock::time_point t) {
  const auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms_total % 1000));
  return out;
}

// metrics: every catalogue metric over the whole run.
json metrics_json(const RunReport& r) {
  const MetricSource source = r.source();
  Selection all;
  select({}, source, all);
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  json m = json::object();
  for (const MetricDef& def : metric_catalogue()) {
    const std::string name(def.name);
    switch (def.type) {
      case MetricType::kTrend:
        m[name] = histogram_ms(read_trend(def, all));
        break;
      case MetricType::kRate: {
        const RateParts p = read_rate(def, all);
        m[name] = {{"rate", p.total ? static_cast<double>(p.part) / static_cast<double>(p.total) : 0.0},
                   {std::string(def.part_name), p.part},
                   {std::string(def.other_name), p.total - p.part},
                   {"total", p.total}};
        break;
      }
      case MetricType::kCounter: {
        const uint64_t n = read_counter(def, all);
        m[name] = {{"count", n}, {"rate", static_cast<double>(n) / secs}};
        break;
      }
      case MetricType::kGauge:
        m[name] = {{"value", read_gauge(def, all)}};
        break;
    }
  }
  for (const CustomMetricInfo& info : r.info.custom_metrics) {
    m[info.name] =
        custom_json(read_custom(custom_metric_def(info), all), info.kind, info.is_time, secs);
  }
  return m;
}

}  // namespace

std::string capped_tag_note(const std::string& scenario, const std::string& tag) {
  if (tag.empty()) {
    return "scenario " + scenario + ": more than " + std::to_string(WorkerStats::kMaxTagSets) +
           " request tag sets; requests with new ones count under their name alone";
  }
  return "scenario " + scenario + ": request tag \"" + tag + "\" had more than " +
         std::to_string(WorkerStats::kMaxTagValues) + " values; later ones count as \"other\"";
}

namespace {

json stages_json(const RunReport& r, size_t si) {
  const ScenarioStats& sc = r.stats.scenarios[si];
  const ScenarioInfo& info = r.info.scenarios[si];
  json stages = json::array();
  for (size_t st = 0; st < sc.stages.size() && st < info.stages.size(); ++st) {
    const StageStats& ss = sc.stages[st];
    const StageInfo& stage = info.stages[st];
    const double len = r.stage_seconds(si, st);
    const uint64_t n = ss.requests.ended();
    stages.push_back(
        {{"index", st},
         {"target", stage.target},
         {"target_unit", info.arrival_rate ? "iterations/s" : "vus"},
         {"start_seconds", seconds(stage.start)},
         {"duration_seconds", seconds(stage.length)},
         {"ran_seconds", len},
         {"requests", n},
         {"rps", len > 0 ? static_cast<double>(n) / len : 0.0},
         {"failed", ss.requests.failed()},
         {"error_rate",
          n ? static_cast<double>(ss.requests.failed()) / static_cast<double>(n) : 0.0},
         {"dropped_iterations", ss.dropped_iterations},
         {"p50_ms", q_ms(ss.latency, 50)},
         {"p95_ms", q_ms(ss.latency, 95)},
         {"p99_ms", q_ms(ss.latency, 99)}});
    if (r.observe) stages.back()["observe"] = observe_stage_json(*r.observe, si, st);
  }
  return stages;
}

// HPACK's output over its input, or null before any header was sent (received).
json ratio(uint64_t wire, uint64_t fields) {
  if (fields == 0) return nullptr;
  return static_cast<double>(wire) / static_cast<double>(fields);
}

json http2_json(const Http2Stats& h) {
  json j;
  for (const Http2Counter& c : kHttp2Counters) j[c.name] = h.*c.member;
  j["header_compression_sent"] = ratio(h.header_bytes_sent, h.header_fields_sent);
  j["header_compression_received"] = ratio(h.header_bytes_received, h.header_fields_received);
  if (h.peer_max_concurrent_streams == Http2Stats::kUnlimited) {
    j["peer_max_concurrent_streams"] = nullptr;
  } else {
    j["peer_max_concurrent_streams"] = h.peer_max_concurrent_streams;
  }
  return j;
}

}  // namespace

json build_summary_json(const RunReport& r) {
  const WorkerStats& s = r.stats;
  const RunInfo& info = r.info;
  json j;
  j["schema"] = kSummarySchema;
  j["version"] = info.version;
  j["run_id"] = info.run_id;
  j["target"] = info.target;
  j["mode"] = info.quick ? "quick" : "scenario";
  j["source"] = info.source;
  j["command_line"] = info.command_line;
  j["started_at"] = iso_utc(info.started_at);
  j["ended_at"] = iso_utc(r.ended_at);
  j["threads"] = info.threads;
  j["http"] = info.http;
  j["streams"] = info.streams;
  j["connections"] = info.connections;
  j["rate"] = info.rate;
  j["duration_seconds"] = r.elapsed_seconds;
  if (r.live) j["elapsed_seconds"] = r.elapsed_seconds;
  j["planned_seconds"] = info.planned_seconds;
  j["interrupted"] = r.interrupted;
  j["aborted"] = r.aborted;
  j["abort_reason"] = r.abort_reason;
  j["thresholds_ok"] = r.thresholds_ok;
  json th = json::array();
  json warnings = json::array();  // what the reader should know about the figures
  for (const ThresholdOutcome& t : r.thresholds) {
    th.push_back({{"metric", t.config->metric},
                  {"key", t.config->key},
                  {"expression", t.config->expression},
                  {"ok", t.result.ok},
                  {"has_data", t.result.has_data},
                  {"observed", t.result.observed},
                  {"text", t.result.text},
                  {"warning", t.result.warning},
                  {"abort_on_fail", t.config->abort_on_fail},
                  {"tags", t.config->tags}});
    if (!t.result.warning.empty()) {
      warnings.push_back("threshold " + t.config->key + " " + t.config->expression + ": " +
                         t.result.warning);
    }
  }
  j["thresholds"] = th;
  j["metrics"] = metrics_json(r);

  // wrk's figures, in microseconds, for scripts that compare with wrk.
  json lat = {{"min", s.latency.min()}, {"max", s.latency.max()}, {"mean", s.latency.mean()},
              {"stdev", s.latency.stdev()}};
  json pct;
  for (double p : {50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    char key[16];
    std::snprintf(key, sizeof(key), "%g", p);
    pct[key] = s.latency.percentile(p);
  }
  lat["percentiles"] = pct;
  j["latency_us"] = lat;
  j["latency_histogram_us"] = s.latency.encode();
  j["requests_per_thread_per_second"] = {{"mean", s.req_per_sec.mean()}, {"stdev", s.req_per_sec.stdev()},
                                         {"max", s.req_per_sec.max()}};
  j["ledger"] = {{"sent", s.ledger.sent},
                 {"completed", s.ledger.completed},
                 {"failed", s.ledger.failed},
                 {"timed_out", s.ledger.timed_out},
                 {"in_flight", s.ledger.in_flight}};
  j["errors"] = {{"connect", s.errors.connect},
                 {"read", s.errors.read},
                 {"write", s.errors.write},
                 {"timeout", s.errors.timeout},
                 {"status", s.errors.status}};
  j["error_reasons"] = s.error_reasons;
  j["error_samples"] = s.error_samples;
  json status = json::object();
  for (size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code]) status[std::to_string(code)] = s.status[code];
  }
  j["status_codes"] = status;
  j["connects"] = s.connects;
  j["reconnects"] = s.reconnects;
  j["tls"] = {{"handshakes", s.tls_handshakes}, {"resumed", s.tls_resumed}};
  j["http2"] = http2_json(s.http2);
  json checks = json::array();
  for (const auto& [name, c] : s.checks) checks.push_back({{"name", name}, {"passes", c.passes}, {"fails", c.fails}});
  j["checks"] = checks;
  j["script_errors"] = {{"count", s.script_errors}, {"samples", s.script_error_samples}};

  json names = json::array();
  json scenarios = json::array();
  for (size_t si = 0; si < s.scenarios.size() && si < info.scenarios.size(); ++si) {
    const ScenarioStats& sc = s.scenarios[si];
    const ScenarioInfo& sinfo = info.scenarios[si];
    for (const auto& [key, ns] : sc.names) {
      json st = json::object();
      for (const auto& [code, n] : ns.status) st[std::to_string(code)] = n;
      json tags = json::object();
      for (const auto& [k, v] : key.tags) tags[k] = v;
      names.push_back({{"scenario", sinfo.name},
                       {"name", key.name},
                       {"tags", tags},
                       {"method", ns.method},
                       {"requests", ns.requests.ended()},
                       {"failed", ns.requests.failed()},
                       {"status_codes", st},
                       {"failure_reasons", ns.failure_reasons},
                       {"http_req_duration", histogram_ms(ns.latency)}});
    }
    scenarios.push_back({{"name", sinfo.name},
                         {"executor", sinfo.executor},
                         {"start_seconds", seconds(sinfo.start_time)},
                         {"iterations", sc.iterations},
                         {"dropped_iterations", sc.dropped_iterations},
                         {"interrupted_iterations", sc.interrupted_iterations},
                         {"vus_max", sc.vus_max},
                         {"tags", sinfo.tags},
                         {"capped_tags", sc.capped_tags},
                         {"stages", stages_json(r, si)}});
    for (const std::string& tag : sc.capped_tags) {
      warnings.push_back(capped_tag_note(sinfo.name, tag));
    }
  }
  // The scripts' own metrics by scenario and tag set.
  json custom = json::array();
  for (size_t si = 0; si < s.scenarios.size() && si < info.scenarios.size(); ++si) {
    for (const auto& [key, f] : s.scenarios[si].custom) {
      json tags = json::object();
      for (const auto& [k, v] : key.tags) tags[k] = v;
      json entry = custom_json(f, f.kind, f.is_time, std::max(r.elapsed_seconds, 1e-9));
      entry["scenario"] = info.scenarios[si].name;
      entry["name"] = key.name;
      entry["tags"] = tags;
      custom.push_back(entry);
    }
  }
  j["custom_metrics"] = custom;
  j["names"] = names;
  j["scenarios"] = scenarios;
  j["warnings"] = warnings;
  const BreakingPoint& bp = r.breaking_point;
  if (bp.found) {
    const ScenarioInfo& sc = info.scenarios[bp.scenario];
    j["breaking_point"] = {{"scenario", sc.name},
                           {"stage", bp.stage},
                           {"description", bp.description},
                           {"at_seconds", seconds(sc.start_time + sc.stages[bp.stage].start)}};
  } else {
    j["breaking_point"] = nullptr;
  }
  if (r.capacity) j["capacity"] = capacity_json(*r.capacity);
  if (r.observe) {
    j["observe"] = observe_json(*r.observe);
    if (bp.found) j["breaking_point"]["server"] = observe_stage_text(*r.observe, bp.scenario, bp.stage);
  }
  json outputs = json::array();
  for (const OutputSummary& o : r.outputs) outputs.push_back(o.details);
  j["outputs"] = outputs;
  // Exact figures and the fleet section, for pelt merge (results/summary_stats.h).
  const auto unix_ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  j["fleet"] = fleet_to_json(info.fleet, unix_ms(info.started_at), unix_ms(r.ended_at));
  j["stats"] = stats_to_json(s);
  if (r.timeseries && !r.timeseries->buckets().empty()) {
    j["timeseries"] = timeseries_json(*r.timeseries, info);
    j["timeseries"].erase("from");
  }
  return j;
}

bool write_summary_json(const std::string& path, const RunReport& report, std::string& error) {
  return write_file_atomic(path, build_summary_json(report).dump(2) + "\n", error);
}

}  // namespace pelt
