#include "results/summary.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "util/units.h"

namespace pelt {
namespace {

using nlohmann::json;

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

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

json histogram_ms(const Histogram& h) {
  json j;
  j["count"] = h.count();
  j["avg"] = h.mean() / 1000.0;
  j["min"] = ms(h.min());
  j["med"] = ms(h.percentile(50));
  j["max"] = ms(h.max());
  j["stdev"] = h.stdev() / 1000.0;
  j["p90"] = ms(h.percentile(90));
  j["p95"] = ms(h.percentile(95));
  j["p99"] = ms(h.percentile(99));
  j["p99_9"] = ms(h.percentile(99.9));
  j["p99_99"] = ms(h.percentile(99.99));
  return j;
}

uint64_t total_failed(const WorkerStats& s) {
  return s.ledger.failed + s.ledger.timed_out + s.errors.status;
}

uint64_t total_requests(const WorkerStats& s) {
  return s.ledger.completed + s.ledger.failed + s.ledger.timed_out;
}

std::string dots(const std::string& name, size_t width = 28) {
  std::string s = name;
  if (s.size() < width) s += std::string(width - s.size(), '.');
  return s + ":";
}

std::string stage_target_text(const RunResult& r, size_t scenario, double target) {
  char buf[64];
  if (r.arrival_rate[scenario]) {
    std::snprintf(buf, sizeof(buf), "%g/s", std::round(target * 100) / 100);
  } else {
    std::snprintf(buf, sizeof(buf), "%g VUs", std::floor(target));
  }
  return buf;
}

// Seconds of a stage that actually ran.
double stage_seconds(const RunResult& r, size_t scenario, size_t stage) {
  const StageInfo& info = r.stages[scenario][stage];
  const double start = static_cast<double>(info.start.count()) / 1e6;
  double len = static_cast<double>(info.length.count()) / 1e6;
  const double start_time =
      static_cast<double>(r.options->config.scenarios[scenario].start_time.count()) / 1e6;
  const double ran = r.elapsed_seconds - start_time - start;
  if (ran < len) len = std::max(0.0, ran);
  return len;
}

}  // namespace

BreakingPoint find_breaking_point(const RunResult& r) {
  BreakingPoint bp;
  const auto& thresholds = r.options->config.thresholds;
  for (size_t si = 0; si < r.stats.scenarios.size() && si < r.stages.size(); ++si) {
    const ScenarioStats& sc = r.stats.scenarios[si];
    for (size_t st = 0; st < sc.stages.size(); ++st) {
      const StageStats& stage = sc.stages[st];
      if (stage.requests == 0 && stage.failed == 0) continue;
      // A stand-in for the whole run made of this stage's figures only.
      WorkerStats one;
      one.latency = stage.latency;
      one.ledger.completed = stage.requests;
      one.ledger.sent = stage.requests;
      one.errors.status = stage.failed;
      ThresholdInputs in;
      in.stats = &one;
      in.scenario_names = &r.scenario_names;
      in.scenario_tags = &r.scenario_tags;
      in.elapsed_seconds = std::max(1e-9, stage_seconds(r, si, st));
      for (const ThresholdConfig& th : thresholds) {
        if (th.metric != "http_req_duration" && th.metric != "http_req_failed") continue;
        if (!th.tags.empty()) continue;
        ThresholdResult res = evaluate_threshold(th, in);
        if (res.has_data && !res.ok) {
          bp.found = true;
          bp.scenario = si;
          bp.stage = st;
          bp.description = res.text + " crossed " + th.expression;
          return bp;
        }
      }
    }
  }
  return bp;
}

void print_wrk_summary(std::FILE* out, const RunResult& r) {
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
  if (r.options->latency) {
    std::fprintf(out, "  Latency Distribution\n");
    for (double p : {50.0, 75.0, 90.0, 99.0}) {
      std::fprintf(out, "%7.0f%%", p);
      std::fputs(pad_units(format_time_us(static_cast<double>(lat.percentile(p))), 10).c_str(), out);
      std::fputc('\n', out);
    }
    for (double p : {99.9, 99.99}) {
      std::fprintf(out, "%7.2f%%", p);
      std::fputs(pad_units(format_time_us(static_cast<double>(lat.percentile(p))), 10).c_str(), out);
      std::fputc('\n', out);
    }
  }
  const double elapsed_us = r.elapsed_seconds * 1e6;
  std::fprintf(out, "  %llu requests in %s, %sB read\n",
               static_cast<unsigned long long>(s.ledger.completed), format_time_us(elapsed_us).c_str(),
               format_binary(static_cast<double>(s.bytes_read)).c_str());
  if (s.errors.connect || s.errors.read || s.errors.write || s.errors.timeout) {
    std::fprintf(out, "  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
                 static_cast<unsigned long long>(s.errors.connect),
                 static_cast<unsigned long long>(s.errors.read),
                 static_cast<unsigned long long>(s.errors.write),
                 static_cast<unsigned long long>(s.errors.timeout));
  }
  if (s.non_2xx_3xx()) {
    std::fprintf(out, "  Non-2xx or 3xx responses: %llu\n",
                 static_cast<unsigned long long>(s.non_2xx_3xx()));
  }
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  std::fprintf(out, "Requests/sec: %9.2f\n", static_cast<double>(s.ledger.completed) / secs);
  std::fprintf(out, "Transfer/sec: %10sB\n",
               format_binary(static_cast<double>(s.bytes_read) / secs).c_str());

  // pelt's additions below wrk's lines.
  if (r.options->rate > 0) {
    std::fprintf(out, "  Open loop at %.2f req/s: latency timed from the scheduled send\n", r.options->rate);
    const Histogram& sv = s.service;
    std::fprintf(out, "    Service time  p50 %s  p99 %s  max %s\n",
                 format_time_us(static_cast<double>(sv.percentile(50))).c_str(),
                 format_time_us(static_cast<double>(sv.percentile(99))).c_str(),
                 format_time_us(static_cast<double>(sv.max())).c_str());
    const Histogram& lag = s.send_lag;
    std::fprintf(out, "    Send lag      p50 %s  p99 %s  max %s\n",
                 format_time_us(static_cast<double>(lag.percentile(50))).c_str(),
                 format_time_us(static_cast<double>(lag.percentile(99))).c_str(),
                 format_time_us(static_cast<double>(lag.max())).c_str());
    uint64_t dropped = 0;
    for (const ScenarioStats& sc : s.scenarios) dropped += sc.dropped_iterations;
    if (dropped) std::fprintf(out, "    Dropped: %llu scheduled requests never sent\n", static_cast<unsigned long long>(dropped));
  }
  std::fprintf(out, "  Requests: sent %llu = completed %llu + failed %llu + timed out %llu + in flight %llu\n",
               static_cast<unsigned long long>(s.ledger.sent),
               static_cast<unsigned long long>(s.ledger.completed),
               static_cast<unsigned long long>(s.ledger.failed),
               static_cast<unsigned long long>(s.ledger.timed_out),
               static_cast<unsigned long long>(s.ledger.in_flight));
  if (!s.error_reasons.empty() || s.non_2xx_3xx()) {
    std::fprintf(out, "  Error breakdown:\n");
    for (const auto& [reason, n] : s.error_reasons) {
      std::fprintf(out, "    %-40s %llu\n", reason.c_str(), static_cast<unsigned long long>(n));
    }
    for (int code = 0; code < 600; ++code) {
      if ((code < 200 || code >= 400) && s.status[code]) {
        std::fprintf(out, "    %-40s %llu\n", ("status " + std::to_string(code)).c_str(),
                     static_cast<unsigned long long>(s.status[code]));
      }
    }
    for (const std::string& sample : s.error_samples) std::fprintf(out, "    e.g. %s\n", sample.c_str());
  }
  if (s.script_errors) {
    std::fprintf(out, "  Script errors: %llu\n", static_cast<unsigned long long>(s.script_errors));
    for (const std::string& e : s.script_error_samples) std::fprintf(out, "    %s\n", e.c_str());
  }
  if (r.interrupted) std::fprintf(out, "  Interrupted: figures cover the run until the stop\n");
}

void print_run_summary(std::FILE* out, const RunResult& r) {
  const WorkerStats& s = r.stats;
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  std::fprintf(out, "\n  target: %s\n", r.url.c_str());
  for (size_t i = 0; i < r.scenario_names.size(); ++i) {
    std::fprintf(out, "  scenario %s: %s, %zu stage%s\n", r.scenario_names[i].c_str(),
                 r.scenario_executors[i].c_str(), r.stages[i].size(), r.stages[i].size() == 1 ? "" : "s");
  }
  if (r.interrupted) std::fprintf(out, "  interrupted after %.1fs: figures cover the run until the stop\n", secs);
  if (r.aborted) std::fprintf(out, "  stopped early: %s\n", r.abort_reason.c_str());

  if (!r.thresholds.empty()) {
    std::fprintf(out, "\n  thresholds\n");
    for (const ThresholdOutcome& t : r.thresholds) {
      std::fprintf(out, "    %s %-40s %-16s %s\n", t.result.ok ? "\xE2\x9C\x93" : "\xE2\x9C\x97",
                   t.config->key.c_str(), t.config->expression.c_str(),
                   t.result.has_data ? t.result.text.c_str() : "no data");
    }
  }

  std::fprintf(out, "\n");
  const uint64_t total = total_requests(s);
  const uint64_t failed = total_failed(s);
  std::fprintf(out, "  %s %llu  %.2f/s\n", dots("http_reqs").c_str(),
               static_cast<unsigned long long>(s.ledger.completed),
               static_cast<double>(s.ledger.completed) / secs);
  const Histogram& h = s.latency;
  std::fprintf(out, "  %s avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s p(99)=%s\n",
               dots("http_req_duration").c_str(), format_time_us(h.mean()).c_str(),
               format_time_us(static_cast<double>(h.min())).c_str(),
               format_time_us(static_cast<double>(h.percentile(50))).c_str(),
               format_time_us(static_cast<double>(h.max())).c_str(),
               format_time_us(static_cast<double>(h.percentile(90))).c_str(),
               format_time_us(static_cast<double>(h.percentile(95))).c_str(),
               format_time_us(static_cast<double>(h.percentile(99))).c_str());
  std::fprintf(out, "  %s %.2f%%  %llu of %llu\n", dots("http_req_failed").c_str(),
               total ? 100.0 * static_cast<double>(failed) / static_cast<double>(total) : 0.0,
               static_cast<unsigned long long>(failed), static_cast<unsigned long long>(total));
  if (!s.checks.empty()) {
    uint64_t pass = 0, fail = 0;
    for (const auto& [name, c] : s.checks) {
      pass += c.passes;
      fail += c.fails;
    }
    std::fprintf(out, "  %s %.2f%%  %llu of %llu\n", dots("checks").c_str(),
                 pass + fail ? 100.0 * static_cast<double>(pass) / static_cast<double>(pass + fail) : 0.0,
                 static_cast<unsigned long long>(pass), static_cast<unsigned long long>(pass + fail));
  }
  uint64_t iterations = 0, dropped = 0, interrupted = 0, vus_max = 0;
  for (const ScenarioStats& sc : s.scenarios) {
    iterations += sc.iterations;
    dropped += sc.dropped_iterations;
    interrupted += sc.interrupted_iterations;
    vus_max += sc.vus_max;
  }
  std::fprintf(out, "  %s %llu  %.2f/s\n", dots("iterations").c_str(),
               static_cast<unsigned long long>(iterations), static_cast<double>(iterations) / secs);
  std::fprintf(out, "  %s %llu\n", dots("dropped_iterations").c_str(), static_cast<unsigned long long>(dropped));
  std::fprintf(out, "  %s %llu\n", dots("interrupted_iterations").c_str(),
               static_cast<unsigned long long>(interrupted));
  std::fprintf(out, "  %s %sB  %sB/s\n", dots("data_received").c_str(),
               format_binary(static_cast<double>(s.bytes_read)).c_str(),
               format_binary(static_cast<double>(s.bytes_read) / secs).c_str());
  std::fprintf(out, "  %s %sB  %sB/s\n", dots("data_sent").c_str(),
               format_binary(static_cast<double>(s.bytes_written)).c_str(),
               format_binary(static_cast<double>(s.bytes_written) / secs).c_str());
  std::fprintf(out, "  %s %llu\n", dots("vus_max").c_str(), static_cast<unsigned long long>(vus_max));
  bool open_loop = false;
  for (bool a : r.arrival_rate) open_loop = open_loop || a;
  if (open_loop) {
    std::fprintf(out, "  %s p(50)=%s p(99)=%s max=%s\n", dots("send_lag").c_str(),
                 format_time_us(static_cast<double>(s.send_lag.percentile(50))).c_str(),
                 format_time_us(static_cast<double>(s.send_lag.percentile(99))).c_str(),
                 format_time_us(static_cast<double>(s.send_lag.max())).c_str());
  }

  // Per-name lines.
  std::fprintf(out, "\n  %-16s %-24s %-7s %10s %7s %10s %10s %10s\n", "scenario", "name", "method",
               "reqs", "fail%", "p50", "p95", "p99");
  for (size_t si = 0; si < s.scenarios.size(); ++si) {
    for (const auto& [name, ns] : s.scenarios[si].names) {
      if (ns.requests == 0 && ns.failed == 0) continue;
      const uint64_t n = ns.requests + (ns.failed > ns.requests ? ns.failed - ns.requests : 0);
      std::fprintf(out, "  %-16s %-24s %-7s %10llu %6.2f%% %10s %10s %10s\n",
                   r.scenario_names[si].c_str(), name.c_str(), ns.method.c_str(),
                   static_cast<unsigned long long>(ns.requests),
                   n ? 100.0 * static_cast<double>(ns.failed) / static_cast<double>(std::max(n, ns.requests)) : 0.0,
                   format_time_us(static_cast<double>(ns.latency.percentile(50))).c_str(),
                   format_time_us(static_cast<double>(ns.latency.percentile(95))).c_str(),
                   format_time_us(static_cast<double>(ns.latency.percentile(99))).c_str());
    }
  }
  if (!s.checks.empty()) {
    std::fprintf(out, "\n  checks\n");
    for (const auto& [name, c] : s.checks) {
      std::fprintf(out, "    %s %-40s %llu passed, %llu failed\n", c.fails ? "\xE2\x9C\x97" : "\xE2\x9C\x93",
                   name.c_str(), static_cast<unsigned long long>(c.passes),
                   static_cast<unsigned long long>(c.fails));
    }
  }

  // Per-stage tables.
  for (size_t si = 0; si < s.scenarios.size(); ++si) {
    const ScenarioStats& sc = s.scenarios[si];
    std::fprintf(out, "\n  stages of %s\n", r.scenario_names[si].c_str());
    std::fprintf(out, "    %-3s %-12s %-9s %-9s %10s %10s %10s %10s %8s %8s\n", "#", "target", "start",
                 "length", "req/s", "p50", "p95", "p99", "err%", "dropped");
    for (size_t st = 0; st < sc.stages.size() && st < r.stages[si].size(); ++st) {
      const StageStats& ss = sc.stages[st];
      const StageInfo& info = r.stages[si][st];
      const double len = stage_seconds(r, si, st);
      const uint64_t n = ss.requests;
      std::fprintf(out, "    %-3zu %-12s %-9s %-9s %10.1f %10s %10s %10s %7.2f%% %8llu\n", st + 1,
                   stage_target_text(r, si, info.target).c_str(),
                   format_duration_short(info.start).c_str(), format_duration_short(info.length).c_str(),
                   len > 0 ? static_cast<double>(n) / len : 0.0,
                   format_time_us(static_cast<double>(ss.latency.percentile(50))).c_str(),
                   format_time_us(static_cast<double>(ss.latency.percentile(95))).c_str(),
                   format_time_us(static_cast<double>(ss.latency.percentile(99))).c_str(),
                   n ? 100.0 * static_cast<double>(ss.failed) / static_cast<double>(n) : 0.0,
                   static_cast<unsigned long long>(ss.dropped_iterations));
    }
  }
  BreakingPoint bp = find_breaking_point(r);
  if (bp.found) {
    std::fprintf(out, "  -> the service stopped keeping up at %s stage %zu (target %s): %s\n",
                 r.scenario_names[bp.scenario].c_str(), bp.stage + 1,
                 stage_target_text(r, bp.scenario, r.stages[bp.scenario][bp.stage].target).c_str(),
                 bp.description.c_str());
  } else if (!r.options->config.thresholds.empty()) {
    std::fprintf(out, "  -> every stage kept within the latency and error thresholds\n");
  }

  std::fprintf(out, "\n  requests: sent %llu = completed %llu + failed %llu + timed out %llu + in flight %llu\n",
               static_cast<unsigned long long>(s.ledger.sent),
               static_cast<unsigned long long>(s.ledger.completed),
               static_cast<unsigned long long>(s.ledger.failed),
               static_cast<unsigned long long>(s.ledger.timed_out),
               static_cast<unsigned long long>(s.ledger.in_flight));
  if (!s.error_reasons.empty()) {
    std::fprintf(out, "  errors:\n");
    for (const auto& [reason, n] : s.error_reasons) {
      std::fprintf(out, "    %-40s %llu\n", reason.c_str(), static_cast<unsigned long long>(n));
    }
    for (const std::string& sample : s.error_samples) std::fprintf(out, "    e.g. %s\n", sample.c_str());
  }
  if (s.script_errors) {
    std::fprintf(out, "  script errors: %llu\n", static_cast<unsigned long long>(s.script_errors));
    for (const std::string& e : s.script_error_samples) std::fprintf(out, "    %s\n", e.c_str());
  }
  std::fprintf(out, "\n");
}

json build_summary_json(const RunResult& r) {
  const WorkerStats& s = r.stats;
  const RunOptions& o = *r.options;
  const double secs = std::max(r.elapsed_seconds, 1e-9);
  json j;
  j["schema"] = kSummarySchema;
  j["version"] = PELT_VERSION;
  j["run_id"] = r.run_id;
  j["target"] = r.url;
  j["mode"] = o.quick ? "quick" : "scenario";
  j["source"] = o.config.source;
  j["threads"] = o.threads;
  j["connections"] = o.connections;
  j["rate"] = o.rate;
  j["duration_seconds"] = r.elapsed_seconds;
  j["interrupted"] = r.interrupted;
  j["aborted"] = r.aborted;
  j["abort_reason"] = r.abort_reason;
  j["thresholds_ok"] = r.thresholds_ok;
  json th = json::array();
  for (const ThresholdOutcome& t : r.thresholds) {
    th.push_back({{"metric", t.config->metric},
                  {"key", t.config->key},
                  {"expression", t.config->expression},
                  {"ok", t.result.ok},
                  {"has_data", t.result.has_data},
                  {"observed", t.result.observed},
                  {"text", t.result.text},
                  {"abort_on_fail", t.config->abort_on_fail}});
  }
  j["thresholds"] = th;

  const uint64_t total = total_requests(s);
  const uint64_t failed = total_failed(s);
  uint64_t iterations = 0, dropped = 0, vus_max = 0, check_pass = 0, check_fail = 0;
  for (const ScenarioStats& sc : s.scenarios) {
    iterations += sc.iterations;
    dropped += sc.dropped_iterations;
    vus_max += sc.vus_max;
  }
  for (const auto& [name, c] : s.checks) {
    check_pass += c.passes;
    check_fail += c.fails;
  }
  json m;
  m["http_reqs"] = {{"count", s.ledger.completed}, {"rate", static_cast<double>(s.ledger.completed) / secs}};
  m["http_req_duration"] = histogram_ms(s.latency);
  m["http_req_failed"] = {{"rate", total ? static_cast<double>(failed) / static_cast<double>(total) : 0.0},
                          {"fails", failed},
                          {"total", total}};
  m["iterations"] = {{"count", iterations}, {"rate", static_cast<double>(iterations) / secs}};
  m["dropped_iterations"] = {{"count", dropped}};
  m["checks"] = {{"rate", check_pass + check_fail ? static_cast<double>(check_pass) / static_cast<double>(check_pass + check_fail) : 0.0},
                 {"passes", check_pass},
                 {"fails", check_fail}};
  m["data_received"] = {{"count", s.bytes_read}, {"rate", static_cast<double>(s.bytes_read) / secs}};
  m["data_sent"] = {{"count", s.bytes_written}, {"rate", static_cast<double>(s.bytes_written) / secs}};
  m["vus_max"] = {{"value", vus_max}};
  m["send_lag"] = histogram_ms(s.send_lag);
  m["service_time"] = histogram_ms(s.service);
  m["http_req_connecting"] = histogram_ms(s.connect_time);
  m["http_req_tls_handshaking"] = histogram_ms(s.tls_time);
  m["http_req_waiting"] = histogram_ms(s.waiting);
  j["metrics"] = m;

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
  for (int code = 0; code < 600; ++code) {
    if (s.status[code]) status[std::to_string(code)] = s.status[code];
  }
  j["status_codes"] = status;
  j["connects"] = s.connects;
  j["reconnects"] = s.reconnects;
  j["tls"] = {{"handshakes", s.tls_handshakes}, {"resumed", s.tls_resumed}};
  json checks = json::array();
  for (const auto& [name, c] : s.checks) checks.push_back({{"name", name}, {"passes", c.passes}, {"fails", c.fails}});
  j["checks"] = checks;
  j["script_errors"] = {{"count", s.script_errors}, {"samples", s.script_error_samples}};

  json names = json::array();
  json scenarios = json::array();
  for (size_t si = 0; si < s.scenarios.size(); ++si) {
    const ScenarioStats& sc = s.scenarios[si];
    for (const auto& [name, ns] : sc.names) {
      json st = json::object();
      for (const auto& [code, n] : ns.status) st[std::to_string(code)] = n;
      names.push_back({{"scenario", r.scenario_names[si]},
                       {"name", name},
                       {"method", ns.method},
                       {"requests", ns.requests},
                       {"failed", ns.failed},
                       {"status_codes", st},
                       {"failure_reasons", ns.failure_reasons},
                       {"http_req_duration", histogram_ms(ns.latency)}});
    }
    json stages = json::array();
    for (size_t st = 0; st < sc.stages.size() && st < r.stages[si].size(); ++st) {
      const StageStats& ss = sc.stages[st];
      const StageInfo& info = r.stages[si][st];
      const double len = stage_seconds(r, si, st);
      stages.push_back({{"index", st},
                        {"target", info.target},
                        {"target_unit", r.arrival_rate[si] ? "iterations/s" : "vus"},
                        {"start_seconds", static_cast<double>(info.start.count()) / 1e6},
                        {"duration_seconds", static_cast<double>(info.length.count()) / 1e6},
                        {"ran_seconds", len},
                        {"requests", ss.requests},
                        {"rps", len > 0 ? static_cast<double>(ss.requests) / len : 0.0},
                        {"failed", ss.failed},
                        {"error_rate", ss.requests ? static_cast<double>(ss.failed) / static_cast<double>(ss.requests) : 0.0},
                        {"dropped_iterations", ss.dropped_iterations},
                        {"p50_ms", ms(ss.latency.percentile(50))},
                        {"p95_ms", ms(ss.latency.percentile(95))},
                        {"p99_ms", ms(ss.latency.percentile(99))}});
    }
    scenarios.push_back({{"name", r.scenario_names[si]},
                         {"executor", r.scenario_executors[si]},
                         {"iterations", sc.iterations},
                         {"dropped_iterations", sc.dropped_iterations},
                         {"interrupted_iterations", sc.interrupted_iterations},
                         {"vus_max", sc.vus_max},
                         {"tags", si < r.scenario_tags.size() ? json(r.scenario_tags[si]) : json::object()},
                         {"stages", stages}});
  }
  j["names"] = names;
  j["scenarios"] = scenarios;
  BreakingPoint bp = find_breaking_point(r);
  if (bp.found) {
    j["breaking_point"] = {{"scenario", r.scenario_names[bp.scenario]},
                           {"stage", bp.stage},
                           {"description", bp.description}};
  } else {
    j["breaking_point"] = nullptr;
  }
  return j;
}

bool write_summary_json(const std::string& path, const RunResult& result, std::string& error) {
  std::ofstream f(path);
  if (!f) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  f << build_summary_json(result).dump(2) << "\n";
  if (!f) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace pelt
