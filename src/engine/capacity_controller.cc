#include "engine/capacity_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "results/probe_window.h"

namespace pelt {
namespace {

double seconds_of(std::chrono::microseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

// The shortest recovery: long enough for a fresh snapshot of what is in flight.
constexpr double kMinRecoverySeconds = 1.0;

}  // namespace

CapacityController::CapacityController(Options options)
    : o_(options), search_(search_params(options.scenario)) {
  start_time_s_ = seconds_of(o_.scenario.start_time);
  settle_s_ = std::round(seconds_of(o_.scenario.settle));
  hold_s_ = std::max(1.0, std::round(seconds_of(o_.scenario.hold)));
}

uint64_t CapacityController::scenario_ns(double run_s) const {
  const double t = std::max(0.0, run_s - start_time_s_);
  return static_cast<uint64_t>(std::llround(t * 1e9));
}

void CapacityController::set_rate_at(double run_s, double rate) {
  o_.schedule->set_rate(scenario_ns(run_s), rate);
}

void CapacityController::begin() {
  if (search_.done()) {
    phase_ = Phase::kDone;
    o_.schedule->end(0);
    return;
  }
  probe_start_s_ = static_cast<uint64_t>(std::ceil(start_time_s_));
  set_rate_at(static_cast<double>(probe_start_s_), search_.next_rate());
  phase_ = Phase::kProbing;
}

void CapacityController::start_probe(double elapsed_s) {
  probe_start_s_ = static_cast<uint64_t>(std::ceil(elapsed_s + kLeadSeconds));
  set_rate_at(static_cast<double>(probe_start_s_), search_.next_rate());
  phase_ = Phase::kProbing;
}

std::string CapacityController::probe_line(const ProbeResult& p) const {
  std::string line =
      fmt::format("pelt: probe {} at {:.1f}/s: {:.1f} req/s, p95 {:.2f} ms, errors {:.2f}% -> ",
                  p.index + 1, p.rate, p.rps, p.p95_ms, p.error_rate * 100);
  if (p.verdict == ProbeVerdict::kPass) return line + "pass";
  return line + "fail (" + verdict_name(p.verdict) + (p.early ? ", early" : "") + ": " + p.reason +
         ")";
}

std::vector<std::string> CapacityController::poll(double elapsed_s, const TimeSeries& series,
                                                  uint64_t complete_s, uint64_t waiting) {
  std::vector<std::string> lines;
  if (phase_ == Phase::kProbing) {
    const uint64_t from = probe_start_s_ + static_cast<uint64_t>(settle_s_);
    uint64_t to = from + static_cast<uint64_t>(hold_s_);
    ProbeJudgeInput in;
    in.thresholds = &o_.thresholds;
    in.scenario_names = &o_.scenario_names;
    in.scenario_tags = &o_.scenario_tags;
    in.scenario = o_.scenario_index;
    in.max_vus = o_.max_vus;
    bool early = false;
    if (complete_s < to) {
      // A probe that can no longer pass ends now: more overload only builds a queue to drain.
      if (complete_s <= from || complete_s == checked_through_s_) return lines;
      checked_through_s_ = complete_s;
      const WorkerStats partial = window_stats(series, from, complete_s, o_.scenario_count);
      if (!certain_failure(partial, search_.next_rate(), hold_s_, in)) return lines;
      to = complete_s;
      early = true;
    }
    const WorkerStats window = window_stats(series, from, to, o_.scenario_count);
    ProbeResult p = judge_probe(window, static_cast<double>(to - from), search_.next_rate(), in);
    p.early = early;
    p.index = probes_.size();
    p.start_s = static_cast<double>(probe_start_s_);
    p.window_from_s = static_cast<double>(from);
    p.window_to_s = static_cast<double>(to);
    lines.push_back(probe_line(p));
    search_.record(p.verdict);
    const bool failed = p.verdict != ProbeVerdict::kPass;
    probes_.push_back(std::move(p));
    if (search_.done()) {
      o_.schedule->end(scenario_ns(elapsed_s + kLeadSeconds));
      phase_ = Phase::kDone;
      lines.push_back("pelt: " + capacity_headline(result()));
      return lines;
    }
    if (failed) {
      set_rate_at(elapsed_s + kLeadSeconds, 0);
      recover_since_s_ = elapsed_s;
      phase_ = Phase::kRecovering;
    } else {
      start_probe(elapsed_s);
    }
  }
  if (phase_ == Phase::kRecovering) {
    const double recovering = elapsed_s - recover_since_s_;
    const double cap = std::max(kMinRecoverySeconds, 2 * (settle_s_ + hold_s_));
    if ((recovering >= kMinRecoverySeconds && waiting == 0) || recovering >= cap)
      start_probe(elapsed_s);
  }
  return lines;
}

CapacityResult CapacityController::result() const {
  CapacityResult r;
  const SearchParams p = search_params(o_.scenario);
  r.scenario = o_.scenario.name;
  r.start_rate = p.start_rate;
  r.max_rate = p.max_rate;
  r.step_factor = p.step_factor;
  r.precision = p.precision;
  r.hold_s = hold_s_;
  r.settle_s = settle_s_;
  r.probes = probes_;
  r.complete = phase_ == Phase::kDone;
  r.max_sustainable_rate = search_.passing();
  r.first_failing_rate = search_.failing();
  for (size_t i = 0; i < probes_.size(); ++i) {
    const ProbeResult& pr = probes_[i];
    const bool pass = pr.verdict == ProbeVerdict::kPass;
    if (pass && r.max_sustainable_rate && pr.rate == *r.max_sustainable_rate) r.best_probe = i;
    if (!pass && r.first_failing_rate && pr.rate == *r.first_failing_rate) r.failing_probe = i;
  }
  if (r.complete) {
    if (r.first_failing_rate && search_.failing_verdict()) {
      r.limited_by = verdict_name(*search_.failing_verdict());
    } else if (r.max_sustainable_rate) {
      r.limited_by = "max_rate";
    }
  }
  return r;
}

}  // namespace pelt

namespace pelt {

void CapacityController::report(RunReport& report) const {
  report.capacity = result();
  const CapacityResult& c = *report.capacity;
  report.breaking_point = BreakingPoint{};
  for (ScenarioInfo& sc : report.info.scenarios) {
    if (sc.name != c.scenario || sc.stages.size() != 1) continue;
    double top = 0;
    for (const ProbeResult& p : c.probes) top = std::max(top, p.rate);
    if (top > 0) sc.stages[0].target = top;
    // (whole seconds: the search's length, read in a table)
    const auto ran = std::chrono::seconds(static_cast<int64_t>(std::ceil(report.elapsed_seconds))) -
                     sc.start_time;
    if (ran.count() > 0 && ran < sc.stages[0].length) sc.stages[0].length = ran;
  }
  std::optional<size_t> at = c.best_probe;
  if (!at && !c.probes.empty()) at = 0;
  if (!at) return;
  const ProbeResult& probe = c.probes[*at];
  if (probe.objectives.size() != report.info.thresholds.size()) return;
  report.thresholds.clear();
  for (size_t i = 0; i < probe.objectives.size(); ++i) {
    report.thresholds.push_back({&report.info.thresholds[i], probe.objectives[i].result});
  }
  report.thresholds_ok = c.max_sustainable_rate.has_value();
}

std::unique_ptr<CapacityController> start_capacity_controller(
    const RunConfig& config, const std::vector<ExecutorPlan>& plans, const RunInfo& info) {
  for (size_t i = 0; i < plans.size() && i < config.scenarios.size(); ++i) {
    if (!plans[i].schedule()) continue;
    CapacityController::Options o;
    o.scenario = config.scenarios[i];
    o.scenario_index = i;
    o.scenario_count = plans.size();
    o.thresholds = config.thresholds;
    o.scenario_names = info.scenario_names();
    o.scenario_tags = info.scenario_tags();
    o.max_vus = plans[i].max_vus();
    o.schedule = plans[i].schedule();
    auto controller = std::make_unique<CapacityController>(std::move(o));
    controller->begin();
    return controller;  // (a file has at most one capacity-search scenario)
  }
  return nullptr;
}

}  // namespace pelt
