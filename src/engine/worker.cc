#include "engine/worker.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pelt {
namespace {

constexpr uint64_t kNsPerUs = 1000;
constexpr uint64_t kControlMs = 10;
constexpr uint64_t kSampleMs = 100;
constexpr size_t kMaxQueuedArrivals = 1u << 20;
// Arrivals due this close to now go out in the same wake-up (at most this early).
constexpr uint64_t kArrivalSlackNs = 20 * 1000;

uint64_t to_ns(std::chrono::microseconds d) {
  return d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()) * kNsPerUs;
}

}  // namespace

Worker::Worker(WorkerOptions options, std::vector<ScenarioSetup> scenarios)
    : options_(std::move(options)), rng_(0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(options_.id)) {
  scenarios_.resize(scenarios.size());
  for (size_t i = 0; i < scenarios.size(); ++i) {
    scenarios_[i].index = static_cast<uint32_t>(i);
    scenarios_[i].setup = std::move(scenarios[i]);
  }
  timeout_ns_ = to_ns(options_.timeout);
}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
}

void Worker::start(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns) {
  thread_ = std::thread([this, &ready, &go, &start_ns] { run(ready, go, start_ns); });
}

void Worker::stop() {
  stop_requested_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (async_open_) uv_async_send(&stop_async_);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

WorkerStats Worker::snapshot() {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  return published_;
}

double Worker::random_unit() {
  return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
}

const sockaddr* Worker::bind_address(uint32_t vu_index) const {
  if (sources_.empty()) return nullptr;
  // Spread VUs over the sources; offset by worker so every source gets an equal share.
  size_t i = (static_cast<size_t>(vu_index) * static_cast<size_t>(options_.count) +
              static_cast<size_t>(options_.id)) % sources_.size();
  return reinterpret_cast<const sockaddr*>(&sources_[i]);
}

bool Worker::prepare() {
  uv_loop_init(&loop_);
  read_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
  for (const std::string& src : options_.sources) {
    sockaddr_storage ss{};
    if (uv_ip4_addr(src.c_str(), 0, reinterpret_cast<sockaddr_in*>(&ss)) != 0 &&
        uv_ip6_addr(src.c_str(), 0, reinterpret_cast<sockaddr_in6*>(&ss)) != 0) {
      fatal_error_ = "invalid source address " + src;
      return false;
    }
    sources_.push_back(ss);
  }
  if (options_.url.tls()) {
    tls_context_ = TlsContext::create(options_.tls, fatal_error_);
    if (!tls_context_) return false;
  }
  uv_timer_init(&loop_, &control_timer_);
  uv_timer_init(&loop_, &sample_timer_);
  uv_async_init(&loop_, &stop_async_, &Worker::on_stop);
  // libuv timers tick in whole milliseconds; open-loop arrivals need better, so they use a
  // timerfd on CLOCK_MONOTONIC (the clock behind uv_hrtime) with absolute deadlines.
  arrival_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (arrival_fd_ < 0) {
    fatal_error_ = std::string("timerfd_create: ") + std::strerror(errno);
    return false;
  }
  uv_poll_init(&loop_, &arrival_poll_, arrival_fd_);
  arrival_poll_.data = this;
  uv_poll_start(&arrival_poll_, UV_READABLE, &Worker::on_arrival);
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    async_open_ = true;
  }
  control_timer_.data = sample_timer_.data = stop_async_.data = this;

  stats_.scenarios.resize(scenarios_.size());
  for (ScenarioRuntime& s : scenarios_) {
    s.plan = std::make_unique<ExecutorPlan>(*s.setup.config);
    s.stats = &stats_.scenarios[s.index];
    s.stats->stages.resize(std::max<size_t>(1, s.plan->stage_count()));
    s.default_name_stats = name_stats(s, s.setup.default_name, s.setup.default_method);
    s.dynamic = s.setup.script && s.setup.script->has_request();
    s.capture = s.setup.script && s.setup.script->has_response();
    s.has_delay = s.setup.script && s.setup.script->has_delay();
    const ScenarioConfig& c = *s.setup.config;
    const uint32_t n = static_cast<uint32_t>(options_.count);
    const uint32_t w = static_cast<uint32_t>(options_.id);
    s.max_vus = share_of(s.plan->max_vus(), n, w);
    if (c.executor == ExecutorKind::kSharedIterations) s.iterations_left = share_of(c.iterations, n, w);
    if (c.executor == ExecutorKind::kPerVuIterations) s.per_vu_iterations = c.iterations;
    s.next_arrival = w;
    s.vus.reserve(s.max_vus);
  }
  return true;
}

