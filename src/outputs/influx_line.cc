#include "outputs/influx_line.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "results/histogram.h"

namespace pelt {
namespace {

using nlohmann::json;

// Columns copied into fields: where the column is in a series, the field name, integer or not.
struct ColumnField {
  const char* group;  // object holding the column ("" = the series itself)
  const char* key;    // column name
  const char* field;  // field name
  bool integer;       // written as an integer ("12i")
};

constexpr ColumnField kColumns[] = {
    {"", "requests", "requests", true},
    {"", "failed", "failed", true},
    {"", "bytes_sent", "bytes_sent", true},
    {"", "bytes_received", "bytes_received", true},
    {"errors", "connect", "errors_connect", true},
    {"errors", "read", "errors_read", true},
    {"errors", "write", "errors_write", true},
    {"errors", "timeout", "errors_timeout", true},
    {"errors", "status", "errors_status", true},
    {"status", "1xx", "status_1xx", true},
    {"status", "2xx", "status_2xx", true},
    {"status", "3xx", "status_3xx", true},
    {"status", "4xx", "status_4xx", true},
    {"status", "5xx", "status_5xx", true},
    {"status", "other", "status_other", true},
    {"", "vus", "vus", true},
    {"", "vus_max", "vus_max", true},
    {"", "target_vus", "target_vus", false},
    {"", "target_rate", "target_rate", false},
    {"", "iterations", "iterations", true},
    {"", "dropped_iterations", "dropped_iterations", true},
    {"", "interrupted_iterations", "interrupted_iterations", true},
    {"send_lag_ms", "p50", "send_lag_p50", false},
    {"send_lag_ms", "p99", "send_lag_p99", false},
    {"send_lag_ms", "max", "send_lag_max", false},
};

// Latency fields and the percentile each one is (avg, min and max are special).
constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}};

// Number at row i of an array column, if there is one.
std::optional<double> cell(const json* column, size_t i) {
  if (column == nullptr || !column->is_array() || i >= column->size()) return std::nullopt;
  const json& v = (*column)[i];
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const json* column(const json& series, const char* group, const char* key) {
  if (group[0] == '\0') return member(series, key);
  const json* g = member(series, group);
  return g == nullptr ? nullptr : member(*g, key);
}

std::string text(const json& series, const char* key) {
  const json* v = member(series, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// Latency fields of one bucket: from its histogram when there is one, else from latency_ms.
void add_latency(const json& series, size_t i, Histogram& scratch, InfluxPoint& p) {
  const json* hist = member(series, "latency_histogram_us");
  if (hist != nullptr && hist->is_array() && i < hist->size() && (*hist)[i].is_string() &&
      !(*hist)[i].get_ref<const std::string&>().empty()) {
    std::string error;
    if (Histogram::decode((*hist)[i].get_ref<const std::string&>(), scratch, error) &&
        scratch.count() > 0) {
      p.field_float("latency_avg", scratch.mean() / 1000.0);
      p.field_float("latency_min", static_cast<double>(scratch.min()) / 1000.0);
      p.field_float("latency_max", static_cast<double>(scratch.max()) / 1000.0);
      for (const auto& [name, pct] : kPercentiles) {
        p.field_float(std::string("latency_") + name,
                      static_cast<double>(scratch.percentile(pct)) / 1000.0);
      }
      return;
    }
  }
  for (const char* key : {"avg", "min", "max", "p50", "p90", "p95", "p99"}) {
    if (auto v = cell(column(series, "latency_ms", key), i)) {
      p.field_float(std::string("latency_") + key, *v);
    }
  }
}

bool needs_escape(char c) {
  return c == ',' || c == '=' || c == ' ';
}

}  // namespace

std::string influx_escape_measurement(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == ',' || c == ' ') out += '\\';
    out += c;
  }
  if (!out.empty() && out.back() == '\\') out.back() = '/';
  return out;
}

std::string influx_escape_key(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 4);
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\n' || c == '\r') c = ' ';
    if (c == '\\') {
      const bool last = i + 1 == in.size();
      const char next = last ? '\0' : in[i + 1];
      out +=
          last || next == '\\' || needs_escape(next) || next == '\n' || next == '\r' ? '/' : '\\';
      continue;
    }
    if (needs_escape(c)) out += '\\';
    out += c;
  }
  return out;
}

InfluxPoint& InfluxPoint::tag(std::string_view key, std::string_view value) {
  if (!key.empty() && !value.empty()) tags_.emplace_back(key, value);
  return *this;
}

InfluxPoint& InfluxPoint::field_int(std::string_view key, int64_t value) {
  if (field_count_++ > 0) fields_ += ',';
  fields_ += influx_escape_key(key);
  fields_ += fmt::format("={}i", value);
  return *this;
}

