// The search behind capacity-search, as a pure state machine: which rate to probe next given
// the verdicts so far. Raise the rate by step_factor from start_rate while probes pass (never
// beyond max_rate); after the first failure, bisect (geometric mean) between the highest
// passing and the lowest failing rate until (failing - passing) / passing <= precision. A
// failure of the starting rate ends the search with no rate found; a pass at max_rate ends it
// at max_rate. Time plays no part here (engine/capacity_controller.h runs the probes).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "config/config.h"
#include "results/capacity.h"

namespace pelt {

// Parameters in iterations per second.
struct SearchParams {
  double start_rate = 0;     // first probe
  double max_rate = 0;       // never probe above
  double step_factor = 1.5;  // raise by this while passing (> 1)
  double precision = 0.05;   // relative width at which bisecting stops (> 0)
};

// The parameters of a capacity-search scenario (rates converted to per second).
SearchParams search_params(const ScenarioConfig& scenario);

class CapacitySearch {
 public:
  explicit CapacitySearch(SearchParams params);

  bool done() const { return done_; }
  // The rate to probe next (meaningless once done()).
  double next_rate() const { return next_; }
  // The verdict of the probe at next_rate().
  void record(ProbeVerdict verdict);

  std::optional<double> passing() const { return lo_; }  // highest passing rate
  std::optional<double> failing() const { return hi_; }  // lowest failing rate
  std::optional<ProbeVerdict> failing_verdict() const { return hi_verdict_; }
  bool bisecting() const { return bisecting_; }

 private:
  void finish() { done_ = true; }

  SearchParams p_;
  double next_ = 0;                         // rate of the probe in progress
  std::optional<double> lo_;                // highest passing rate so far
  std::optional<double> hi_;                // lowest failing rate so far
  std::optional<ProbeVerdict> hi_verdict_;  // why hi_ failed
  bool bisecting_ = false;                  // a failure was seen: bisecting
  bool done_ = false;                       // the answer is known
};

// Probes the search may need at most (raising plus bisecting).
size_t max_probes(const SearchParams& params);
// An upper bound on the search's length (probes, their waits and recoveries): the plan's cap.
std::chrono::microseconds search_time_bound(const ScenarioConfig& scenario);

}  // namespace pelt
