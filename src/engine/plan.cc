// Executor math: stages as linear segments, their integrals and inverses.
#include "engine/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pelt {
namespace {

using std::chrono::microseconds;

constexpr double kUsPerSecond = 1e6;
// Slack for floating point noise when a value should land on a whole number.
constexpr double kEpsilon = 1e-9;
// Slack, in microseconds, when rounding an instant up to a whole microsecond.
constexpr double kRoundSlackUs = 1e-3;

double seconds_of(microseconds d) {
  return static_cast<double>(d.count()) / kUsPerSecond;
}




}  // namespace

ExecutorPlan::ExecutorPlan(const PlanSpec& spec) : open_loop_(spec.open_loop) {
  double from = std::max(spec.start, 0.0);
  for (const StageSpec& stage : spec.stages) {
    Stage s;
    s.start = duration_;
    s.length = std::max(stage.duration, microseconds(0));
    s.from = from;
    s.to = std::max(stage.target, 0.0);
    s.arrivals_before = total_arrivals_;
    stages_.push_back(s);
    duration_ += s.length;
    if (open_loop_) total_arrivals_ += integral_in(s, seconds_of(s.length));
    from = s.to;
  }
  if (stages_.empty()) {
    Stage s;
    s.from = s.to = from;
    stages_.push_back(s);
  }
  initial_vus_ = spec.initial_vus;
  max_vus_ = std::max(spec.max_vus, spec.initial_vus);
  schedule_ = spec.schedule;
}

bool ExecutorPlan::arrival_rate() const {
  return open_loop_;
}

double ExecutorPlan::value_at(const Stage& s, microseconds t) const {
  if (s.length.count() <= 0) return s.to;
  double frac = static_cast<double>((t - s.start).count()) / static_cast<double>(s.length.count());
  frac = std::clamp(frac, 0.0, 1.0);
  return s.from + (s.to - s.from) * frac;
}

double ExecutorPlan::integral_in(const Stage& s, double seconds) const {
  const double length_s = seconds_of(s.length);
  if (length_s <= 0) return 0;
  const double x = std::clamp(seconds, 0.0, length_s);
  return s.from * x + (s.to - s.from) * x * x / (2 * length_s);
}

double ExecutorPlan::target_vus(microseconds t) const {
  if (arrival_rate()) return 0;
  if (t >= duration_) return std::floor(stages_.back().to + kEpsilon);
  const Stage& s = stages_[stage_index(t)];
  const double v = value_at(s, std::max(t, microseconds(0)));
  // As k6: a VU joins when the line reaches its number, and leaves only when the line reaches
  // the number below it (4 -> 0 over 2 s keeps 4, 3, 2, 1 VUs for half a second each).
  return s.to < s.from ? std::ceil(v - kEpsilon) : std::floor(v + kEpsilon);
}

double ExecutorPlan::target_rate(microseconds t) const {
  if (!arrival_rate() || t >= duration_) return 0;
  return value_at(stages_[stage_index(t)], std::max(t, microseconds(0)));
}

double ExecutorPlan::arrivals_until(microseconds t) const {
  if (!arrival_rate() || t.count() <= 0) return 0;
  if (t >= duration_) return total_arrivals_;
  const Stage& s = stages_[stage_index(t)];
  return s.arrivals_before + integral_in(s, seconds_of(t - s.start));
}

std::optional<microseconds> ExecutorPlan::arrival_time(uint64_t n) const {
  if (!arrival_rate()) return std::nullopt;
  const double m = static_cast<double>(n);
  const double slack = kEpsilon * std::max(1.0, total_arrivals_);
  if (m >= total_arrivals_ - slack) return std::nullopt;
  for (const Stage& s : stages_) {
    const double length_s = seconds_of(s.length);
    if (length_s <= 0) continue;
    const double end = s.arrivals_before + integral_in(s, length_s);
    if (m >= end - slack) continue;
    // Solve from*x + (to-from)*x^2/(2*length) = local for x, in the cancellation-free form.
    const double local = std::max(0.0, m - s.arrivals_before);
    double x = 0;
    if (local > 0) {
      const double a = (s.to - s.from) / (2 * length_s);
      const double disc = std::max(0.0, s.from * s.from + 4 * a * local);
      const double denom = s.from + std::sqrt(disc);
      x = denom > 0 ? 2 * local / denom : 0;
    }
    x = std::clamp(x, 0.0, length_s);
    const double us = std::ceil(x * kUsPerSecond - kRoundSlackUs);
    const microseconds at = s.start + microseconds(static_cast<int64_t>(std::max(us, 0.0)));
    if (at >= duration_) return std::nullopt;
    return at;
  }
  return std::nullopt;
}

size_t ExecutorPlan::stage_count() const {
  return stages_.size();
}

size_t ExecutorPlan::stage_index(microseconds t) const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (t < stages_[i].start + stages_[i].length) return i;
  }
  return stages_.size() - 1;
}

double ExecutorPlan::stage_target(size_t i) const {
  return i < stages_.size() ? stages_[i].to : 0;
}

microseconds ExecutorPlan::stage_start(size_t i) const {
  return i < stages_.size() ? stages_[i].start : duration_;
}

microseconds ExecutorPlan::duration() const {
  return duration_;
}

uint32_t ExecutorPlan::initial_vus() const {
  return initial_vus_;
}

uint32_t ExecutorPlan::max_vus() const {
  return max_vus_;
}

}  // namespace pelt