void Worker::run(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns) {
  // Signals go to the main thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const bool ok = prepare();
  ready.count_down();
  go.wait();
  if (!ok) {
    finished_.store(true, std::memory_order_release);
    return;
  }
  begin(start_ns.load(std::memory_order_acquire));
  if (stop_requested_.load(std::memory_order_acquire)) end_run();
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Every handle is closed; connections can go.
  for (ScenarioRuntime& s : scenarios_) s.vus.clear();
  uv_loop_close(&loop_);
  if (arrival_fd_ >= 0) close(arrival_fd_);
  arrival_fd_ = -1;
  publish();
  finished_.store(true, std::memory_order_release);
}

void Worker::begin(uint64_t start_ns) {
  running_ = true;
  run_start_ns_ = start_ns;
  last_sample_ns_ = uv_hrtime();
  for (ScenarioRuntime& s : scenarios_) {
    s.start_ns = run_start_ns_ + to_ns(s.setup.config->start_time);
  }
  uv_timer_start(&control_timer_, &Worker::on_control, 0, kControlMs);
  uv_timer_start(&sample_timer_, &Worker::on_sample, kSampleMs, kSampleMs);
  control();
}

NameStats* Worker::name_stats(ScenarioRuntime& s, std::string_view name, std::string_view method) {
  if (s.cached_name_stats && s.cached_name == name) return s.cached_name_stats;
  auto& names = s.stats->names;
  auto it = names.find(std::string(name));
  if (it == names.end()) {
    if (names.size() >= WorkerStats::kMaxNames) {
      it = names.try_emplace("other").first;
    } else {
      it = names.try_emplace(std::string(name)).first;
    }
    if (it->second.method.empty()) it->second.method = std::string(method);
  }
  s.cached_name.assign(name);
  s.cached_name_stats = &it->second;
  return &it->second;
}

void Worker::on_control(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->control(); }

void Worker::control() {
  if (!running_) return;
  const uint64_t now = uv_hrtime();
  bool all_done = true;
  for (ScenarioRuntime& s : scenarios_) {
    if (s.done) continue;
    all_done = false;
    if (now < s.start_ns) continue;
    s.started = true;
    const auto t = std::chrono::microseconds((now - s.start_ns) / kNsPerUs);
    s.stage = static_cast<uint32_t>(std::min<size_t>(s.plan->stage_index(t), s.stats->stages.size() - 1));
    s.stats->stage = s.stage;
    const uint64_t end_ns = s.start_ns + to_ns(s.plan->duration());
    if (s.issuing && now >= end_ns) {
      s.issuing = false;
      drop_queued(s);
      for (auto& vu : s.vus) vu->set_active(false);
    }
    if (!s.issuing) {
      bool busy = false;
      for (auto& vu : s.vus) busy = busy || !vu->free();
      const uint64_t grace_end = end_ns + to_ns(s.setup.config->graceful_stop);
      if (!busy || now >= grace_end) finish_scenario(s);
      continue;
    }
    if (s.plan->arrival_rate()) {
      control_open(s, now);
    } else {
      control_closed(s, now);
    }
  }
  if (all_done) end_run();
}

void Worker::control_closed(ScenarioRuntime& s, uint64_t now) {
  const auto t = std::chrono::microseconds((now - s.start_ns) / kNsPerUs);
  const uint64_t total = static_cast<uint64_t>(std::max(0.0, s.plan->target_vus(t)));
  const uint32_t want = std::min(share_of(total, static_cast<uint32_t>(options_.count),
                                          static_cast<uint32_t>(options_.id)), s.max_vus);
  s.stats->target = static_cast<double>(want);
  while (s.vus.size() < want) open_vu(s);
  // A VU the ramp-down took away finishes its iteration, unless that takes longer than
  // graceful_ramp_down: then the iteration is cut, and what it had sent stays in flight.
  const ScenarioConfig& c = *s.setup.config;
  const uint64_t grace_ns = to_ns(c.graceful_ramp_down);
  for (auto& vu : s.vus) {
    const bool on = vu->index() < want;
    vu->set_active(on);
    // (inactive_since may be a little later than `now`, read before set_active)
    if (!on && !vu->free() && now >= vu->inactive_since_ns() + grace_ns) interrupt(s, *vu);
  }
  // Iteration executors end when every VU has used up its iterations.
  if (c.executor == ExecutorKind::kSharedIterations || c.executor == ExecutorKind::kPerVuIterations) {
    bool left = false;
    for (auto& vu : s.vus) {
      if (!vu->free()) left = true;
      else if (c.executor == ExecutorKind::kPerVuIterations && vu->iterations() < s.per_vu_iterations) left = true;
    }
    if (c.executor == ExecutorKind::kSharedIterations && s.iterations_left > 0) left = true;
    if (!left) {
      s.issuing = false;
      finish_scenario(s);
    }
  }
}

