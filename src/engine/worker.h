// A Worker is one thread with its own libuv loop, Lua states and statistics. It runs its share
// of every scenario: closed-loop VUs that iterate back to back, or open-loop arrivals started
// on schedule on idle VUs. Nothing here is shared with other threads on the request path; the
// main thread sees the figures through snapshots published twice a second.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "engine/connection.h"
#include "engine/plan.h"
#include "lua/script.h"
#include "results/stats.h"
#include "wire/tls.h"
#include "wire/url.h"

namespace pelt {

// Everything a worker needs to run its share of one scenario.
struct ScenarioSetup {
  const ScenarioConfig* config = nullptr;  // the scenario (owned by the runner)
  std::unique_ptr<Script> script;          // this thread's Lua state, init() done
  ThreadHandle* handle = nullptr;          // wrk's thread object (owned by the runner)
  std::string static_request;              // the request bytes when there is no request() hook
  std::vector<bool> batch_heads;           // one entry per request in a batch; true = HEAD
  std::string default_name;                // request name when the script sets none
  std::string default_method;              // method of the default request
};

// Per-scenario state inside a worker.
struct ScenarioRuntime {
  uint32_t index = 0;                      // scenario index (stats_.scenarios)
  ScenarioSetup setup;                     // what the runner prepared
  std::unique_ptr<ExecutorPlan> plan;      // stages, targets and arrival times
  ScenarioStats* stats = nullptr;          // this scenario's figures in the worker's stats
  NameStats* default_name_stats = nullptr; // figures of requests with the default name
  std::vector<std::unique_ptr<Connection>> vus;  // every VU ever opened here
  std::vector<Connection*> idle;           // open loop: connected VUs waiting for an arrival
  std::deque<uint64_t> queue;              // open loop: due arrivals waiting for a VU (hrtime ns)
  uint32_t max_vus = 0;                    // VUs this worker may open
  uint32_t warming = 0;                    // open loop: VUs opened and still connecting
  uint64_t start_ns = 0;                   // scenario start (run start + start_time), hrtime ns
  uint64_t next_arrival = 0;               // open loop: global index of the next arrival
  uint64_t next_due_ns = 0;                // open loop: when it is due, hrtime ns (0 = none)
  uint64_t iterations_left = 0;            // shared-iterations: iterations this worker may start
  uint64_t per_vu_iterations = 0;          // per-vu-iterations: iterations per VU
  bool started = false;                    // the scenario's start time has passed
  bool issuing = true;                     // new iterations may start
  bool done = false;                       // finished: no iteration runs any more
  bool dynamic = false;                    // the script has request()
  bool capture = false;                    // the script has response()
  bool has_delay = false;                  // the script has delay()
  uint32_t stage = 0;                      // current stage index
  std::string cached_name;                 // last request name looked up
  NameStats* cached_name_stats = nullptr;  // its figures
};

// Options shared by every worker.
struct WorkerOptions {
  int id = 0;                              // 0-based worker index
  int count = 1;                           // number of workers
  Url url;                                 // target
  std::chrono::microseconds timeout{std::chrono::seconds(2)};  // per-request timeout
  TlsOptions tls;                          // TLS settings (https only)
  std::vector<std::string> sources;        // local addresses to bind, spread over the VUs
};

class Worker {
 public:
  Worker(WorkerOptions options, std::vector<ScenarioSetup> scenarios);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread. It prepares its loop, counts down `ready`, waits on `go`, then reads
  // the run's start time from `start_ns` and runs until every scenario is done or stop().
  void start(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns);
  void stop();                  // thread-safe: end the run now
  void join();
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Last published copy of the figures (thread-safe).
  WorkerStats snapshot();
  // After join(): the final figures, in_flight filled in.
  WorkerStats& final_stats() { return stats_; }
  const std::string& fatal_error() const { return fatal_error_; }
  std::vector<ScenarioRuntime>& scenarios() { return scenarios_; }

