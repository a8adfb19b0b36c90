#include "engine/executor.h"

#include <algorithm>
#include <cmath>

namespace pelt {
namespace {

constexpr uint64_t kNsPerUs = 1000;

uint64_t to_ns(std::chrono::microseconds d) {
  return d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()) * kNsPerUs;
}

const sockaddr* target_address(const ScenarioContext& scenario) {
  return reinterpret_cast<const sockaddr*>(&scenario.setup().handle->addr.storage);
}

}  // namespace

Executor::Executor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan, Segment segment)
    : env_(env), scenario_(scenario), plan_(plan), segment_(segment) {
  scenario_.stats().stages.resize(std::max<size_t>(1, plan_.stage_count()));
  max_vus_ = vu_share(plan_.max_vus());
  vus_.reserve(max_vus_);
}

Executor::~Executor() = default;

void Executor::start(uint64_t run_start_ns) {
  start_ns_ = run_start_ns + to_ns(scenario_.config().start_time);
}

void Executor::tick(uint64_t now_ns) {
  if (done_ || now_ns < start_ns_) return;
  started_ = true;
  const auto t = std::chrono::microseconds((now_ns - start_ns_) / kNsPerUs);
  ScenarioStats& stats = scenario_.stats();
  stats.stage = static_cast<uint32_t>(std::min(plan_.stage_index(t), stats.stages.size() - 1));
  const uint64_t end_ns = plan_end_ns();
  if (issuing_ && now_ns >= end_ns) {
    issuing_ = false;
    stop_issuing();
  }
  if (!issuing_) {
    // The plan is over: iterations in progress may finish within graceful_stop.
    bool busy = false;
    for (const auto& vu : vus_) busy = busy || !vu->free();
    const uint64_t grace_end = end_ns + to_ns(scenario_.config().graceful_stop);
    if (!busy || now_ns >= grace_end) finish();
    return;
  }
  control(now_ns, t);
}

uint32_t Executor::vu_share(uint64_t n) const {
  return static_cast<uint32_t>(std::min<uint64_t>(
      segment_.share_grouped(n, std::max<uint32_t>(env_.streams, 1)), UINT32_MAX));
}

uint64_t Executor::plan_end_ns() const {
  return start_ns_ + to_ns(plan_.duration());
}

Vu& Executor::open_vu() {
  const auto index = static_cast<uint32_t>(vus_.size());
  const uint32_t c = index / std::max<uint32_t>(env_.streams, 1);
  if (c == connections_.size()) {
    connections_.push_back(std::make_unique<Connection>(
        env_.transports, env_.recorder, target_address(scenario_), env_.run.bind_address(c)));
    connections_.back()->set_capture(scenario_.capture());
  }
  vus_.push_back(std::make_unique<Vu>(env_, scenario_, *this, index, *connections_[c]));
  scenario_.stats().vus_max = static_cast<uint32_t>(vus_.size());
  return *vus_.back();
}

void Executor::count_cut(const Vu& vu) {
  env_.recorder.record_interrupted(scenario_.index(), vu.outstanding(), env_.clock.now_ns());
}

void Executor::check_timeouts(uint64_t now_ns, uint64_t timeout_ns) {
  if (done_ || timeout_ns == 0) return;
  for (auto& vu : vus_) vu->check_timeouts(now_ns, timeout_ns);
  for (auto& c : connections_) c->check_connect_timeout(now_ns, timeout_ns);
}

void Executor::finish() {
  if (done_) return;
  done_ = true;
  issuing_ = false;
  on_finish();
  // A request can be outstanding only while its VU is busy.
  for (auto& vu : vus_) {
    if (!vu->free()) count_cut(*vu);
    vu->shutdown();
  }
  for (auto& c : connections_) c->shutdown();
  scenario_.stats().vus = 0;
}

uint32_t Executor::live_vus() const {
  if (done_) return 0;
  uint32_t n = 0;
  for (const auto& vu : vus_) n += counts_as_live(*vu) ? 1 : 0;
  return n;
}

uint64_t Executor::outstanding() const {
  uint64_t n = 0;
  for (const auto& vu : vus_) n += vu->outstanding();
  return n;
}

// --- closed loop ---

ClosedLoopExecutor::ClosedLoopExecutor(VuEnv& env, ScenarioContext& scenario,
                                       const ExecutorPlan& plan, Segment segment,
                                       IterationQuota quota, uint64_t iterations)
    : Executor(env, scenario, plan, segment), quota_(quota) {
  if (quota_ == IterationQuota::kPerVu) per_vu_iterations_ = iterations;
  if (quota_ == IterationQuota::kShared) {
    iterations_left_ = segment_.iteration_quota(plan_.max_vus(), iterations);
  }
}