InfluxPoint& InfluxPoint::field_float(std::string_view key, double value) {
  if (!std::isfinite(value)) return *this;
  if (field_count_++ > 0) fields_ += ',';
  fields_ += influx_escape_key(key);
  fields_ += fmt::format("={}", value);
  return *this;
}

bool InfluxPoint::write(std::string& out, int64_t timestamp_ms) const {
  if (field_count_ == 0) return false;
  std::vector<std::pair<std::string, std::string>> tags = tags_;
  std::stable_sort(tags.begin(), tags.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out += influx_escape_measurement(measurement_);
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0 && tags[i].first == tags[i - 1].first) continue;  // first of a duplicate wins
    out += ',';
    out += influx_escape_key(tags[i].first);
    out += '=';
    out += influx_escape_key(tags[i].second);
  }
  out += ' ';
  out += fields_;
  out += fmt::format(" {}\n", timestamp_ms);
  return true;
}

bool encode_influx_tick(const json& tick, const InfluxTickOptions& options, std::string& out,
                        InfluxTickResult& result, std::string& error) {
  result = InfluxTickResult{};
  const json* ts = member(tick, "timeseries");
  if (ts == nullptr) ts = &tick;
  const json* t = member(*ts, "t");
  const json* width = member(*ts, "width");
  const json* series = member(*ts, "series");
  if (t == nullptr || !t->is_array() || series == nullptr || !series->is_array()) {
    error = "time series tick without \"t\" and \"series\" arrays";
    return false;
  }
  int64_t start_ms = options.start_unix_ms;
  if (const json* s = member(*ts, "start_unix_ms"); s != nullptr && s->is_number()) {
    start_ms = s->get<int64_t>();
  }
  auto scratch = std::make_unique<Histogram>();
  for (size_t i = 0; i < t->size(); ++i) {
    const std::optional<double> at = cell(t, i);
    if (!at || *at < options.min_t) continue;
    const double w = cell(width, i).value_or(1.0);
    const int64_t when = start_ms + static_cast<int64_t>(std::llround(*at * 1000.0));
    ++result.buckets;
    result.last_t = std::max(result.last_t, *at);
    for (const json& s : *series) {
      const std::string scope = text(s, "scope");
      const char* measurement = scope == "run"        ? "pelt_run"
                                : scope == "scenario" ? "pelt_scenario"
                                : scope == "name"     ? "pelt_request"
                                                      : nullptr;
      if (measurement == nullptr) continue;
      const double requests = cell(member(s, "requests"), i).value_or(0);
      const double failed = cell(member(s, "failed"), i).value_or(0);
      const bool per_name = scope == "name";
      if (per_name && requests == 0 && failed == 0) continue;  // a name idle in this bucket

      InfluxPoint p(measurement);
      p.tag("run_id", options.run_id);
      for (const auto& [k, v] : options.tags) p.tag(k, v);
      if (scope != "run") p.tag("scenario", text(s, "scenario"));
      if (per_name) p.tag("name", text(s, "name")).tag("method", text(s, "method"));
      for (const ColumnField& c : kColumns) {
        const std::optional<double> v = cell(column(s, c.group, c.key), i);
        if (!v) continue;
        if (c.integer) {
          p.field_int(c.field, static_cast<int64_t>(std::llround(*v)));
        } else {
          p.field_float(c.field, *v);
        }
      }
      if (w > 0) p.field_float("rps", requests / w);
      add_latency(s, i, *scratch, p);
      if (p.write(out, when)) ++result.points;

      const json* codes = member(s, "status_codes");
      if (!per_name || codes == nullptr || !codes->is_object()) continue;
      for (const auto& [code, counts] : codes->items()) {
        const double n = cell(&counts, i).value_or(0);
        if (n <= 0) continue;
        const int status = std::atoi(code.c_str());
        InfluxPoint sp("pelt_status");
        sp.tag("run_id", options.run_id);
        for (const auto& [k, v] : options.tags) sp.tag(k, v);
        sp.tag("scenario", text(s, "scenario")).tag("name", text(s, "name"));
        sp.tag("method", text(s, "method")).tag("status", code);
        sp.field_int("requests", static_cast<int64_t>(std::llround(n)));
        sp.field_int("failed",
                     status == 0 || status >= 400 ? static_cast<int64_t>(std::llround(n)) : 0);
        if (w > 0) sp.field_float("rps", n / w);
        if (sp.write(out, when)) ++result.points;
      }
    }
  }
  return true;
}

}  // namespace pelt
