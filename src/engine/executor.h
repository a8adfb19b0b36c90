// An Executor runs one scenario's share on one worker: it owns the scenario's VUs and decides
// when iterations start. ClosedLoopExecutor keeps a number of VUs iterating back to back
// (constant-vus, ramping-vus, per-vu-iterations, shared-iterations); OpenLoopExecutor starts
// iterations on a schedule of arrivals (constant- and ramping-arrival-rate). The worker drives
// them with the time: a control tick every 10 ms, the due arrivals, the timeouts. Nothing here
// reads a clock of its own, so tests drive executors and VUs on a FakeClock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "engine/plan.h"
#include "engine/scenario.h"
#include "engine/segment.h"
#include "engine/vu.h"

namespace pelt {

class Executor {
 public:
  // segment: this worker's part of the scenario (VUs, iterations and arrivals are shared out).
  Executor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan, Segment segment);
  virtual ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  ScenarioContext& scenario() { return scenario_; }
  const ExecutorPlan& plan() const { return plan_; }
  // Before the start (--paused, --start-at): opens the VUs the start needs and connects them.
  virtual void prewarm() {}
  // The run began at run_start_ns; the scenario starts start_time later.
  void start(uint64_t run_start_ns);
  // The control tick: stage, targets, the end of the plan and of the graceful stop.
  void tick(uint64_t now_ns);
  // Open loop: when the next arrival is due (ns), 0 when none is.
  virtual uint64_t next_due_ns() const { return 0; }
  // Open loop: starts every arrival due by now_ns.
  virtual void dispatch_due(uint64_t /*now_ns*/) {}
  // A VU is free (its iteration ended, or it became ready or wanted): what next?
  virtual void on_vu_free(Vu& vu) = 0;
  // Requests older than timeout_ns time out; so do connects.
  void check_timeouts(uint64_t now_ns, uint64_t timeout_ns);
  // Ends the scenario now: busy VUs are cut (interrupted, their requests in flight), every VU
  // shuts down, waiting arrivals count as dropped.
  void finish();
  bool done() const { return done_; }
  bool started() const { return started_; }
  bool issuing() const { return issuing_; }
  // Live figures for a snapshot: VUs running (closed loop: also those still wanted) and
  // requests waiting for a response.
  uint32_t live_vus() const;
  uint64_t outstanding() const;
  const std::vector<std::unique_ptr<Vu>>& vus() const { return vus_; }

 protected:
  // While issuing, once per tick: t = time since the scenario started.
  virtual void control(uint64_t now_ns, std::chrono::microseconds t) = 0;
  // The plan ended: no new iterations.
  virtual void stop_issuing() = 0;
  // When the plan stops issuing new iterations (ns): the scenario start plus the plan's
  // duration. An executor whose plan is decided as it runs (capacity-search) moves it.
  virtual uint64_t plan_end_ns() const;
  // Whether a VU counts as live in a snapshot.
  virtual bool counts_as_live(const Vu& vu) const = 0;
  virtual void on_finish() {}
  // Opens the next VU, on the connection its index falls in (env.streams VUs per connection).
  Vu& open_vu();
  // This worker's share of n VUs, split in whole connections (env.streams VUs each).
  uint32_t vu_share(uint64_t n) const;
  // Counts the iteration of a busy VU as interrupted and its unanswered requests as in flight.
  void count_cut(const Vu& vu);

  VuEnv& env_;
  ScenarioContext& scenario_;
  const ExecutorPlan& plan_;
  Segment segment_;                     // this worker's part
  // Every connection ever opened here; VU i sends over connection i / env.streams. (Declared
  // before vus_: the VUs, which hold references to them, are destroyed first.)
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Vu>> vus_;  // every VU ever opened here
  uint32_t max_vus_ = 0;                // VUs this worker may open
  uint64_t start_ns_ = 0;               // scenario start, ns
  bool started_ = false;                // the scenario's start time has passed
  bool issuing_ = true;                 // new iterations may start
  bool done_ = false;                   // finished: no iteration runs any more
};

// How many iterations a closed-loop executor may run.
enum class IterationQuota {
  kNone,    // as many as fit in the plan's time (constant-vus, ramping-vus)
  kPerVu,   // `iterations` per VU (per-vu-iterations)
  kShared,  // `iterations` in total, shared by the VUs (shared-iterations)
};

class ClosedLoopExecutor : public Executor {
 public:
  ClosedLoopExecutor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan,
                     Segment segment, IterationQuota quota, uint64_t iterations);
  void prewarm() override;
  void on_vu_free(Vu& vu) override;

 protected:
  void control(uint64_t now_ns, std::chrono::microseconds t) override;
  void stop_issuing() override;
  bool counts_as_live(const Vu& vu) const override { return !vu.free() || vu.active(); }

 private:
  IterationQuota quota_;             // iteration limit
  uint64_t per_vu_iterations_ = 0;   // kPerVu: iterations per VU
  uint64_t iterations_left_ = 0;     // kShared: iterations this worker may still start
};

class OpenLoopExecutor : public Executor {
 public:
  // queue_when_busy: an arrival that finds no free VU waits for one (quick mode's -R), instead
  // of being dropped when no VU can be opened (k6's arrival-rate executors).
  OpenLoopExecutor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan,
                   Segment segment, bool queue_when_busy);
  uint64_t next_due_ns() const override { return issuing_ ? next_due_ns_ : 0; }
  void prewarm() override;
  void dispatch_due(uint64_t now_ns) override;
  void on_vu_free(Vu& vu) override;

 protected:
  void control(uint64_t now_ns, std::chrono::microseconds t) override;
  void stop_issuing() override { drop_queued(); }
  bool counts_as_live(const Vu& vu) const override { return !vu.free(); }
  void on_finish() override;
  // The schedule: when global arrival n is due (ns, on the clock), nullopt when it is not
  // (yet) scheduled; and the total target rate (iterations per second) at t. The plan's by
  // default; a variant whose rate is decided as it runs overrides both and calls reschedule()
  // when its schedule changed.
  virtual std::optional<uint64_t> arrival_due_ns(uint64_t n) const;
  virtual double target_rate(std::chrono::microseconds t) const { return plan_.target_rate(t); }
  // Forgets the cached due time of the next arrival, so the next tick asks the schedule again.
  void reschedule() { next_due_ns_ = 0; }

 private:
  void dispatch(uint64_t intended_ns);  // one arrival
  Vu& open_warm_vu();                   // opens a VU and its connection ahead of need
  void drop_queued();                   // counts and clears waiting arrivals

  bool queue_when_busy_;          // wait for a VU instead of dropping
  std::vector<Vu*> idle_;         // connected VUs waiting for an arrival
  std::deque<uint64_t> queue_;    // due arrivals waiting for a VU (their due time, ns)
  uint32_t warming_ = 0;          // VUs opened and still connecting
  uint64_t next_arrival_ = 0;     // global index of this worker's next arrival
  uint64_t next_due_ns_ = 0;      // when it is due (ns), 0 = none
};

}  // namespace pelt
