// A rate schedule decided while the scenario runs (capacity-search): piecewise-constant rates
// that the main thread appends and the workers follow. The main thread writes it (set_rate,
// end); each worker keeps a copy (RateScheduleView) and takes a fresh one only when version()
// changed, which it checks once per control tick, so the arrival path reads no shared state.
//
// Arrivals are numbered globally, as in a plan (workers stripe them with their Segment): a
// segment starting at from_ns with rate R owns the arrivals first_arrival, first_arrival + 1,
// ... due at from_ns, from_ns + 1/R, ... until the next segment starts. Times are nanoseconds
// since the scenario started.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

namespace pelt {

// One piece of a schedule.
struct RateSegment {
  uint64_t from_ns = 0;        // when it starts, ns since the scenario start
  uint64_t first_arrival = 0;  // global index of its first arrival
  double rate = 0;             // iterations per second (0 = a pause: no arrivals)
};

// A copy of the schedule, read without a lock.
struct RateScheduleView {
  static constexpr uint64_t kOpen = std::numeric_limits<uint64_t>::max();

  std::vector<RateSegment> segments;  // in time order; empty = nothing scheduled yet
  uint64_t end_ns = kOpen;            // no arrival at or after this (ns since the start)
  uint64_t version = 0;               // changes with every edit

  // When global arrival n is due (ns since the start); nullopt while it is not scheduled (a
  // pause, nothing yet, or past the end).
  std::optional<uint64_t> due_ns(uint64_t n) const;
  // The rate at t (iterations per second); 0 before the first segment and after the end.
  double rate_at(uint64_t t_ns) const;
};

class RateSchedule {
 public:
  // From from_ns on, `rate` iterations per second (0 pauses). from_ns must not be before the
  // last segment's start (an equal start replaces it). Arrivals of the previous segment due
  // before from_ns stay as they were.
  void set_rate(uint64_t from_ns, double rate);
  // No new arrival at or after at_ns.
  void end(uint64_t at_ns);
  // Cheap check for workers (one atomic load).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  RateScheduleView view() const;

 private:
  mutable std::mutex mu_;             // guards view_
  RateScheduleView view_;             // the schedule
  std::atomic<uint64_t> version_{0};  // view_.version, readable without the lock
};

}  // namespace pelt