void Worker::control_open(ScenarioRuntime& s, uint64_t now) {
  const auto t = std::chrono::microseconds((now - s.start_ns) / kNsPerUs);
  s.stats->target = s.plan->target_rate(t);
  if (s.vus.empty()) {
    const uint32_t initial = std::min(share_of(s.plan->initial_vus(), static_cast<uint32_t>(options_.count),
                                               static_cast<uint32_t>(options_.id)), s.max_vus);
    for (uint32_t i = 0; i < initial; ++i) warm_up(s, open_vu(s));
  }
  if (s.next_due_ns == 0 && s.issuing) {
    auto due = s.plan->arrival_time(s.next_arrival);
    if (due) s.next_due_ns = s.start_ns + to_ns(*due);
  }
  dispatch_arrivals(now);
}

Connection* Worker::open_vu(ScenarioRuntime& s) {
  auto vu = std::make_unique<Connection>(*this, s, static_cast<uint32_t>(s.vus.size()));
  Connection* raw = vu.get();
  s.vus.push_back(std::move(vu));
  s.stats->vus_max = static_cast<uint32_t>(s.vus.size());
  return raw;
}

void Worker::on_arrival(uv_poll_t* poll, int, int) {
  auto* self = static_cast<Worker*>(poll->data);
  uint64_t expirations = 0;
  ssize_t n = read(self->arrival_fd_, &expirations, sizeof(expirations));
  (void)n;
  self->arrival_armed_ns_ = 0;
  self->dispatch_arrivals(uv_hrtime());
}

