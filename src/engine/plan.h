// Executor math: what a scenario wants at each instant (VUs for closed-loop executors,
// iterations per second and the arrival schedule for open-loop ones). Pure functions of the
// time since the scenario started, so they are tested without a clock. engine/executors.cc
// builds the PlanSpec of each executor kind.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "config/config.h"
#include "engine/rate_schedule.h"

namespace pelt {

// The shape of a plan: linear stages from a start value, and the VU bounds.
struct PlanSpec {
  bool open_loop = false;        // values are iterations per second (else VUs)
  double start = 0;              // value before the first stage
  std::vector<StageSpec> stages;  // each ends at `target` (per second when open_loop)
  uint32_t initial_vus = 0;      // VUs to open at start
  uint32_t max_vus = 0;          // VUs that may ever exist
  // capacity-search: the rates, decided while the scenario runs (the stages then only bound
  // its length); null for every plan fixed in advance.
  std::shared_ptr<RateSchedule> schedule;
};

class ExecutorPlan {
 public:
  explicit ExecutorPlan(const PlanSpec& spec);

  bool arrival_rate() const;      // constant/ramping-arrival-rate (open loop)

  // t = time since the scenario started (its start_time already subtracted); t < 0 counts as 0.
  // Closed loop: VUs wanted at t, the linear interpolation rounded as k6 rounds it: down while
  // the stage ramps up (or holds), up while it ramps down. At or after duration() the last
  // stage's target. 0 for arrival-rate plans.
  double target_vus(std::chrono::microseconds t) const;
  // Open loop: iterations per SECOND at t. 0 at or after duration(), and for closed-loop plans.
  double target_rate(std::chrono::microseconds t) const;
  // Open loop: iterations scheduled in [0, t), the integral of the rate (exact for linear
  // ramps). Stops growing at duration().
  double arrivals_until(std::chrono::microseconds t) const;
  // Open loop: when iteration n (0-based) is due: the first whole microsecond at which the
  // integral reaches n, so iteration 0 is due at once and each stage gets exactly its share.
  // nullopt when that is not before duration() (or for closed-loop plans).
  std::optional<std::chrono::microseconds> arrival_time(uint64_t n) const;

  size_t stage_count() const;  // 1 for the constant and iteration executors
  size_t stage_index(std::chrono::microseconds t) const;  // last stage at or after duration()
  double stage_target(size_t i) const;  // VUs, or iterations per second for arrival rate
  std::chrono::microseconds stage_start(size_t i) const;  // duration() when i is past the end
  std::chrono::microseconds duration() const;  // when new iterations stop (no graceful stop)
  uint32_t initial_vus() const;  // VUs to open at start (arrival-rate: pre_allocated_vus)
  uint32_t max_vus() const;      // VUs that may ever exist
  // The live schedule of a capacity-search plan (shared by the workers and the main thread's
  // controller, internally synchronized), or null.
  RateSchedule* schedule() const { return schedule_.get(); }

 private:
  // One linear segment of the plan.
  struct Stage {
    std::chrono::microseconds start{0};   // offset from the scenario start
    std::chrono::microseconds length{0};  // duration of the stage
    double from = 0;                      // value at the start (VUs or iterations/s)
    double to = 0;                        // value at the end (VUs or iterations/s)
    double arrivals_before = 0;           // open loop: integral up to start
  };

  double value_at(const Stage& s, std::chrono::microseconds t) const;  // interpolated
  double integral_in(const Stage& s, double seconds) const;  // arrivals in [start, start+sec)

  bool open_loop_ = false;                 // arrival-rate plan
  std::vector<Stage> stages_;              // never empty
  std::chrono::microseconds duration_{0};  // sum of stage lengths
  double total_arrivals_ = 0;              // open loop: integral over the whole plan
  uint32_t initial_vus_ = 0;               // VUs opened at start
  uint32_t max_vus_ = 0;                   // VU cap
  std::shared_ptr<RateSchedule> schedule_; // capacity-search: the live rates
};


}  // namespace pelt
