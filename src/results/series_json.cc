// The time series as the summary's `timeseries` section (columns), and as a file
// (--timeseries FILE: CSV, or JSON lines for a .jsonl name).
#include "results/series_json.h"

#include <cmath>
#include <sstream>

#include "results/summary.h"

namespace pelt {
namespace {

using nlohmann::json;

constexpr const char* kErrorNames[] = {"connect", "read", "write", "timeout", "status"};
constexpr const char* kStatusClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
constexpr const char* kLatencyStats[] = {"avg", "min", "p50", "p90", "p95", "p99", "max"};

// One statistic of a histogram, in ms; NaN when it is empty.
double stat_ms(const SeriesHistogram& h, std::string_view stat) {
  if (h.count() == 0) return std::nan("");
  double us = 0;
  if (stat == "avg") us = h.mean();
  else if (stat == "min") us = static_cast<double>(h.min());
  else if (stat == "max") us = static_cast<double>(h.max());
  else if (stat == "p50") us = static_cast<double>(h.percentile(50));
  else if (stat == "p90") us = static_cast<double>(h.percentile(90));
  else if (stat == "p95") us = static_cast<double>(h.percentile(95));
  else if (stat == "p99") us = static_cast<double>(h.percentile(99));
  return us / 1000.0;
}

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

const char* scope_name(SeriesScope s) {
  switch (s) {
    case SeriesScope::kRun:
      return "run";
    case SeriesScope::kScenario:
      return "scenario";
    case SeriesScope::kName:
      return "name";
  }
  return "run";
}

std::string scenario_name(const RunInfo& info, uint32_t i) {
  return i < info.scenarios.size() ? info.scenarios[i].name : "scenario_" + std::to_string(i);
}

// The series' point in bucket b, or an empty one.
const SeriesPoint& point_in(const TimeSeries::Bucket& b, const SeriesKey& key) {
  static const SeriesPoint kEmpty;
  const auto it = b.series.find(key);
  return it == b.series.end() ? kEmpty : it->second;
}

json series_columns(const TimeSeries& ts, const SeriesKey& key, const RunInfo& info, size_t from) {
  json s;
  s["scope"] = scope_name(key.scope);
  if (key.scope != SeriesScope::kRun) s["scenario"] = scenario_name(info, key.scenario);
  if (key.scope == SeriesScope::kName) {
    s["name"] = key.name;
    s["method"] = key.method;
  }
  json requests = json::array(), failed = json::array(), sent = json::array(), received = json::array();
  json errors = json::object(), status = json::object(), latency = json::object(), lag = json::object();
  json encoded = json::array(), lag_encoded = json::array(), vus = json::array(), vus_max = json::array();
  json target_vus = json::array(), target_rate = json::array();
  json iterations = json::array(), dropped = json::array(), interrupted = json::array();
  std::map<int, json> codes;
  const bool gauges = key.scope != SeriesScope::kName;
  const auto& buckets = ts.buckets();
  for (size_t i = from; i < buckets.size(); ++i) {
    const SeriesPoint& p = point_in(buckets[i], key);
    requests.push_back(p.requests);
    failed.push_back(p.failed);
    for (size_t k = 0; k < SeriesPoint::kErrorKinds; ++k) errors[kErrorNames[k]].push_back(p.errors[k]);
    for (size_t k = 0; k < SeriesPoint::kStatusClasses; ++k) status[kStatusClasses[k]].push_back(p.status_class[k]);
    sent.push_back(p.bytes_sent);
    received.push_back(p.bytes_received);
    for (const char* stat : kLatencyStats) latency[stat].push_back(number_or_null(stat_ms(p.latency, stat)));
    encoded.push_back(p.latency.encode());
    if (key.scope == SeriesScope::kName) {
      for (const auto& [code, n] : p.status_codes) {
        json& column = codes[code];
        if (column.is_null()) column = json::array();
        while (column.size() < i - from) column.push_back(0);
        column.push_back(n);
      }
    }
    if (gauges) {
      vus.push_back(p.vus);
      vus_max.push_back(p.vus_max);
      target_vus.push_back(number_or_null(p.target_vus));
      target_rate.push_back(number_or_null(p.target_rate));
      iterations.push_back(p.iterations);
      dropped.push_back(p.dropped_iterations);
      interrupted.push_back(p.interrupted_iterations);
      for (const char* stat : {"p50", "p99", "max"}) lag[stat].push_back(number_or_null(stat_ms(p.send_lag, stat)));
      lag_encoded.push_back(p.send_lag.encode());
    }
  }
  s["requests"] = requests;
  s["failed"] = failed;
  s["errors"] = errors;
  s["status"] = status;
  s["bytes_sent"] = sent;
  s["bytes_received"] = received;
  s["latency_ms"] = latency;
  s["latency_histogram_us"] = encoded;
  if (key.scope == SeriesScope::kName) {
    json by_code = json::object();
    const size_t n = buckets.size() - from;
    for (auto& [code, column] : codes) {
      while (column.size() < n) column.push_back(0);
      by_code[std::to_string(code)] = column;
    }
    s["status_codes"] = by_code;
  }
  if (gauges) {
    s["vus"] = vus;
    s["vus_max"] = vus_max;
    s["target_vus"] = target_vus;
    s["target_rate"] = target_rate;
    s["iterations"] = iterations;
    s["dropped_iterations"] = dropped;
    s["interrupted_iterations"] = interrupted;
    s["send_lag_ms"] = lag;
    s["send_lag_histogram_us"] = lag_encoded;
  }
  return s;
}

// One row of the file form: a series' figures in one bucket.
json row(const TimeSeries::Bucket& b, const SeriesKey& key, const SeriesPoint& p, const RunInfo& info) {
  json r;
  r["t_seconds"] = b.start_s;
  r["width_seconds"] = b.width_s;
  r["scope"] = scope_name(key.scope);
  r["scenario"] = key.scope == SeriesScope::kRun ? "" : scenario_name(info, key.scenario);
  r["name"] = key.name;
  r["method"] = key.method;
  r["requests"] = p.requests;
  r["failed"] = p.failed;
  for (size_t k = 0; k < SeriesPoint::kErrorKinds; ++k) r[std::string("errors_") + kErrorNames[k]] = p.errors[k];
  for (size_t k = 0; k < SeriesPoint::kStatusClasses; ++k) r[std::string("status_") + kStatusClasses[k]] = p.status_class[k];
  r["bytes_sent"] = p.bytes_sent;
  r["bytes_received"] = p.bytes_received;
  r["vus"] = p.vus;
  r["vus_max"] = p.vus_max;
  r["target_vus"] = number_or_null(p.target_vus);
  r["target_rate_per_s"] = number_or_null(p.target_rate);
  r["iterations"] = p.iterations;
  r["dropped_iterations"] = p.dropped_iterations;
  r["interrupted_iterations"] = p.interrupted_iterations;
  for (const char* stat : kLatencyStats) r[std::string("latency_") + stat + "_ms"] = number_or_null(stat_ms(p.latency, stat));
  for (const char* stat : {"p50", "p99", "max"}) r[std::string("send_lag_") + stat + "_ms"] = number_or_null(stat_ms(p.send_lag, stat));
  return r;
}

// The columns of the CSV form, in order (also the keys of each JSON line).
const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> kColumns = [] {
    std::vector<std::string> c = {"t_seconds", "width_seconds", "scope", "scenario", "name", "method",
                                  "requests", "failed"};
    for (const char* e : kErrorNames) c.push_back(std::string("errors_") + e);
    for (const char* s : kStatusClasses) c.push_back(std::string("status_") + s);
    for (const char* f : {"bytes_sent", "bytes_received", "vus", "vus_max", "target_vus",
                          "target_rate_per_s", "iterations", "dropped_iterations", "interrupted_iterations"}) {
      c.push_back(f);
    }
    for (const char* stat : kLatencyStats) c.push_back(std::string("latency_") + stat + "_ms");
    for (const char* stat : {"p50", "p99", "max"}) c.push_back(std::string("send_lag_") + stat + "_ms");
    return c;
  }();
  return kColumns;
}

std::string csv_field(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }
  return v.dump();
}

}  // namespace