void Worker::arm_arrival(uint64_t due_ns) {
  if (due_ns == arrival_armed_ns_) return;
  itimerspec its{};
  if (due_ns != 0) {
    its.it_value.tv_sec = static_cast<time_t>(due_ns / 1000000000ull);
    its.it_value.tv_nsec = static_cast<long>(due_ns % 1000000000ull);
  }
  timerfd_settime(arrival_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  arrival_armed_ns_ = due_ns;
}

void Worker::dispatch_arrivals(uint64_t now) {
  if (!running_) return;
  const uint32_t step = static_cast<uint32_t>(options_.count);
  for (ScenarioRuntime& s : scenarios_) {
    if (!s.started || !s.issuing || !s.plan->arrival_rate()) continue;
    while (s.next_due_ns != 0 && s.next_due_ns <= now + kArrivalSlackNs) {
      dispatch(s, s.next_due_ns);
      s.next_arrival += step;
      auto due = s.plan->arrival_time(s.next_arrival);
      s.next_due_ns = due ? s.start_ns + to_ns(*due) : 0;
    }
  }
  schedule_arrival_timer(now);
}

void Worker::schedule_arrival_timer(uint64_t now) {
  uint64_t next = 0;
  for (ScenarioRuntime& s : scenarios_) {
    if (s.issuing && s.next_due_ns && (next == 0 || s.next_due_ns < next)) next = s.next_due_ns;
  }
  (void)now;
  arm_arrival(next);
}

void Worker::dispatch(ScenarioRuntime& s, uint64_t intended_ns) {
  if (!s.queue.empty()) {
    // Earlier arrivals still wait: keep the order.
  } else {
    while (!s.idle.empty()) {
      Connection* vu = s.idle.back();
      s.idle.pop_back();
      vu->in_idle_list = false;
      if (!vu->free()) continue;
      vu->run_iteration(intended_ns);
      return;
    }
  }
  // VUs still connecting will each take one waiting arrival: open more only beyond that.
  const bool covered = s.queue.size() < s.warming;
  const bool can_open = s.vus.size() < s.max_vus;
  if (s.setup.config->queue_when_busy) {
    if (s.queue.size() < kMaxQueuedArrivals) {
      if (!covered && can_open) warm_up(s, open_vu(s));
      s.queue.push_back(intended_ns);
      return;
    }
  } else if (covered || can_open) {
    if (!covered) warm_up(s, open_vu(s));
    s.queue.push_back(intended_ns);
    return;
  }
  ++s.stats->dropped_iterations;
  ++s.stats->stages[s.stage].dropped_iterations;
}

void Worker::drop_queued(ScenarioRuntime& s) {
  // Arrivals still waiting for a VU were never sent: they count as dropped.
  s.stats->dropped_iterations += s.queue.size();
  s.stats->stages[s.stage].dropped_iterations += s.queue.size();
  s.queue.clear();
}

void Worker::warm_up(ScenarioRuntime& s, Connection* vu) {
  vu->warming = true;
  ++s.warming;
  vu->warm_up();
}

void Worker::on_vu_free(ScenarioRuntime& s, Connection& vu) {
  if (vu.warming) {
    vu.warming = false;
    --s.warming;
  }
  if (!s.issuing || vu.in_idle_list || !vu.free()) return;
  if (!s.queue.empty()) {
    const uint64_t intended = s.queue.front();
    s.queue.pop_front();
    vu.run_iteration(intended);
    return;
  }
  vu.in_idle_list = true;
  s.idle.push_back(&vu);
}

void Worker::on_script_stop() {
  // thread:stop() ends this thread's run, as in wrk.
  if (running_) end_run();
}

void Worker::finish_scenario(ScenarioRuntime& s) {
  if (s.done) return;
  s.done = true;
  s.issuing = false;
  s.idle.clear();
  drop_queued(s);
  for (auto& vu : s.vus) {
    if (!vu->free()) count_cut(s, *vu);
    vu->shutdown();
  }
  s.stats->vus = 0;
}

void Worker::count_cut(ScenarioRuntime& s, const Connection& vu) {
  ++s.stats->interrupted_iterations;
  stats_.ledger.in_flight += vu.outstanding();  // only a busy VU has requests outstanding
}

void Worker::interrupt(ScenarioRuntime& s, Connection& vu) {
  count_cut(s, vu);
  vu.interrupt();
}

void Worker::on_sample(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->sample(); }

void Worker::sample() {
  const uint64_t now = uv_hrtime();
  // wrk's Req/Sec: requests completed per second by this thread, sampled every 100 ms.
  const uint64_t done = stats_.ledger.completed;
  const uint64_t elapsed = now - last_sample_ns_;
  if (elapsed > 0) {
    const double rate = static_cast<double>(done - last_sample_count_) * 1e9 / static_cast<double>(elapsed);
    stats_.req_per_sec.record(static_cast<uint64_t>(rate + 0.5));
  }
  last_sample_ns_ = now;
  last_sample_count_ = done;
  if (timeout_ns_ > 0) {
    for (ScenarioRuntime& s : scenarios_) {
      if (s.done) continue;
      for (auto& vu : s.vus) {
        const uint64_t sent = vu->sent_ns();
        if (sent && now - sent > timeout_ns_) vu->on_timeout();
        vu->check_connect_timeout(now, timeout_ns_);
      }
    }
  }
  if (++sample_ticks_ % 5 == 0) publish();
}

void Worker::collect_checks() {
  stats_.checks.clear();
  for (ScenarioRuntime& s : scenarios_) {
    if (!s.setup.script) continue;
    for (const auto& [name, c] : s.setup.script->checks()) {
      CheckCount& dst = stats_.checks[name];
      dst.passes += c.passes;
      dst.fails += c.fails;
    }
  }
}

void Worker::publish() {
  for (ScenarioRuntime& s : scenarios_) {
    // Open loop: VUs running an iteration. Closed loop: the VUs the plan wants, and those a
    // ramp-down or the end took away that still finish their iteration (graceful_ramp_down,
    // graceful_stop).
    const bool closed = !s.plan->arrival_rate();
    uint32_t active = 0;
    for (auto& vu : s.vus) active += !vu->free() || (closed && vu->active()) ? 1 : 0;
    s.stats->vus = s.done ? 0 : active;
  }
  collect_checks();
  std::lock_guard<std::mutex> lock(publish_mutex_);
  published_ = stats_;
  if (running_) {
    // A live snapshot: what is in flight right now.
    uint64_t in_flight = 0;
    for (ScenarioRuntime& s : scenarios_) {
      for (auto& vu : s.vus) in_flight += vu->outstanding();
    }
    published_.ledger.in_flight += in_flight;
    published_.waiting_now = in_flight;
  }
}

void Worker::on_stop(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  if (self->running_) self->end_run();
}

void Worker::end_run() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    async_open_ = false;
  }
  if (!running_) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&stop_async_))) {
      uv_walk(&loop_, &Worker::on_walk_close, nullptr);
    }
    return;
  }
  running_ = false;
  for (ScenarioRuntime& s : scenarios_) finish_scenario(s);
  collect_checks();
  for (ScenarioRuntime& s : scenarios_) {
    if (s.setup.script && s.setup.script->has_teardown()) {
      std::string error;
      if (!s.setup.script->teardown(error)) stats_.add_script_error(error);
    }
  }
  uv_walk(&loop_, &Worker::on_walk_close, nullptr);
}

void Worker::on_walk_close(uv_handle_t* handle, void*) {
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace pelt
