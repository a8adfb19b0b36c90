// A VU (virtual user) runs iterations: delay(), the request (static, or built by Lua
// request()), its responses (Lua response()), then the think time. It sends over a Connection
// it may share with other VUs (HTTP/2 streams: -m N puts N VUs on each connection), in its own
// slot, and records every figure through the worker's Recorder. When an iteration ends,
// or the VU becomes free, it tells its executor, which decides what happens next: another
// iteration at once (closed loop), the next arrival or the idle list (open loop), or nothing.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>

#include "engine/clock.h"
#include "results/recorder.h"
#include "wire/connection.h"

namespace pelt {

class Executor;
class ScenarioContext;

// What a VU needs from the run it belongs to.
class RunControl {
 public:
  virtual ~RunControl() = default;
  virtual bool running() const = 0;     // the run is in progress
  virtual void stop_run() = 0;          // Lua's thread:stop(): end this thread's run
  virtual double random_unit() = 0;     // uniform in [0, 1) (think times)
  // Local address for the VU with this index, or null (--source spreads VUs over addresses).
  virtual const sockaddr* bind_address(uint32_t vu_index) const = 0;
};

// The worker's services every VU uses.
struct VuEnv {
  Clock& clock;                  // time and timers
  Recorder& recorder;            // every figure goes here
  TransportFactory& transports;  // plain or TLS sockets
  RunControl& run;               // the run's state
  uint32_t streams = 1;          // VUs per connection (-m: concurrent streams of HTTP/2)
};

class Vu : private ConnectionUser {
 public:
  // connection: the one the VU sends over (owned by the executor, shared with other VUs).
  Vu(VuEnv& env, ScenarioContext& scenario, Executor& executor, uint32_t index,
     Connection& connection);
  ~Vu() override;
  Vu(const Vu&) = delete;
  Vu& operator=(const Vu&) = delete;

  uint32_t index() const { return index_; }
  // Closed loop: the VU is wanted (iterates back to back) or not (stops after the iteration in
  // progress). A VU becoming wanted while free is offered to the executor at once.
  void set_active(bool active);
  bool active() const { return active_; }
  // Open loop: keep the connection open while idle (VUs wait for arrivals).
  void set_keep_connected(bool keep) { keep_connected_ = keep; }
  // When set_active(false) last found an iteration in progress (ns); 0 when active.
  uint64_t inactive_since_ns() const { return inactive_since_ns_; }
  // Starts one iteration now; intended_ns is when it was due (open loop), 0 = now.
  void run_iteration(uint64_t intended_ns);
  // Opens the connection without starting an iteration (pre-allocated VUs).
  void warm_up();
  // Ends the iteration in progress unfinished (a grace ran out). Requests still unanswered
  // stay counted by the caller, as in flight; the connection closes if there were any. The VU
  // is free afterwards.
  void interrupt();
  // No iteration in progress and none about to start.
  bool free() const { return !busy_; }
  uint64_t iterations() const { return iterations_; }  // iterations finished by this VU
  // Iterations this VU started: those finished and the one in progress (not a think time).
  uint64_t started_iterations() const { return iterations_ + (busy_ && !thinking_ ? 1 : 0); }
  uint64_t outstanding() const { return connection_.outstanding(slot_); }  // requests unanswered
  // Requests older than timeout_ns time out.
  void check_timeouts(uint64_t now_ns, uint64_t timeout_ns);
  // Run ended: no more iterations; outstanding requests stay counted by the caller (the
  // executor shuts the connections down).
  void shutdown();

  // Open loop bookkeeping, kept by the executor.
  bool in_idle_list = false;  // the VU sits in the executor's idle list
  bool warming = false;       // opened ahead of need and not yet ready once

 private:
  // ConnectionUser
  void on_connection_ready() override;
  void on_first_byte() override;
  void on_response(const ParsedResponse& response) override;
  void on_input_done() override;
  void on_requests_failed(const RequestFailure& failure) override;
  bool wants_connection() const override;

  static void on_timer(void* ctx);
  void send_request();
  void finish_iteration();
  void next_step();  // free: the executor decides what comes next
  void record_iteration_duration();  // the iteration (think time included) is over
  void set_name(NameStats* name);  // the current request's name (figures and series)

  VuEnv& env_;
  ScenarioContext& scenario_;
  Executor& executor_;
  uint32_t index_;                 // VU number within the scenario on this worker
  RequestScope scope_;             // where the current request's figures go
  Connection& connection_;         // the connection the VU sends over (maybe shared)
  uint32_t slot_;                  // the VU's slot on it
  std::unique_ptr<Timer> timer_;   // think time and delay()
  bool active_ = false;            // closed loop: the VU should keep iterating
  bool keep_connected_ = false;    // open loop: keep the connection while idle
  bool busy_ = false;              // an iteration is in progress (including think/delay)
  bool want_send_ = false;         // the iteration's request waits for the connection
  bool batch_done_ = false;        // every response of the current batch arrived
  bool thinking_ = false;          // the think time after the iteration is running
  bool shutting_down_ = false;     // shutdown() was called
  uint64_t intended_ns_ = 0;       // when the current iteration was due (open loop), ns
  uint64_t inactive_since_ns_ = 0; // deactivated mid-iteration at this time (ns), 0 otherwise
  uint64_t sent_ns_ = 0;           // when the current batch was written, ns
  uint64_t iteration_start_ns_ = 0;  // when the current iteration started, ns
  uint64_t blocked_since_ns_ = 0;    // the request waits for a connection since (ns), 0 = not
  uint64_t first_byte_ns_ = 0;       // first byte of the response being read arrived (ns)
  uint64_t blocked_us_ = 0;          // how long the current batch waited for a connection, us
  uint64_t iterations_ = 0;        // iterations finished by this VU
};

}  // namespace pelt
