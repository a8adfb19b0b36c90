#include "results/capacity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "results/catalogue.h"

namespace pelt {
namespace {

using Agg = ThresholdExpr::Aggregation;
using Op = ThresholdExpr::Op;

constexpr double kDefaultLagLimitMs = 50;  // without a duration objective
constexpr double kMinLagLimitMs = 10;      // never stricter than this
constexpr double kLagShare = 0.25;         // of the tightest duration limit
constexpr double kDroppedShare = 0.001;    // of the planned arrivals

const char* op_text(Op op) {
  switch (op) {
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kEq:
      return "==";
    case Op::kNe:
      return "!=";
  }
  return "?";
}

// 1234567.8 -> "1,234,568"; below 100 with one or two decimals.
std::string rate_text(double r) {
  const int decimals = r >= 100 ? 0 : r >= 10 ? 1 : 2;
  std::string digits = fmt::format("{:.{}f}", r, decimals);
  const size_t dot = digits.find('.');
  std::string whole = digits.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : digits.substr(dot);
  for (int i = static_cast<int>(whole.size()) - 3;
       i > 0 && whole[static_cast<size_t>(i) - 1] != '-'; i -= 3) {
    whole.insert(static_cast<size_t>(i), ",");
  }
  return whole + frac;
}

// A whole count with thousands separators.
std::string count_text(double n) {
  return n >= 100 ? rate_text(std::round(n)) : fmt::format("{:.0f}", n);
}

std::string ms_text(double ms) {
  if (ms >= 100) return fmt::format("{:.0f} ms", ms);
  if (ms >= 10) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.2f} ms", ms);
}

std::string percent_text(double ratio) {
  return fmt::format("{:.2f}%", ratio * 100);
}

std::string limit_percent_text(double ratio) {
  return fmt::format("{:g}%", ratio * 100);
}

std::string aggregation_text(const ThresholdExpr& e) {
  switch (e.aggregation) {
    case Agg::kAvg:
      return "avg";
    case Agg::kMin:
      return "min";
    case Agg::kMax:
      return "max";
    case Agg::kMed:
      return "p50";
    case Agg::kPercentile:
      return fmt::format("p{:g}", e.percentile);
    case Agg::kRate:
      return "rate";
    case Agg::kCount:
      return "count";
    case Agg::kValue:
      return "value";
  }
  return "?";
}

// "{name:api}" of a key, or "".
std::string tag_part(const std::string& key) {
  const size_t brace = key.find('{');
  return brace == std::string::npos ? "" : key.substr(brace);
}

double ms(uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

}  // namespace

const char* verdict_name(ProbeVerdict v) {
  switch (v) {
    case ProbeVerdict::kPass:
      return "pass";
    case ProbeVerdict::kObjectives:
      return "objectives";
    case ProbeVerdict::kGenerator:
      return "generator";
  }
  return "pass";
}

double send_lag_limit_ms(const std::vector<ThresholdConfig>& thresholds) {
  double tightest = std::numeric_limits<double>::infinity();
  for (const ThresholdConfig& t : thresholds) {
    if (t.metric != "http_req_duration") continue;
    if (t.parsed.op != Op::kLt && t.parsed.op != Op::kLe) continue;
    tightest = std::min(tightest, t.parsed.value);
  }
  if (!std::isfinite(tightest)) return kDefaultLagLimitMs;
  return std::max(kMinLagLimitMs, kLagShare * tightest);
}

std::string objective_text(const ObjectiveOutcome& o, bool with_limit) {
  const ThresholdExpr& e = o.parsed;
  const std::string tags = tag_part(o.key);
  const MetricDef* def = find_metric(o.metric);
  std::string name;
  std::string observed;
  std::string limit;
  if (o.metric == "http_req_failed") {
    name = "errors" + tags;
    observed = percent_text(o.result.observed);
    limit = limit_percent_text(e.value);
  } else if (def && def->type == MetricType::kTrend) {
    name = (o.metric == "http_req_duration" ? "" : o.metric + " ") + aggregation_text(e) + tags;
    observed = ms_text(o.result.observed);
    limit = ms_text(e.value);
  } else if (def && def->type == MetricType::kCounter && e.aggregation == Agg::kRate) {
    name = o.metric + tags;
    observed = rate_text(o.result.observed) + "/s";
    limit = rate_text(e.value) + "/s";
  } else {
    name = o.metric + tags + " " + aggregation_text(e);
    observed = fmt::format("{:g}", o.result.observed);
    limit = fmt::format("{:g}", e.value);
  }
  if (!o.result.has_data) return name + " no data";
  std::string text = name + " " + observed;
  if (with_limit)
    text += std::string(" ") +
            (o.result.ok ? op_text(e.op) : "crossed " + std::string(op_text(e.op))) + " " + limit;
  return text;
}

ProbeResult judge_probe(const WorkerStats& window, double seconds, double rate,
                        const ProbeJudgeInput& in) {
  ProbeResult p;
  p.rate = rate;
  const Totals t = read_totals(window);
  p.requests = t.http_reqs;
  p.failed = t.http_failed;
  p.rps = seconds > 0 ? static_cast<double>(p.requests) / seconds : 0;
  p.error_rate = p.requests ? static_cast<double>(p.failed) / static_cast<double>(p.requests) : 0;
  const Histogram& lat = window.latency;
  p.p50_ms = ms(lat.percentile(50));
  p.p90_ms = ms(lat.percentile(90));
  p.p95_ms = ms(lat.percentile(95));
  p.p99_ms = ms(lat.percentile(99));
  p.max_ms = ms(lat.max());
  p.send_lag_p50_ms = ms(window.send_lag.percentile(50));
  p.send_lag_p95_ms = ms(window.send_lag.percentile(95));
  if (in.scenario < window.scenarios.size()) {
    p.dropped = window.scenarios[in.scenario].dropped_iterations;
    p.vus_max = window.scenarios[in.scenario].vus_max;
  }

  MetricSource source;
  source.stats = &window;
  source.scenario_names = in.scenario_names;
  source.scenario_tags = in.scenario_tags;
  source.elapsed_seconds = seconds;
  std::vector<std::string> crossed;
  if (in.thresholds) {
    for (const ThresholdConfig& th : *in.thresholds) {
      ObjectiveOutcome o{th.metric, th.key, th.expression, th.parsed,
                         evaluate_threshold(th, source)};
      if (!o.result.ok) crossed.push_back(objective_text(o, false));
      p.objectives.push_back(std::move(o));
    }
  }

  const double lag_limit = in.thresholds ? send_lag_limit_ms(*in.thresholds) : kDefaultLagLimitMs;
  const double planned = rate * seconds;
  if (p.send_lag_p50_ms > lag_limit) {
    p.verdict = ProbeVerdict::kGenerator;
    p.reason = fmt::format("send lag p50 {} > {}: pelt could not send on time",
                           ms_text(p.send_lag_p50_ms), ms_text(lag_limit));
  } else if (!crossed.empty()) {
    p.verdict = ProbeVerdict::kObjectives;
    std::string joined;
    for (const std::string& c : crossed) joined += (joined.empty() ? "" : ", ") + c;
    p.reason = joined;
  } else if (p.dropped > 0 && static_cast<double>(p.dropped) > kDroppedShare * planned) {
    p.verdict = ProbeVerdict::kGenerator;
    p.reason = fmt::format(
        "{} of {} arrivals dropped: all {} VUs were busy (raise max_vus, or add "
        "--threads when pelt's CPU is saturated)",
        count_text(static_cast<double>(p.dropped)), count_text(planned), in.max_vus);
  } else if (p.requests == 0) {
    p.verdict = ProbeVerdict::kObjectives;
    p.reason = "no request ended in the window";
  }
  return p;
}

bool certain_failure(const WorkerStats& partial, double rate, double hold_s,
                     const ProbeJudgeInput& in) {
  constexpr double kSpare = 1.1;  // the window may end with a few more requests than planned
  const double most = rate * hold_s * kSpare;
  if (in.scenario < partial.scenarios.size() &&
      static_cast<double>(partial.scenarios[in.scenario].dropped_iterations) >
          kDroppedShare * most) {
    return true;
  }
  if (!in.thresholds) return false;
  for (const ThresholdConfig& th : *in.thresholds) {
    bool plain = true;
    for (const auto& [tag, value] : th.tags) plain = plain && tag == "scenario";
    if (!plain) continue;
    const ThresholdExpr& e = th.parsed;
    const bool below = e.op == Op::kLt || e.op == Op::kLe;
    if (th.metric == "http_req_duration" && below &&
        (e.aggregation == Agg::kPercentile || e.aggregation == Agg::kMed ||
         e.aggregation == Agg::kMax)) {
      // Samples at or above the limit (above it for <=) in the window so far.
      const double limit_us = e.value * 1000;
      if (limit_us < 1) continue;
      const uint64_t bound = static_cast<uint64_t>(std::ceil(limit_us)) - (e.op == Op::kLt ? 1 : 0);
      const Histogram& lat = partial.latency;
      const uint64_t over = lat.count() - std::min(lat.count(), lat.count_at_or_below(bound));
      const double share = e.aggregation == Agg::kMax   ? 0
                           : e.aggregation == Agg::kMed ? 0.5
                                                        : 1 - e.percentile / 100;
      if (static_cast<double>(over) > share * most) return true;
    } else if (th.metric == "http_req_failed" && below && e.aggregation == Agg::kRate) {
      const Totals t = read_totals(partial);
      if (static_cast<double>(t.http_failed) > e.value * most) return true;
    }
  }
  return false;
}

std::string capacity_headline(const CapacityResult& c) {
  std::string line = "maximum sustainable rate: ";
  if (c.max_sustainable_rate && c.best_probe && *c.best_probe < c.probes.size()) {
    const ProbeResult& best = c.probes[*c.best_probe];
    line += rate_text(*c.max_sustainable_rate) + " req/s";
    std::string held;
    for (const ObjectiveOutcome& o : best.objectives)
      held += (held.empty() ? "" : ", ") + objective_text(o, true);
    if (!held.empty()) line += " (" + held + ")";
  } else {
    line += "none";
    if (!c.probes.empty())
      line += ", even the starting rate " + rate_text(c.start_rate) + " req/s failed";
  }
  if (c.first_failing_rate && c.failing_probe && *c.failing_probe < c.probes.size()) {
    const ProbeResult& bad = c.probes[*c.failing_probe];
    line += "; first failing: " + rate_text(*c.first_failing_rate) + " req/s (";
    line += bad.verdict == ProbeVerdict::kGenerator ? "generator: " + bad.reason : bad.reason;
    line += ")";
  } else if (c.limited_by == "max_rate") {
    line += "; no failure up to max_rate " + rate_text(c.max_rate) + " req/s";
  }
  if (!c.complete) line += " [search not finished]";
  return line;
}

nlohmann::json capacity_json(const CapacityResult& c) {
  using nlohmann::json;
  const auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json probes = json::array();
  for (const ProbeResult& p : c.probes) {
    json objectives = json::array();
    for (const ObjectiveOutcome& o : p.objectives) {
      objectives.push_back({{"metric", o.metric},
                            {"key", o.key},
                            {"expression", o.expression},
                            {"op", op_text(o.parsed.op)},
                            {"limit", o.parsed.value},
                            {"ok", o.result.ok},
                            {"has_data", o.result.has_data},
                            {"observed", o.result.observed},
                            {"text", o.result.text}});
    }
    probes.push_back({{"index", p.index},
                      {"rate", p.rate},
                      {"start_seconds", p.start_s},
                      {"window_from_seconds", p.window_from_s},
                      {"window_to_seconds", p.window_to_s},
                      {"requests", p.requests},
                      {"rps", p.rps},
                      {"failed", p.failed},
                      {"error_rate", p.error_rate},
                      {"p50_ms", p.p50_ms},
                      {"p90_ms", p.p90_ms},
                      {"p95_ms", p.p95_ms},
                      {"p99_ms", p.p99_ms},
                      {"max_ms", p.max_ms},
                      {"dropped_iterations", p.dropped},
                      {"send_lag_p50_ms", p.send_lag_p50_ms},
                      {"send_lag_p95_ms", p.send_lag_p95_ms},
                      {"vus_max", p.vus_max},
                      {"verdict", verdict_name(p.verdict)},
                      {"early", p.early},
                      {"ok", p.verdict == ProbeVerdict::kPass},
                      {"reason", p.reason},
                      {"objectives", objectives}});
  }
  return {{"scenario", c.scenario},
          {"max_sustainable_rate", opt(c.max_sustainable_rate)},
          {"first_failing_rate", opt(c.first_failing_rate)},
          {"limited_by", c.limited_by.empty() ? json(nullptr) : json(c.limited_by)},
          {"complete", c.complete},
          {"headline", capacity_headline(c)},
          {"rate_unit", "iterations/s"},
          {"start_rate", c.start_rate},
          {"max_rate", c.max_rate},
          {"step_factor", c.step_factor},
          {"precision", c.precision},
          {"hold_seconds", c.hold_s},
          {"settle_seconds", c.settle_s},
          {"best_probe", c.best_probe ? json(*c.best_probe) : json(nullptr)},
          {"failing_probe", c.failing_probe ? json(*c.failing_probe) : json(nullptr)},
          {"probes", probes}};
}

void print_capacity(std::FILE* out, const CapacityResult& c) {
  std::fprintf(out, "\n  capacity search of %s (hold %gs after %gs settle, precision %g%%)\n",
               c.scenario.c_str(), c.hold_s, c.settle_s, c.precision * 100);
  std::fprintf(out, "    %-3s %10s %10s %10s %10s %10s %8s %8s %9s  %s\n", "#", "rate", "req/s",
               "p50", "p95", "p99", "err%", "dropped", "lag p50", "verdict");
  for (const ProbeResult& p : c.probes) {
    std::string verdict = p.verdict == ProbeVerdict::kPass
                              ? "\xE2\x9C\x93 pass"
                              : std::string("\xE2\x9C\x97 ") + verdict_name(p.verdict);
    if (p.early) verdict += " (early)";
    if (!p.reason.empty()) verdict += ": " + p.reason;
    std::fprintf(out, "    %-3zu %10s %10s %10s %10s %10s %7.2f%% %8llu %9s  %s\n", p.index + 1,
                 rate_text(p.rate).c_str(), rate_text(p.rps).c_str(), ms_text(p.p50_ms).c_str(),
                 ms_text(p.p95_ms).c_str(), ms_text(p.p99_ms).c_str(), p.error_rate * 100,
                 static_cast<unsigned long long>(p.dropped), ms_text(p.send_lag_p50_ms).c_str(),
                 verdict.c_str());
  }
  std::fprintf(out, "  -> %s\n", capacity_headline(c).c_str());
  if (c.limited_by == "generator") {
    std::fprintf(
        out,
        "     the limit found is pelt's, not the server's: add threads (--threads), VUs (max_vus) "
        "or load machines\n");
  }
}

}  // namespace pelt