  // Used by Connection.
  uv_loop_t* loop() { return &loop_; }
  WorkerStats& stats() { return stats_; }
  TlsContext* tls_context() { return tls_context_.get(); }
  const WorkerOptions& options() const { return options_; }
  const sockaddr* bind_address(uint32_t vu_index) const;
  uv_buf_t read_buffer() { return uv_buf_init(read_buffer_.get(), kReadBufferBytes); }
  bool running() const { return running_; }
  uint64_t timeout_ns() const { return timeout_ns_; }
  double random_unit();         // uniform in [0, 1)
  // A VU finished an iteration (open loop: it may take the next queued arrival).
  void on_vu_free(ScenarioRuntime& scenario, Connection& vu);
  // Lua's thread:stop() was called.
  void on_script_stop();
  NameStats* name_stats(ScenarioRuntime& scenario, std::string_view name, std::string_view method);

  static constexpr size_t kReadBufferBytes = 64 * 1024;

 private:
  static void on_control(uv_timer_t* timer);
  static void on_arrival(uv_poll_t* poll, int status, int events);
  static void on_sample(uv_timer_t* timer);
  static void on_stop(uv_async_t* async);
  static void on_walk_close(uv_handle_t* handle, void* arg);

  void run(std::latch& ready, std::latch& go, const std::atomic<uint64_t>& start_ns);
  bool prepare();
  void begin(uint64_t start_ns);
  void control();
  void control_closed(ScenarioRuntime& s, uint64_t now);
  void control_open(ScenarioRuntime& s, uint64_t now);
  void dispatch_arrivals(uint64_t now);
  void schedule_arrival_timer(uint64_t now);
  void arm_arrival(uint64_t due_ns);
  void dispatch(ScenarioRuntime& s, uint64_t intended_ns);
  Connection* open_vu(ScenarioRuntime& s);
  void warm_up(ScenarioRuntime& s, Connection* vu);  // opens the connection of a new VU
  void drop_queued(ScenarioRuntime& s);              // counts and clears waiting arrivals
  void finish_scenario(ScenarioRuntime& s);
  // Counts the iteration of a busy VU as interrupted and its unanswered requests as in flight.
  void count_cut(ScenarioRuntime& s, const Connection& vu);
  // Cuts the iteration of a VU whose graceful_ramp_down ran out (count_cut, then the cut).
  void interrupt(ScenarioRuntime& s, Connection& vu);
  void sample();
  void publish();
  void end_run();
  void collect_checks();

  WorkerOptions options_;
  std::vector<ScenarioRuntime> scenarios_;
  std::thread thread_;
  uv_loop_t loop_;
  uv_timer_t control_timer_;        // 10 ms: stages, VU targets, scenario ends
  int arrival_fd_ = -1;             // timerfd for the next open-loop arrival (ns precision)
  uv_poll_t arrival_poll_;          // watches arrival_fd_
  uint64_t arrival_armed_ns_ = 0;   // when arrival_fd_ fires next (hrtime ns), 0 = disarmed
  uv_timer_t sample_timer_;         // 100 ms: req/s samples, timeouts, publishing
  uv_async_t stop_async_;           // stop() from another thread
  std::unique_ptr<TlsContext> tls_context_;  // per-thread TLS context (https)
  std::unique_ptr<char[]> read_buffer_;      // shared by all connections of this loop
  std::vector<sockaddr_storage> sources_;    // parsed --source addresses
  WorkerStats stats_;               // owned by the worker thread during the run
  std::mutex publish_mutex_;        // guards published_
  WorkerStats published_;           // last snapshot for the main thread
  std::atomic<bool> stop_requested_{false};
  std::mutex stop_mutex_;           // guards async_open_
  bool async_open_ = false;         // stop_async_ may be signalled
  std::atomic<bool> finished_{false};
  bool running_ = false;            // the run is in progress (loop thread only)
  uint64_t run_start_ns_ = 0;       // the run's start, hrtime ns
  uint64_t timeout_ns_ = 0;         // per-request timeout, ns
  uint64_t last_sample_ns_ = 0;     // time of the previous req/s sample
  uint64_t last_sample_count_ = 0;  // completed requests at that sample
  uint32_t sample_ticks_ = 0;       // sample timer ticks (publish every 5)
  std::mt19937_64 rng_;             // think time and similar draws
  std::string fatal_error_;         // setup failure that ended this worker
};

}  // namespace pelt
