#include "engine/capacity_search.h"

#include <algorithm>
#include <cmath>

namespace pelt {
namespace {

double per_second(double per_unit, std::chrono::microseconds time_unit) {
  const double unit_s = static_cast<double>(time_unit.count()) / 1e6;
  return unit_s > 0 ? per_unit / unit_s : 0;
}

// Seconds a probe may take beyond settle + hold: its verdict waits for the last second's data.
constexpr double kJudgeWaitSeconds = 3;

}  // namespace

SearchParams search_params(const ScenarioConfig& c) {
  SearchParams p;
  p.start_rate = per_second(c.start_rate, c.time_unit);
  p.max_rate = std::max(p.start_rate, per_second(c.max_rate, c.time_unit));
  p.step_factor = c.step_factor;
  p.precision = c.precision;
  return p;
}

CapacitySearch::CapacitySearch(SearchParams params) : p_(params) {
  p_.step_factor = std::max(p_.step_factor, 1.0 + 1e-6);
  p_.precision = std::max(p_.precision, 1e-6);
  next_ = std::min(p_.start_rate, p_.max_rate);
  if (!(next_ > 0)) done_ = true;
}

void CapacitySearch::record(ProbeVerdict verdict) {
  if (done_) return;
  const double rate = next_;
  if (verdict == ProbeVerdict::kPass) {
    lo_ = lo_ ? std::max(*lo_, rate) : rate;
  } else if (!hi_ || rate <= *hi_) {
    hi_ = rate;
    hi_verdict_ = verdict;
  }
  if (!lo_) {
    finish();  // the starting rate failed: nothing is sustainable
    return;
  }
  if (!hi_) {
    if (rate >= p_.max_rate) {
      finish();  // max_rate held
      return;
    }
    next_ = std::min(rate * p_.step_factor, p_.max_rate);
    return;
  }
  bisecting_ = true;
  if (*hi_ - *lo_ <= p_.precision * *lo_) {
    finish();
    return;
  }
  next_ = std::sqrt(*lo_ * *hi_);
}

size_t max_probes(const SearchParams& p) {
  const double step = std::max(p.step_factor, 1.0 + 1e-6);
  const double raise = p.start_rate > 0 && p.max_rate > p.start_rate
                           ? std::ceil(std::log(p.max_rate / p.start_rate) / std::log(step))
                           : 0;
  // Bisecting a ratio `step` in halves (on a log scale) until it is within 1 + precision.
  const double bisect =
      std::ceil(std::log2(std::log(step) / std::log1p(std::max(p.precision, 1e-6))));
  return static_cast<size_t>(raise) + 1 + static_cast<size_t>(std::max(0.0, bisect)) + 1;
}

std::chrono::microseconds search_time_bound(const ScenarioConfig& c) {
  const SearchParams p = search_params(c);
  const double probe_s = static_cast<double>((c.settle + c.hold).count()) / 1e6;
  const size_t probes = max_probes(p);
  // Every probe, its wait for a verdict, and a recovery of up to two probe lengths after each
  // failing one (at most the bisecting probes and the first failure).
  const double bisect = static_cast<double>(probes) - 1;
  const double seconds =
      static_cast<double>(probes) * (probe_s + kJudgeWaitSeconds) + bisect * 2 * probe_s + 10;
  return std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

}  // namespace pelt
