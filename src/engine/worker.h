// A Worker is one thread with its own libuv loop, Lua states, statistics and Recorder. It runs
// its part (a Segment) of every scenario through one Executor per scenario, driving them with
// the loop's time: a control tick every 10 ms, a timerfd for open-loop arrivals, a 100 ms
// sample tick for timeouts and wrk's Req/Sec. Nothing here is shared with other threads on the
// request path; the main thread sees the figures through snapshots published twice a second.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/clock.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/scenario.h"
#include "engine/segment.h"
#include "results/recorder.h"
#include "results/stats.h"
#include "wire/h2_memory.h"
#include "wire/tls.h"
#include "wire/transport.h"
#include "wire/url.h"

namespace pelt {

// Options shared by every worker.
struct WorkerOptions {
  Segment segment;                         // this worker's part: index and worker count
  Url url;                                 // target
  std::chrono::microseconds timeout{0};    // per-request timeout (0 = none)
  TlsOptions tls;                          // TLS settings (https only)
  HttpVersion http = HttpVersion::kHttp11; // --http: the protocol of the connections
  uint32_t streams = 1;                    // -m: VUs per connection
  std::vector<std::string> sources;        // local addresses to bind, spread over the VUs
  const std::vector<ExecutorPlan>* plans = nullptr;  // by scenario index (owned by the runner)
  bool prewarm = false;  // connect the first VUs before counting down `ready` (a fleet's start)
  std::vector<RequestSplit> request_splits;          // sub-metrics to keep per request name
};

class Worker : private RunControl {
 public:
  Worker(WorkerOptions options, std::vector<ScenarioSetup> scenarios);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread. It prepares its loop, counts down `ready`, waits on `go`, then reads
  // the run's start time from `start_ns` and runs until every scenario is done or stop().
  void start(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns);
  void stop();  // thread-safe: end the run now
  void join();
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Last published copy of the figures (thread-safe).
  WorkerStats snapshot();
  // After join(): the final figures, in_flight filled in.
  WorkerStats& final_stats() { return stats_; }
  // The seconds of the time series closed since the last call (thread-safe).
  std::vector<ClosedSecond> take_seconds();
  const std::string& fatal_error() const { return fatal_error_; }

  static constexpr size_t kReadBufferBytes = 64 * 1024;

 private:
  // RunControl
  bool running() const override { return running_; }
  void stop_run() override;
  double random_unit() override;
  const sockaddr* bind_address(uint32_t vu_index) const override;

  static void on_control(uv_timer_t* timer);
  static void on_arrival(uv_poll_t* poll, int status, int events);
  static void on_sample(uv_timer_t* timer);
  static void on_stop(uv_async_t* async);
  static void on_walk_close(uv_handle_t* handle, void* arg);

  void run(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns);
  bool prepare();
  // Opens and connects the VUs the start needs, counts down `ready` once they are connected
  // (or after a few seconds), and runs the loop until `go`.
  void prewarm(std::latch& ready, std::latch& go);
  void begin(uint64_t start_ns);
  void control();
  void dispatch_arrivals(uint64_t now_ns);
  void arm_arrival(uint64_t due_ns);
  void sample();
  void publish();
  void end_run();
  void collect_checks();

  WorkerOptions options_;
  std::vector<ScenarioSetup> setups_;  // until prepare() turns them into contexts
  std::thread thread_;
  uv_loop_t loop_;
  std::unique_ptr<LoopClock> clock_;               // the loop's time and timers
  WorkerStats stats_;                              // owned by the worker thread during the run
  Recorder recorder_{stats_};                      // every figure goes through it
  std::unique_ptr<TlsContext> tls_context_;        // per-thread TLS context (https)
  std::unique_ptr<char[]> read_buffer_;            // shared by all sockets of this loop
  H2Memory h2_memory_;                             // nghttp2's blocks (outlives the sessions)
  std::unique_ptr<TransportFactory> transports_;   // plain or TLS, chosen once
  std::unique_ptr<VuEnv> vu_env_;                  // what VUs use
  std::vector<std::unique_ptr<ScenarioContext>> scenarios_;  // by scenario index
  std::vector<std::unique_ptr<Executor>> executors_;         // by scenario index
  std::vector<sockaddr_storage> sources_;          // parsed --source addresses
  uv_timer_t control_timer_;        // 10 ms: stages, VU targets, scenario ends
  int arrival_fd_ = -1;             // timerfd for the next open-loop arrival (ns precision)
  uv_poll_t arrival_poll_;          // watches arrival_fd_
  uint64_t arrival_armed_ns_ = 0;   // when arrival_fd_ fires next (ns), 0 = disarmed
  uv_timer_t sample_timer_;         // 100 ms: req/s samples, timeouts, publishing
  uv_async_t stop_async_;           // stop() from another thread
  std::mutex publish_mutex_;        // guards published_
  WorkerStats published_;           // last snapshot for the main thread
  std::vector<ClosedSecond> published_seconds_;  // closed seconds the main thread has not taken
  std::atomic<bool> stop_requested_{false};
  std::mutex stop_mutex_;           // guards async_open_
  bool async_open_ = false;         // stop_async_ may be signalled
  std::atomic<bool> finished_{false};
  bool running_ = false;            // the run is in progress (loop thread only)
  uint64_t timeout_ns_ = 0;         // per-request timeout, ns (0 = none)
  uint64_t last_sample_ns_ = 0;     // time of the previous req/s sample
  uint64_t last_sample_count_ = 0;  // completed requests at that sample
  uint32_t sample_ticks_ = 0;       // sample timer ticks (publish every 5)
  std::mt19937_64 rng_;             // think time and similar draws
  std::string fatal_error_;         // setup failure that ended this worker
};

}  // namespace pelt
