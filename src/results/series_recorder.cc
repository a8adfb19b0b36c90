#include "results/series_recorder.h"

namespace pelt {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

}  // namespace

void SeriesRecorder::start(uint64_t run_start_ns, size_t scenarios) {
  started_ = true;
  run_start_ns_ = run_start_ns;
  second_ = 0;
  second_end_ns_ = run_start_ns + kNsPerSecond;
  scenarios_.resize(scenarios);
}

SeriesSlot& SeriesRecorder::name(uint32_t scenario, const std::string& name, const std::string& method) {
  auto& names = scenarios_[scenario].names;
  for (auto& n : names) {
    if (n->name == name) return n->slot;
  }
  const bool fold = names.size() >= kMaxNameSeries;
  if (fold) {
    for (auto& n : names) {
      if (n->name == "other") return n->slot;
    }
  }
  auto slot = std::make_unique<NameSlot>();
  slot->name = fold ? "other" : name;
  slot->method = fold ? "" : method;
  names.push_back(std::move(slot));
  return names.back()->slot;
}

void SeriesRecorder::set_gauges(uint32_t scenario, uint32_t vus, uint32_t vus_max, double target,
                                bool rate) {
  ScenarioSlots& s = scenarios_[scenario];
  s.vus = vus;
  s.vus_max = vus_max;
  (rate ? s.target_rate : s.target_vus) = target;
}

bool SeriesRecorder::drain(SeriesSlot& slot, SeriesPoint& out) {
  if (!slot.used) return false;
  out.add_parallel(slot.point);
  slot.latency.drain_into(out.latency);
  slot.lag.drain_into(out.send_lag);
  for (const auto& [code, n] : slot.codes) out.status_codes[code] += n;
  slot.point = SeriesPoint();
  slot.codes.clear();
  slot.used = false;
  return true;
}

void SeriesRecorder::close(uint64_t now_ns) {
  ClosedSecond second;
  second.index = second_;
  SeriesPoint run;
  drain(run_extra_, run);
  for (uint32_t i = 0; i < scenarios_.size(); ++i) {
    ScenarioSlots& s = scenarios_[i];
    SeriesPoint scenario;
    drain(s.extra, scenario);
    for (auto& n : s.names) {
      SeriesPoint p;
      if (!drain(n->slot, p)) continue;
      scenario.add_parallel(p);
      second.series.push_back({SeriesKey{SeriesScope::kName, i, n->name, n->method}, std::move(p)});
    }
    scenario.status_codes.clear();  // by code for names only
    scenario.vus = s.vus;
    scenario.vus_max = s.vus_max;
    scenario.target_vus = s.target_vus;
    scenario.target_rate = s.target_rate;
    run.add_parallel(scenario);
    second.series.push_back({SeriesKey{SeriesScope::kScenario, i, "", ""}, std::move(scenario)});
  }
  second.series.push_back({SeriesKey{}, std::move(run)});
  closed_.push_back(std::move(second));
  const uint64_t elapsed = now_ns > run_start_ns_ ? now_ns - run_start_ns_ : 0;
  second_ = std::max(second_ + 1, elapsed / kNsPerSecond);
  second_end_ns_ = run_start_ns_ + (second_ + 1) * kNsPerSecond;
}

void SeriesRecorder::finish(uint64_t now_ns) {
  if (!started_) return;
  close(now_ns);
  started_ = false;
  second_end_ns_ = UINT64_MAX;
}

}  // namespace pelt