void ClosedLoopExecutor::prewarm() {
  const uint64_t total = static_cast<uint64_t>(std::max(0.0, plan_.target_vus(std::chrono::microseconds(0))));
  const uint32_t want = std::min(segment_.share32(total), max_vus_);
  while (vus_.size() < want) {
    Vu& vu = open_vu();
    vu.set_keep_connected(true);  // until it first iterates (control)
    vu.warm_up();
  }
}

void ClosedLoopExecutor::control(uint64_t now_ns, std::chrono::microseconds t) {
  const uint64_t total = static_cast<uint64_t>(std::max(0.0, plan_.target_vus(t)));
  const uint32_t want = std::min(vu_share(total), max_vus_);
  scenario_.stats().target = static_cast<double>(want);
  while (vus_.size() < want) open_vu();
  // A VU the ramp-down took away finishes its iteration, unless that takes longer than
  // graceful_ramp_down: then the iteration is cut, and what it had sent stays in flight.
  const uint64_t grace_ns = to_ns(scenario_.config().graceful_ramp_down);
  for (auto& vu : vus_) {
    const bool on = vu->index() < want;
    if (on) vu->set_keep_connected(false);  // (a prewarmed VU's connection is kept while active)
    vu->set_active(on);
    // (inactive_since may be a little later than `now_ns`, read inside set_active)
    if (!on && !vu->free() && now_ns >= vu->inactive_since_ns() + grace_ns) {
      count_cut(*vu);
      vu->interrupt();
    }
  }
  if (quota_ == IterationQuota::kNone) return;
  // Iteration executors end when every VU has used up its iterations.
  bool left = quota_ == IterationQuota::kShared && iterations_left_ > 0;
  for (const auto& vu : vus_) {
    if (!vu->free()) left = true;
    else if (quota_ == IterationQuota::kPerVu && vu->iterations() < per_vu_iterations_) left = true;
  }
  if (!left) finish();
}

void ClosedLoopExecutor::stop_issuing() {
  for (auto& vu : vus_) vu->set_active(false);
  // max_duration ended an iteration executor: the iterations never started are dropped, as
  // in k6 (an iteration in progress goes on within graceful_stop).
  uint64_t dropped = 0;
  if (quota_ == IterationQuota::kShared) {
    dropped = iterations_left_;
    iterations_left_ = 0;
  } else if (quota_ == IterationQuota::kPerVu) {
    const uint64_t planned = std::min(
        segment_.share32(static_cast<uint64_t>(std::max(0.0, plan_.target_vus(plan_.duration())))),
        max_vus_);
    for (const auto& vu : vus_) {
      dropped += per_vu_iterations_ - std::min(per_vu_iterations_, vu->started_iterations());
    }
    if (planned > vus_.size()) dropped += (planned - vus_.size()) * per_vu_iterations_;
  }
  env_.recorder.record_dropped(scenario_.index(), dropped, env_.clock.now_ns());
}

void ClosedLoopExecutor::on_vu_free(Vu& vu) {
  if (!env_.run.running() || !issuing_ || !vu.free() || !vu.active()) return;
  if (quota_ == IterationQuota::kPerVu && vu.iterations() >= per_vu_iterations_) return;
  if (quota_ == IterationQuota::kShared) {
    if (iterations_left_ == 0) return;
    --iterations_left_;
  }
  vu.run_iteration(0);
}

// --- open loop ---

namespace {

constexpr size_t kMaxQueuedArrivals = 1u << 20;
// Arrivals one wake-up dispatches at most; the rest follow at the next one (at once).
constexpr uint64_t kMaxArrivalsPerWakeup = 10000;
// Arrivals due this close to now go out in the same wake-up (at most this early).
constexpr uint64_t kArrivalSlackNs = 20 * 1000;

}  // namespace

OpenLoopExecutor::OpenLoopExecutor(VuEnv& env, ScenarioContext& scenario, const ExecutorPlan& plan,
                                   Segment segment, bool queue_when_busy)
    : Executor(env, scenario, plan, segment), queue_when_busy_(queue_when_busy) {
  next_arrival_ = segment_.first_item();
}

void OpenLoopExecutor::prewarm() {
  const uint32_t initial = std::min(segment_.share32(plan_.initial_vus()), max_vus_);
  while (vus_.size() < initial) open_warm_vu();
}

void OpenLoopExecutor::control(uint64_t now_ns, std::chrono::microseconds t) {
  // This worker's part of the rate (it takes every count-th arrival).
  scenario_.stats().target = target_rate(t) / segment_.count;
  if (vus_.empty()) {
    const uint32_t initial = std::min(vu_share(plan_.initial_vus()), max_vus_);
    for (uint32_t i = 0; i < initial; ++i) open_warm_vu();
  }
  if (next_due_ns_ == 0 && issuing_) next_due_ns_ = arrival_due_ns(next_arrival_).value_or(0);
  dispatch_due(now_ns);
}

