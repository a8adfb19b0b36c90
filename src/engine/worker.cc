#include "engine/worker.h"

#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/executors.h"

namespace pelt {
namespace {

constexpr uint64_t kControlMs = 10;
constexpr uint64_t kSampleMs = 100;
constexpr uint32_t kPublishEveryTicks = 5;  // publish every 5 sample ticks (500 ms)

}  // namespace

Worker::Worker(WorkerOptions options, std::vector<ScenarioSetup> scenarios)
    : options_(std::move(options)), setups_(std::move(scenarios)),
      rng_(0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(options_.segment.index)) {
  timeout_ns_ = options_.timeout.count() <= 0 ? 0 : static_cast<uint64_t>(options_.timeout.count()) * 1000;
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

std::vector<ClosedSecond> Worker::take_seconds() {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  return std::move(published_seconds_);
}

double Worker::random_unit() {
  return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
}

const sockaddr* Worker::bind_address(uint32_t vu_index) const {
  if (sources_.empty()) return nullptr;
  // Spread VUs over the sources; offset by worker so every source gets an equal share.
  const size_t i = (static_cast<size_t>(vu_index) * options_.segment.count + options_.segment.index) %
                   sources_.size();
  return reinterpret_cast<const sockaddr*>(&sources_[i]);
}

bool Worker::prepare() {
  uv_loop_init(&loop_);
  clock_ = std::make_unique<LoopClock>(&loop_);
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
  TransportSettings ts;
  ts.loop = &loop_;
  ts.clock = clock_.get();
  ts.recorder = &recorder_;
  ts.read_buffer = read_buffer_.get();
  ts.read_buffer_bytes = kReadBufferBytes;
  if (options_.url.tls()) {
    tls_context_ = TlsContext::create(options_.tls, fatal_error_);
    if (!tls_context_) return false;
    ts.tls = tls_context_.get();
    ts.tls_host = options_.url.host;
    ts.tls_session_key = options_.url.host + ":" + options_.url.effective_port();
  }
  ts.protocol.version = options_.http;
  ts.protocol.scheme = options_.url.scheme;
  ts.protocol.authority = options_.url.host_header();
  ts.protocol.memory = &h2_memory_;
  transports_ = std::make_unique<TransportFactory>(std::move(ts));
  vu_env_ = std::make_unique<VuEnv>(
      VuEnv{*clock_, recorder_, *transports_, *this, std::max<uint32_t>(options_.streams, 1)});

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

  recorder_.set_request_splits(options_.request_splits);
  stats_.scenarios.resize(setups_.size());
  for (size_t i = 0; i < setups_.size(); ++i) {
    scenarios_.push_back(std::make_unique<ScenarioContext>(static_cast<uint32_t>(i),
                                                           std::move(setups_[i]), stats_.scenarios[i]));
    // Custom metric values from this state go to this worker's figures.
    if (Script* script = scenarios_.back()->script()) {
      script->bind_recorder(&recorder_, static_cast<uint32_t>(i));
    }
    executors_.push_back(
        make_executor((*options_.plans)[i], *vu_env_, *scenarios_.back(), options_.segment));
  }
  setups_.clear();
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
  if (ok && options_.prewarm) {
    prewarm(ready, go);
  } else {
    ready.count_down();
    go.wait();
  }
  if (!ok) {
    finished_.store(true, std::memory_order_release);
    return;
  }
  begin(start_ns.load(std::memory_order_acquire));
  if (stop_requested_.load(std::memory_order_acquire)) end_run();
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Every handle is closed; VUs and their timers can go.
  executors_.clear();
  uv_loop_close(&loop_);
#ifdef PELT_DEBUG_CHECKS
  // Every request sent ended in exactly one place, whatever closed its connection.
  if (!stats_.ledger.balanced()) {
    const Ledger& l = stats_.ledger;
    std::fprintf(stderr, "pelt: internal error: worker %u ledger does not add up: sent %llu != "
                 "completed %llu + failed %llu + timed out %llu + in flight %llu\n",
                 options_.segment.index, static_cast<unsigned long long>(l.sent),
                 static_cast<unsigned long long>(l.completed), static_cast<unsigned long long>(l.failed),
                 static_cast<unsigned long long>(l.timed_out), static_cast<unsigned long long>(l.in_flight));
    std::abort();
  }
#endif
  if (arrival_fd_ >= 0) close(arrival_fd_);
  arrival_fd_ = -1;
  publish();
  finished_.store(true, std::memory_order_release);
}

void Worker::prewarm(std::latch& ready, std::latch& go) {
  // The VUs may connect now (running() is what lets a connection open).
  running_ = true;
  size_t vus = 0;
  for (auto& e : executors_) {
    e->prewarm();
    vus += e->vus().size();
  }
  const uint64_t give_up_ns = clock_->now_ns() + 5'000'000'000ull;
  bool counted = false;
  for (;;) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    const bool connected = stats_.connects + stats_.errors.connect >= vus;
    if (!counted && (connected || clock_->now_ns() >= give_up_ns)) {
      ready.count_down();
      counted = true;
    }
    if (counted && go.try_wait()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Worker::begin(uint64_t start_ns) {
  running_ = true;
  last_sample_ns_ = clock_->now_ns();
  recorder_.series().start(start_ns, executors_.size());
  for (auto& e : executors_) e->start(start_ns);
  uv_timer_start(&control_timer_, &Worker::on_control, 0, kControlMs);
  uv_timer_start(&sample_timer_, &Worker::on_sample, kSampleMs, kSampleMs);
  control();
}

void Worker::on_control(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->control(); }

void Worker::control() {
  if (!running_) return;
  const uint64_t now = clock_->now_ns();
  bool all_done = true;
  for (auto& e : executors_) {
    e->tick(now);
    all_done = all_done && e->done();
  }
  if (all_done) {
    end_run();
    return;
  }
  dispatch_arrivals(now);
}

void Worker::on_arrival(uv_poll_t* poll, int, int) {
  auto* self = static_cast<Worker*>(poll->data);
  uint64_t expirations = 0;
  ssize_t n = read(self->arrival_fd_, &expirations, sizeof(expirations));
  (void)n;
  self->arrival_armed_ns_ = 0;
  self->dispatch_arrivals(self->clock_->now_ns());
}

void Worker::dispatch_arrivals(uint64_t now_ns) {
  if (!running_) return;
  uint64_t next = 0;
  for (auto& e : executors_) {
    e->dispatch_due(now_ns);
    const uint64_t due = e->next_due_ns();
    if (due != 0 && (next == 0 || due < next)) next = due;
  }
  arm_arrival(next);
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

void Worker::on_sample(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->sample(); }

void Worker::sample() {
  const uint64_t now = clock_->now_ns();
  // wrk's Req/Sec: requests completed per second by this thread, sampled every 100 ms.
  const uint64_t done = stats_.ledger.completed;
  const uint64_t elapsed = now - last_sample_ns_;
  if (elapsed > 0) {
    const double rate = static_cast<double>(done - last_sample_count_) * 1e9 / static_cast<double>(elapsed);
    recorder_.record_rate_sample(static_cast<uint64_t>(rate + 0.5));
  }
  last_sample_ns_ = now;
  last_sample_count_ = done;
  for (auto& e : executors_) e->check_timeouts(now, timeout_ns_);
  // The time series: this tick's gauges, and the second closed even when nothing happened.
  for (auto& e : executors_) {
    const ScenarioStats& st = e->scenario().stats();
    recorder_.series().set_gauges(e->scenario().index(), e->live_vus(), st.vus_max, st.target,
                                  e->plan().arrival_rate());
  }
  recorder_.series().roll(now);
  if (++sample_ticks_ % kPublishEveryTicks == 0) publish();
}

void Worker::collect_checks() {
  stats_.checks.clear();
  for (auto& s : scenarios_) {
    if (!s->script()) continue;
    for (const auto& [name, c] : s->script()->checks()) stats_.checks[name].merge(c);
  }
}

void Worker::publish() {
  uint64_t waiting = 0;
  for (auto& e : executors_) {
    e->scenario().stats().vus = e->live_vus();
    waiting += e->outstanding();
  }
  collect_checks();
  recorder_.finish_latency();
  std::vector<ClosedSecond> seconds = recorder_.series().take_closed();
  std::lock_guard<std::mutex> lock(publish_mutex_);
  published_ = stats_;
  for (ClosedSecond& s : seconds) published_seconds_.push_back(std::move(s));
  if (running_) {
    // A live snapshot: what is in flight right now.
    published_.ledger.in_flight += waiting;
    published_.waiting_now = waiting;
  }
}

void Worker::stop_run() {
  // thread:stop() ends this thread's run, as in wrk.
  if (running_) end_run();
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
  for (auto& e : executors_) e->finish();
  recorder_.series().finish(clock_->now_ns());
  collect_checks();
  for (auto& s : scenarios_) {
    if (s->script() && s->script()->has_teardown()) {
      std::string error;
      if (!s->script()->teardown(error)) recorder_.record_script_error(error);
    }
  }
  uv_walk(&loop_, &Worker::on_walk_close, nullptr);
}

void Worker::on_walk_close(uv_handle_t* handle, void*) {
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace pelt
