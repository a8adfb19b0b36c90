// The text summaries: wrk's layout for quick mode and the k6-style summary for pelt run.
#include <algorithm>
#include <cmath>

#include "results/summary.h"
#include "util/units.h"

namespace pelt {
namespace {

using ull = unsigned long long;

// wrk's stats row: name, then mean/stdev/max padded like wrk, then "+/- Stdev".
void print_stats_row(std::FILE* out, const char* name, double mean, double stdev, double max,
                     double within, std::string (*fmt)(double)) {
  std::fprintf(out, "    %-10s", name);
  std::fputs(pad_units(fmt(mean), 8).c_str(), out);
  std::fputs(pad_units(fmt(stdev), 10).c_str(), out);
  std::fputs(pad_units(fmt(max), 9).c_str(), out);
  std::fprintf(out, "%8.2f%%\n", within);
}

std::string fmt_time(double us) { return format_time_us(us); }
std::string fmt_metric(double n) { return format_metric(n); }
std::string time_us(uint64_t us) { return format_time_us(static_cast<double>(us)); }
// A percentile, interpolated as k6 does while the histogram holds few samples.
std::string q_us(const Histogram& h, double p) {
  return format_time_us(h.quantile(p));
}

std::string dots(const std::string& name, size_t width = 28) {
  std::string s = name;
  if (s.size() < width) s += std::string(width - s.size(), '.');
  return s + ":";
}

double percent(uint64_t part, uint64_t total) {
  return total ? 100.0 * static_cast<double>(part) / static_cast<double>(total) : 0.0;
}

std::string stage_target_text(const ScenarioInfo& sc, double target) {
  char buf[64];
  if (sc.arrival_rate) {
    std::snprintf(buf, sizeof(buf), "%g/s", std::round(target * 100) / 100);
  } else {
    std::snprintf(buf, sizeof(buf), "%g VUs", std::floor(target));
  }
  return buf;
}

// [observe]: what went wrong with a query, once per query and reason (the columns say only
// "unreachable" or "error").
void print_observe_notes(std::FILE* out, const ObserveResults& o) {
  std::vector<std::string> seen;
  const auto note = [&](const ObserveQueryInfo& q, const ObserveFigure& f) {
    if (f.error.empty() || f.status == ObserveFigure::Status::kNoData) return;
    const std::string line = q.label + ": " + observe_status_name(f.status) + ": " + f.error;
    if (std::find(seen.begin(), seen.end(), line) != seen.end()) return;
    seen.push_back(line);
    std::fprintf(out, "  observe %s\n", line.c_str());
  };
  for (size_t i = 0; i < o.queries.size(); ++i) {
    for (const auto& [key, figures] : o.stages) {
      if (i < figures.size()) note(o.queries[i], figures[i]);
    }
    if (i < o.run.size()) note(o.queries[i], o.run[i]);
  }
}

// [observe]: a column per query in the per-stage table, "avg (max)" of the stage, as wide as
// its widest cell.
std::vector<size_t> observe_widths(const RunReport& r) {
  std::vector<size_t> widths;
  if (!r.observe) return widths;
  const ObserveResults& o = *r.observe;
  for (size_t i = 0; i < o.queries.size(); ++i) {
    size_t w = o.queries[i].label.size() + 10;  // "LABEL avg (max)"
    for (const auto& [key, figures] : o.stages) {
      if (i < figures.size()) w = std::max(w, observe_cell(o.queries[i], figures[i]).size());
    }
    widths.push_back(w);
  }
  return widths;
}

std::string observe_header(const RunReport& r) {
  std::string out;
  const std::vector<size_t> widths = observe_widths(r);
  for (size_t i = 0; i < widths.size(); ++i) {
    const std::string head = r.observe->queries[i].label + " avg (max)";
    out += "  " + std::string(widths[i] - std::min(widths[i], head.size()), ' ') + head;
  }
  return out;
}

std::string observe_cells(const RunReport& r, size_t scenario, size_t stage) {
  std::string out;
  const std::vector<size_t> widths = observe_widths(r);
  const auto* figures = r.observe ? r.observe->stage(scenario, stage) : nullptr;
  for (size_t i = 0; i < widths.size(); ++i) {
    const std::string text = figures && i < figures->size() ? observe_cell(r.observe->queries[i], (*figures)[i]) : "";
    // (the cell may hold a multi-byte ellipsis: pad by bytes, close enough for a placeholder)
    out += "  " + std::string(widths[i] - std::min(widths[i], text.size()), ' ') + text;
  }
  return out;
}

void print_ledger(std::FILE* out, const char* label, const Ledger& l) {
  std::fprintf(out, "%s: sent %llu = completed %llu + failed %llu + timed out %llu + in flight %llu\n",
               label, static_cast<ull>(l.sent), static_cast<ull>(l.completed),
               static_cast<ull>(l.failed), static_cast<ull>(l.timed_out),
               static_cast<ull>(l.in_flight));
}

// HTTP/2's own figures: connections, streams, HPACK, and what the server did to the streams.
void print_http2(std::FILE* out, const Http2Stats& h) {
  if (!h.used()) return;
  auto percent = [](uint64_t wire, uint64_t fields) {
    return fields ? 100.0 * static_cast<double>(wire) / static_cast<double>(fields) : 0.0;
  };
  std::fprintf(out, "  HTTP/2: %llu connections, %llu streams; headers sent at %.1f%% of their size, "
               "received at %.1f%% (HPACK)\n",
               static_cast<ull>(h.connections), static_cast<ull>(h.streams),
               percent(h.header_bytes_sent, h.header_fields_sent),
               percent(h.header_bytes_received, h.header_fields_received));
  std::string events;
  auto add = [&events](const std::string& text) {
    events += events.empty() ? text : ", " + text;
  };
  if (h.goaways) {
    add("GOAWAY " + std::to_string(h.goaways) + " (" + std::to_string(h.retried) +
        " requests sent again)");
  }
  if (h.resets_received) add("RST_STREAM received " + std::to_string(h.resets_received));
  if (h.resets_sent) add("RST_STREAM sent " + std::to_string(h.resets_sent));
  if (h.queued) {
    add(std::to_string(h.queued) + " requests waited for a stream (server allows " +
        (h.peer_max_concurrent_streams == Http2Stats::kUnlimited
             ? std::string("any number")
             : std::to_string(h.peer_max_concurrent_streams)) + ")");
  }
  if (h.flow_control_stalls) add("flow-control stalls " + std::to_string(h.flow_control_stalls));
  if (h.alpn_fallbacks) add("HTTP/1.1 by ALPN on " + std::to_string(h.alpn_fallbacks) + " connections");
  if (!events.empty()) std::fprintf(out, "    %s\n", events.c_str());
}

// A metric's figures over a selection, k6-style: a trend's avg min med max p(90) p(95), a
// rate's share, a counter's count and rate, a gauge's value.
std::string custom_figures_text(const MetricDef& def, const Selection& sel, double secs);

std::string figures(const MetricDef& def, const Selection& sel, double secs) {
  if (def.custom) return custom_figures_text(def, sel, secs);
  char buf[256];
  switch (def.type) {
    case MetricType::kTrend: {
      const Histogram h = read_trend(def, sel);
      if (h.count() == 0) return "no data";
      std::snprintf(buf, sizeof(buf), "avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s",
                    format_time_us(h.mean()).c_str(), time_us(h.min()).c_str(), q_us(h, 50).c_str(),
                    time_us(h.max()).c_str(), q_us(h, 90).c_str(), q_us(h, 95).c_str());
      break;
    }
    case MetricType::kRate: {
      const RateParts p = read_rate(def, sel);
      if (p.total == 0) return "no data";
      std::snprintf(buf, sizeof(buf), "%.2f%%  %llu of %llu", percent(p.part, p.total),
                    static_cast<ull>(p.part), static_cast<ull>(p.total));
      break;
    }
    case MetricType::kCounter: {
      const uint64_t n = read_counter(def, sel);
      std::snprintf(buf, sizeof(buf), "%llu  %.2f/s", static_cast<ull>(n),
                    static_cast<double>(n) / secs);
      break;
    }
    case MetricType::kGauge:
      std::snprintf(buf, sizeof(buf), "%llu", static_cast<ull>(read_gauge(def, sel)));
      break;
  }
  return buf;
}

// A script's own metric: a trend in its unit (ms for times), a counter's sum, a gauge's
// latest value with the smallest and largest, a rate's share.
std::string custom_figures_text(const MetricDef& def, const Selection& sel, double secs) {
  const CustomFigures f = read_custom(def, sel);
  if (f.samples == 0) return "no data";
  char buf[256];
  auto value = [&](double scaled) {  // trend values are kept x 1000
    char v[64];
    if (def.is_time) return format_time_us(scaled);
    std::snprintf(v, sizeof(v), "%g", scaled / 1000);
    return std::string(v);
  };
  switch (def.type) {
    case MetricType::kTrend: {
      const Histogram h = f.trend ? *f.trend : Histogram();
      std::snprintf(buf, sizeof(buf), "avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s",
                    value(h.mean()).c_str(), value(static_cast<double>(h.min())).c_str(),
                    value(h.quantile(50)).c_str(), value(static_cast<double>(h.max())).c_str(),
                    value(h.quantile(90)).c_str(), value(h.quantile(95)).c_str());
      break;
    }
    case MetricType::kRate:
      std::snprintf(buf, sizeof(buf), "%.2f%%  %llu of %llu", percent(f.nonzero, f.samples),
                    static_cast<ull>(f.nonzero), static_cast<ull>(f.samples));
      break;
    case MetricType::kCounter:
      std::snprintf(buf, sizeof(buf), "%g  %.2f/s", f.sum, f.sum / secs);
      break;
    case MetricType::kGauge:
      std::snprintf(buf, sizeof(buf), "%g  min=%g max=%g", f.last, f.min, f.max);
      break;
  }
  return buf;
}

// The sub-metrics [thresholds] names for `metric` (every one left when metric is empty), one
// line each, under the metric's own line.
void print_submetrics(std::FILE* out, const RunReport& r, std::string_view metric,
                      std::vector<bool>& printed, double secs) {
  const MetricSource source = r.source();
  for (size_t i = 0; i < r.info.submetrics.size(); ++i) {
    const SubmetricConfig& sub = r.info.submetrics[i];
    if (printed[i] || (!metric.empty() && sub.metric != metric)) continue;
    printed[i] = true;
    if (!metric.empty() && sub.tags.empty()) continue;  // the metric's own line
    const std::optional<MetricDef> def = find_metric(sub.metric, source);
    if (!def) continue;
    Selection sel;
    const bool any = select(sub.tags, source, sel);
    std::string label = sub.key;
    if (!metric.empty()) label = "  " + label.substr(std::min(label.size(), sub.metric.size()));
    std::fprintf(out, "  %s %s\n", dots(label).c_str(),
                 any ? figures(*def, sel, secs).c_str() : "no data");
  }
}

}  // namespace

void print_wrk_header(std::FILE* out, const RunInfo& info) {
  std::fprintf(out, "Running %s test @ %s\n", format_duration_short(info.duration).c_str(),
               info.target.c_str());
  if (info.streams > 1 || info.http != "1.1") {
    std::fprintf(out, "  %d threads and %llu connections, %u %s each (HTTP %s)\n", info.threads,
                 static_cast<ull>(info.connections), info.streams,
                 info.http == "1.1" ? (info.streams == 1 ? "request" : "pipelined requests")
                                    : (info.streams == 1 ? "stream" : "streams"),
                 info.http.c_str());
  } else {
    std::fprintf(out, "  %d threads and %llu connections\n", info.threads,
                 static_cast<ull>(info.connections));
  }
  std::fflush(out);
}

void print_wrk_summary(std::FILE* out, const RunReport& r) {
  const WorkerStats& s = r.stats;
  const Histogram& lat = s.latency;
  const Histogram& rps = s.req_per_sec;
  std::fprintf(out, "  Thread Stats%6s%11s%8s%12s\n", "Avg", "Stdev", "Max", "+/- Stdev");
  const double lat_mean = lat.mean(), lat_sd = lat.stdev();
  print_stats_row(out, "Latency", lat_mean, lat_sd, static_cast<double>(lat.max()),
                  lat.within_stdev(lat_mean, lat_sd, 1), fmt_time);
  const double rps_mean = rps.mean(), rps_sd = rps.stdev();
  print_stats_row(out, "Req/Sec", rps_mean, rps_sd, static_cast<double>(rps.max()),
                  rps.within_stdev(rps_mean, rps_sd, 1), fmt_metric);
  if (r.info.latency) {
    std::fprintf(out, "  Latency Distribution\n");
    for (double p : {50.0, 75.0, 90.0, 99.0}) {
      std::fprintf(out, "%7.0f%%", p);
      std::fputs(pad_units(time_us(lat.percentile(p)), 10).c_str(), out);
      std::fputc('\n', out);
    }
    for (double p : {99.9, 99.99}) {
      std::fprintf(out, "%7.2f%%", p);
      std::fputs(pad_units(time_us(lat.percentile(p)), 10).c_str(), out);
      std::fputc('\n', out);
    }
  }
  // wrk's "requests" are the completed ones.
  const double elapsed_us = r.elapsed_seconds * 1e6;
  std::fprintf(out, "  %llu requests in %s, %sB read\n", static_cast<ull>(s.ledger.completed),
               format_time_us(elapsed_us).c_str(),
               format_binary(static_cast<double>(s.bytes_read)).c_str());
  if (s.errors.socket_total() > 0) {
    std::fprintf(out, "  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
                 static_cast<ull>(s.errors.connect), static_cast<ull>(s.errors.read),
                 static_cast<ull>(s.errors.write), static_cast<ull>(s.errors.timeout));
  }
  if (s.non_2xx_3xx()) {
    std::fprintf(out, "  Non-2xx or 3xx responses: %llu\n", static_cast<ull>(s.non_2xx_3xx()));
  }
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  std::fprintf(out, "Requests/sec: %9.2f\n", static_cast<double>(s.ledger.completed) / secs);
  std::fprintf(out, "Transfer/sec: %10sB\n",
               format_binary(static_cast<double>(s.bytes_read) / secs).c_str());

  // pelt's additions below wrk's lines.
  if (r.info.rate > 0) {
    std::fprintf(out, "  Open loop at %.2f req/s: latency timed from the scheduled send\n", r.info.rate);
    const Histogram& sv = s.service;
    std::fprintf(out, "    Service time  p50 %s  p99 %s  max %s\n", time_us(sv.percentile(50)).c_str(),
                 time_us(sv.percentile(99)).c_str(), time_us(sv.max()).c_str());
    const Histogram& lag = s.send_lag;
    std::fprintf(out, "    Send lag      p50 %s  p99 %s  max %s\n", time_us(lag.percentile(50)).c_str(),
                 time_us(lag.percentile(99)).c_str(), time_us(lag.max()).c_str());
    const Totals t = read_totals(s);
    if (t.dropped) {
      std::fprintf(out, "    Dropped: %llu scheduled requests never sent\n", static_cast<ull>(t.dropped));
    }
  }
  print_ledger(out, "  Requests", s.ledger);
  print_http2(out, s.http2);
  if (!s.error_reasons.empty() || s.non_2xx_3xx()) {
    std::fprintf(out, "  Error breakdown:\n");
    for (const auto& [reason, n] : s.error_reasons) {
      std::fprintf(out, "    %-40s %llu\n", reason.c_str(), static_cast<ull>(n));
    }
    for (size_t code = 0; code < s.status.size(); ++code) {
      if ((code < 200 || code >= 400) && s.status[code]) {
        std::fprintf(out, "    %-40s %llu\n", ("status " + std::to_string(code)).c_str(),
                     static_cast<ull>(s.status[code]));
      }
    }
    for (const std::string& sample : s.error_samples) std::fprintf(out, "    e.g. %s\n", sample.c_str());
  }
  if (s.script_errors) {
    std::fprintf(out, "  Script errors: %llu\n", static_cast<ull>(s.script_errors));
    for (const std::string& e : s.script_error_samples) std::fprintf(out, "    %s\n", e.c_str());
  }
  for (const OutputSummary& o : r.outputs) std::fprintf(out, "  Output %s\n", o.line.c_str());
  if (r.interrupted) std::fprintf(out, "  Interrupted: figures cover the run until the stop\n");
}

void print_run_summary(std::FILE* out, const RunReport& r) {
  const WorkerStats& s = r.stats;
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  const Totals t = read_totals(s);
  std::fprintf(out, "\n  target: %s\n", r.info.target.c_str());
  for (const ScenarioInfo& sc : r.info.scenarios) {
    std::fprintf(out, "  scenario %s: %s, %zu stage%s\n", sc.name.c_str(), sc.executor.c_str(),
                 sc.stages.size(), sc.stages.size() == 1 ? "" : "s");
  }
  if (r.interrupted) std::fprintf(out, "  interrupted after %.1fs: figures cover the run until the stop\n", secs);
  if (r.aborted) std::fprintf(out, "  stopped early: %s\n", r.abort_reason.c_str());

  if (!r.thresholds.empty()) {
    std::fprintf(out, "\n  thresholds\n");
    for (const ThresholdOutcome& th : r.thresholds) {
      std::fprintf(out, "    %s %-40s %-16s %s\n", th.result.ok ? "\xE2\x9C\x93" : "\xE2\x9C\x97",
                   th.config->key.c_str(), th.config->expression.c_str(), th.result.text.c_str());
    }
    for (const ThresholdOutcome& th : r.thresholds) {
      if (th.result.warning.empty()) continue;
      std::fprintf(out, "    warning: %s %s %s\n", th.config->key.c_str(),
                   th.config->expression.c_str(), th.result.warning.c_str());
    }
  }

  std::fprintf(out, "\n");
  std::vector<bool> printed(r.info.submetrics.size(), false);
  const MetricSource source = r.source();
  Selection all;
  select({}, source, all);
  // A trend's line, when it has samples (with its sub-metrics).
  auto trend_line = [&](const char* name) {
    const MetricDef& def = *find_metric(name);
    if (read_trend(def, all).count() == 0) return;
    std::fprintf(out, "  %s %s\n", dots(name).c_str(), figures(def, all, secs).c_str());
    print_submetrics(out, r, name, printed, secs);
  };
  std::fprintf(out, "  %s %llu  %.2f/s\n", dots("http_reqs").c_str(), static_cast<ull>(t.http_reqs),
               static_cast<double>(t.http_reqs) / secs);
  print_submetrics(out, r, "http_reqs", printed, secs);
  const Histogram& h = s.latency;
  std::fprintf(out, "  %s avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s p(99)=%s\n",
               dots("http_req_duration").c_str(), format_time_us(h.mean()).c_str(),
               time_us(h.min()).c_str(), q_us(h, 50).c_str(), time_us(h.max()).c_str(),
               q_us(h, 90).c_str(), q_us(h, 95).c_str(), q_us(h, 99).c_str());
  print_submetrics(out, r, "http_req_duration", printed, secs);
  std::fprintf(out, "  %s %.2f%%  %llu of %llu\n", dots("http_req_failed").c_str(),
               percent(t.http_failed, t.http_reqs), static_cast<ull>(t.http_failed),
               static_cast<ull>(t.http_reqs));
  print_submetrics(out, r, "http_req_failed", printed, secs);
  trend_line("http_req_blocked");
  trend_line("http_req_waiting");
  trend_line("http_req_receiving");
  if (t.check_total > 0) {
    std::fprintf(out, "  %s %.2f%%  %llu of %llu\n", dots("checks").c_str(),
                 percent(t.check_passes, t.check_total), static_cast<ull>(t.check_passes),
                 static_cast<ull>(t.check_total));
  }
  std::fprintf(out, "  %s %llu  %.2f/s\n", dots("iterations").c_str(), static_cast<ull>(t.iterations),
               static_cast<double>(t.iterations) / secs);
  print_submetrics(out, r, "iterations", printed, secs);
  trend_line("iteration_duration");
  std::fprintf(out, "  %s %llu\n", dots("dropped_iterations").c_str(), static_cast<ull>(t.dropped));
  print_submetrics(out, r, "dropped_iterations", printed, secs);
  std::fprintf(out, "  %s %llu\n", dots("interrupted_iterations").c_str(), static_cast<ull>(t.interrupted));
  std::fprintf(out, "  %s %sB  %sB/s\n", dots("data_received").c_str(),
               format_binary(static_cast<double>(s.bytes_read)).c_str(),
               format_binary(static_cast<double>(s.bytes_read) / secs).c_str());
  std::fprintf(out, "  %s %sB  %sB/s\n", dots("data_sent").c_str(),
               format_binary(static_cast<double>(s.bytes_written)).c_str(),
               format_binary(static_cast<double>(s.bytes_written) / secs).c_str());
  std::fprintf(out, "  %s %llu\n", dots("vus_max").c_str(), static_cast<ull>(t.vus_max));
  print_http2(out, s.http2);
  bool open_loop = false;
  for (const ScenarioInfo& sc : r.info.scenarios) open_loop = open_loop || sc.arrival_rate;
  if (open_loop) {
    std::fprintf(out, "  %s p(50)=%s p(99)=%s max=%s\n", dots("send_lag").c_str(),
                 q_us(s.send_lag, 50).c_str(), q_us(s.send_lag, 99).c_str(),
                 time_us(s.send_lag.max()).c_str());
  }
  // The scripts' own metrics, by name.
  for (const CustomMetricInfo& info : r.info.custom_metrics) {
    const MetricDef def = custom_metric_def(info);
    std::fprintf(out, "  %s %s\n", dots(info.name).c_str(), figures(def, all, secs).c_str());
    print_submetrics(out, r, info.name, printed, secs);
  }
  print_submetrics(out, r, "", printed, secs);  // those of metrics without a line above

  // Per-name lines.
  std::fprintf(out, "\n  %-16s %-24s %-7s %10s %7s %10s %10s %10s\n", "scenario", "name", "method",
               "reqs", "fail%", "p50", "p95", "p99");
  for (size_t si = 0; si < s.scenarios.size() && si < r.info.scenarios.size(); ++si) {
    for (const auto& [key, ns] : s.scenarios[si].names) {
      const std::string name = key.label();
      if (ns.requests.ended() == 0) continue;
      std::fprintf(out, "  %-16s %-24s %-7s %10llu %6.2f%% %10s %10s %10s\n",
                   r.info.scenarios[si].name.c_str(), name.c_str(), ns.method.c_str(),
                   static_cast<ull>(ns.requests.ended()),
                   percent(ns.requests.failed(), ns.requests.ended()), q_us(ns.latency, 50).c_str(),
                   q_us(ns.latency, 95).c_str(), q_us(ns.latency, 99).c_str());
    }
  }
  for (size_t si = 0; si < s.scenarios.size() && si < r.info.scenarios.size(); ++si) {
    for (const std::string& tag : s.scenarios[si].capped_tags) {
      std::fprintf(out, "  note: %s\n", capped_tag_note(r.info.scenarios[si].name, tag).c_str());
    }
  }
  if (!s.checks.empty()) {
    std::fprintf(out, "\n  checks\n");
    for (const auto& [name, c] : s.checks) {
      std::fprintf(out, "    %s %-40s %llu passed, %llu failed\n", c.fails ? "\xE2\x9C\x97" : "\xE2\x9C\x93",
                   name.c_str(), static_cast<ull>(c.passes), static_cast<ull>(c.fails));
    }
  }

  // Per-stage tables.
  for (size_t si = 0; si < s.scenarios.size() && si < r.info.scenarios.size(); ++si) {
    const ScenarioStats& sc = s.scenarios[si];
    const ScenarioInfo& info = r.info.scenarios[si];
    std::fprintf(out, "\n  stages of %s\n", info.name.c_str());
    std::fprintf(out, "    %-3s %-12s %-9s %-9s %10s %10s %10s %10s %8s %8s%s\n", "#", "target", "start",
                 "length", "req/s", "p50", "p95", "p99", "err%", "dropped", observe_header(r).c_str());
    for (size_t st = 0; st < sc.stages.size() && st < info.stages.size(); ++st) {
      const StageStats& ss = sc.stages[st];
      const StageInfo& stage = info.stages[st];
      const double len = r.stage_seconds(si, st);
      const uint64_t n = ss.requests.ended();
      std::fprintf(
          out, "    %-3zu %-12s %-9s %-9s %10.1f %10s %10s %10s %7.2f%% %8llu%s\n", st + 1,
          stage_target_text(info, stage.target).c_str(), format_duration_short(stage.start).c_str(),
          format_duration_short(stage.length).c_str(), len > 0 ? static_cast<double>(n) / len : 0.0,
          q_us(ss.latency, 50).c_str(), q_us(ss.latency, 95).c_str(), q_us(ss.latency, 99).c_str(),
          percent(ss.requests.failed(), n), static_cast<ull>(ss.dropped_iterations),
          observe_cells(r, si, st).c_str());
    }
  }
  const BreakingPoint& bp = r.breaking_point;
  if (bp.found) {
    const ScenarioInfo& sc = r.info.scenarios[bp.scenario];
    const std::string server = r.observe ? observe_stage_text(*r.observe, bp.scenario, bp.stage) : "";
    std::fprintf(out, "  -> the service stopped keeping up at %s stage %zu (target %s): %s%s\n",
                 sc.name.c_str(), bp.stage + 1, stage_target_text(sc, sc.stages[bp.stage].target).c_str(),
                 bp.description.c_str(), server.empty() ? "" : ("; " + server).c_str());
  } else if (!r.info.thresholds.empty() && !r.capacity) {
    std::fprintf(out, "  -> every stage kept within the latency and error thresholds\n");
  }
  if (r.capacity) print_capacity(out, *r.capacity);
  if (r.observe) print_observe_notes(out, *r.observe);

  std::fprintf(out, "\n");
  print_ledger(out, "  requests", s.ledger);
  if (!s.error_reasons.empty()) {
    std::fprintf(out, "  errors:\n");
    for (const auto& [reason, n] : s.error_reasons) {
      std::fprintf(out, "    %-40s %llu\n", reason.c_str(), static_cast<ull>(n));
    }
    for (const std::string& sample : s.error_samples) std::fprintf(out, "    e.g. %s\n", sample.c_str());
  }
  if (s.script_errors) {
    std::fprintf(out, "  script errors: %llu\n", static_cast<ull>(s.script_errors));
    for (const std::string& e : s.script_error_samples) std::fprintf(out, "    %s\n", e.c_str());
  }
  for (const OutputSummary& o : r.outputs) std::fprintf(out, "  output %s\n", o.line.c_str());
  std::fprintf(out, "\n");
}

}  // namespace pelt