void OpenLoopExecutor::dispatch_due(uint64_t now_ns) {
  if (!started_ || !issuing_) return;
  if (next_due_ns_ == 0 || next_due_ns_ > now_ns + kArrivalSlackNs) return;
  // A rate far beyond what can be sent (-R 1000000000) must not keep the loop busy: arrivals
  // past what the queue could ever hold are dropped in bulk, and one wake-up dispatches a
  // bounded number, so I/O, timers and a stop are served in between.
  // (Arrival times come from arrival_due_ns(), so an executor with a schedule of its own is
  // treated the same way.)
  const uint64_t room = kMaxQueuedArrivals + kMaxArrivalsPerWakeup;
  const uint64_t limit_ns = now_ns + kArrivalSlackNs;
  const uint64_t stride = segment_.stride();
  // Whether this worker's k-th next arrival is due already.
  auto due = [&](uint64_t k) {
    const auto at = arrival_due_ns(next_arrival_ + k * stride);
    return at && *at <= limit_ns;
  };
  if (due(room)) {
    // More are due than the queue could ever hold: find the last one due (doubling, then
    // bisecting) and drop all but the last `room`.
    uint64_t lo = room, hi = 2 * room;
    while (hi < (uint64_t{1} << 40) && due(hi)) {
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      (due(mid) ? lo : hi) = mid;
    }
    const uint64_t skip = lo + 1 - room;
    env_.recorder.record_dropped(scenario_.index(), skip, now_ns);
    next_arrival_ += skip * stride;
    next_due_ns_ = arrival_due_ns(next_arrival_).value_or(0);
  }
  for (uint64_t n = 0; n < kMaxArrivalsPerWakeup && next_due_ns_ != 0 &&
                       next_due_ns_ <= now_ns + kArrivalSlackNs;
       ++n) {
    dispatch(next_due_ns_);
    next_arrival_ += segment_.stride();
    next_due_ns_ = arrival_due_ns(next_arrival_).value_or(0);
  }
}

std::optional<uint64_t> OpenLoopExecutor::arrival_due_ns(uint64_t n) const {
  const auto due = plan_.arrival_time(n);
  if (!due) return std::nullopt;
  return start_ns_ + static_cast<uint64_t>(due->count()) * kNsPerUs;
}

void OpenLoopExecutor::dispatch(uint64_t intended_ns) {
  if (queue_.empty()) {
    while (!idle_.empty()) {
      Vu* vu = idle_.back();
      idle_.pop_back();
      vu->in_idle_list = false;
      if (!vu->free()) continue;
      vu->run_iteration(intended_ns);
      return;
    }
  }
  // (Earlier arrivals still wait: keep the order.) VUs still connecting will each take one
  // waiting arrival: open more only beyond that.
  // (The arrival is queued before a VU is opened for it: a VU whose connection is ready
  // already is free at once and takes it.)
  const bool covered = queue_.size() < warming_;
  const bool can_open = vus_.size() < max_vus_;
  if (queue_when_busy_) {
    if (queue_.size() < kMaxQueuedArrivals) {
      queue_.push_back(intended_ns);
      if (!covered && can_open) open_warm_vu();
      return;
    }
  } else if (covered || can_open) {
    queue_.push_back(intended_ns);
    if (!covered) open_warm_vu();
    return;
  }
  env_.recorder.record_dropped(scenario_.index(), 1, intended_ns);
}

Vu& OpenLoopExecutor::open_warm_vu() {
  Vu& vu = open_vu();
  vu.set_keep_connected(true);
  vu.warming = true;
  ++warming_;
  vu.warm_up();
  return vu;
}

void OpenLoopExecutor::on_vu_free(Vu& vu) {
  if (vu.warming) {
    vu.warming = false;
    --warming_;
  }
  if (!issuing_ || vu.in_idle_list || !vu.free()) return;
  if (!queue_.empty()) {
    const uint64_t intended = queue_.front();
    queue_.pop_front();
    vu.run_iteration(intended);
    return;
  }
  vu.in_idle_list = true;
  idle_.push_back(&vu);
}

void OpenLoopExecutor::drop_queued() {
  // Arrivals still waiting for a VU were never sent: they count as dropped.
  env_.recorder.record_dropped(scenario_.index(), queue_.size(), env_.clock.now_ns());
  queue_.clear();
}

void OpenLoopExecutor::on_finish() {
  idle_.clear();
  drop_queued();
}

}  // namespace pelt