json timeseries_json(const TimeSeries& ts, const RunInfo& info, size_t from) {
  json j;
  j["start_unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                           info.started_at.time_since_epoch()).count();
  j["from"] = from;
  json t = json::array(), width = json::array();
  const auto& buckets = ts.buckets();
  for (size_t i = from; i < buckets.size(); ++i) {
    t.push_back(buckets[i].start_s);
    width.push_back(buckets[i].width_s);
  }
  j["t"] = t;
  j["width"] = width;
  json series = json::array();
  for (const SeriesKey& key : ts.keys()) series.push_back(series_columns(ts, key, info, from));
  j["series"] = series;
  return j;
}

std::string timeseries_file_text(const TimeSeries& ts, const RunInfo& info, bool json_lines) {
  std::ostringstream out;
  const std::vector<SeriesKey> keys = ts.keys();
  if (!json_lines) {
    const auto& cols = csv_columns();
    for (size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << cols[i];
    out << "\n";
  }
  for (const TimeSeries::Bucket& b : ts.buckets()) {
    for (const SeriesKey& key : keys) {
      const auto it = b.series.find(key);
      if (it == b.series.end()) continue;
      const json r = row(b, key, it->second, info);
      if (json_lines) {
        out << r.dump() << "\n";
        continue;
      }
      const auto& cols = csv_columns();
      for (size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << csv_field(r[cols[i]]);
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace pelt
