// One virtual user: a keep-alive connection that runs request -> response -> think -> again.
// The transport (plain TCP or TLS over memory BIOs) is hidden behind send_bytes() and the read
// path, so the request/response state machine does not know whether TLS is on.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "wire/http1.h"
#include "wire/tls.h"

namespace pelt {

class Worker;
struct ScenarioRuntime;
struct NameStats;

class Connection {
 public:
  Connection(Worker& worker, ScenarioRuntime& scenario, uint32_t index);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Closed loop: the VU is wanted (runs iterations back to back) or not (parks after the
  // iteration in progress).
  void set_active(bool active);
  bool active() const { return active_; }
  // When set_active(false) last found an iteration in progress (hrtime ns); 0 when active.
  uint64_t inactive_since_ns() const { return inactive_since_ns_; }
  // Ends the iteration in progress unfinished (a ramp-down's grace ran out). Requests still
  // unanswered stay counted by the caller, as in flight; the connection closes if there were
  // any, since their responses could still arrive on it. The VU is free afterwards.
  void interrupt();
  // Open loop: run one iteration that was due at intended_ns (hrtime). The VU must be free.
  void run_iteration(uint64_t intended_ns);
  // Opens the connection without starting an iteration (pre-allocated VUs).
  void warm_up();
  // No iteration in progress and none about to start.
  bool free() const { return !busy_; }
  uint32_t index() const { return index_; }
  // Open loop: the VU sits in the worker's idle list (set and cleared by the worker).
  bool in_idle_list = false;
  // Open loop: opened ahead of need and not yet ready once (set and cleared by the worker).
  bool warming = false;
  // Requests written and not yet answered.
  uint64_t outstanding() const { return parser_.outstanding(); }
  // Sent time of the oldest outstanding request (hrtime ns), 0 when none.
  uint64_t sent_ns() const { return parser_.outstanding() ? sent_ns_ : 0; }
  // The request timed out: counts every outstanding request, drops the connection, ends the
  // iteration.
  void on_timeout();
  // Connects and TLS handshakes that take longer than the timeout fail as connect errors.
  void check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns);
  // Run ended: closes every handle; outstanding requests stay counted by the caller.
  void shutdown();
  // Iterations this VU has finished (per-vu-iterations).
  uint64_t iterations() const { return iterations_; }

 private:
  enum class State { kClosed, kConnecting, kHandshaking, kReady, kClosing };

  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_close(uv_handle_t* handle);
  static void on_timer(uv_timer_t* timer);
  static void on_response(void* ctx, const ParsedResponse& response);
  static void on_first_byte(void* ctx);

  void connect();
  void handle_connected(int status);
  // The socket could not be created, bound or connected at once: counts a connect error and
  // retries after a backoff (there is no poll handle to close).
  void fail_unopened(const char* what, int err);
  void read_ready();                 // the socket is readable: reads what it holds
  // Reads and handles what the socket holds: until a short read, or with until_would_block
  // until EAGAIN. False when the connection ended or failed on the way.
  bool read_socket(bool until_would_block);
  void poll_failed(int status);      // the poll reported an error: drain, then fail
  void flush_out();                  // the socket is writable: sends what out_ holds
  void watch(bool writable);         // polls for readable, and writable when asked
  void handle_ready();
  void handle_read(ssize_t nread, const char* data);   // stamps the time, then process_read()
  void process_read(ssize_t nread, const char* data);  // bytes, EOF or a read error
  void feed_plain(const char* data, size_t len);
  void handle_response(const ParsedResponse& response);
  void after_feed();
  void begin_iteration();
  void send_request();
  void finish_iteration();
  void next_step();
  void send_bytes(const char* data, size_t len);
  void write_raw(const char* data, size_t len);
  void flush_tls();
  // A connection-level failure: counts outstanding requests as failed, closes, reconnects.
  void fail(int kind, const std::string& reason, const std::string& detail);
  void close_socket(bool reconnect);
  void start_timer(uint64_t delay_ms);
  void start_reconnect_backoff();  // reconnect after a delay growing with connect_failures_

  Worker& worker_;
  ScenarioRuntime& scenario_;
  uint32_t index_;                  // VU number within the scenario on this worker
  State state_ = State::kClosed;    // socket state
  int fd_ = -1;                     // the socket (non-blocking), -1 when none
  uv_poll_t poll_;                  // readiness of fd_ (re-initialised per connection)
  uv_timer_t timer_;                // think time, delay() and reconnect backoff
  bool timer_open_ = false;         // timer_ initialised
  bool timer_for_reconnect_ = false;  // timer_ is a reconnect backoff, not a think/delay wait
  bool watching_writable_ = false;  // poll_ includes UV_WRITABLE
  std::string out_;                 // bytes the socket did not take yet (sent when writable)
  std::string tls_out_;             // scratch: ciphertext produced by TLS
  std::string tls_plain_;           // scratch: plaintext produced by TLS
  std::unique_ptr<TlsSession> tls_; // TLS state, when the target is https
  ResponseParser parser_;           // response parser for this connection
  bool active_ = false;             // closed loop: the VU should keep iterating
  bool busy_ = false;               // an iteration is in progress (including think/delay)
  bool want_send_ = false;          // the iteration's request waits for the socket to be ready
  bool reconnect_after_ = false;    // the server asked to close after this response
  bool batch_done_ = false;         // every response of the current batch arrived
  bool shutting_down_ = false;      // shutdown() was called
  bool in_read_ = false;            // inside handle_read(): read_ns_ is the current time
  uint64_t intended_ns_ = 0;        // when the current iteration was due (open loop), hrtime ns
  uint64_t inactive_since_ns_ = 0;  // deactivated mid-iteration at this hrtime ns, 0 otherwise
  uint64_t sent_ns_ = 0;            // when the current batch was written, hrtime ns
  uint64_t connect_start_ns_ = 0;   // when connect() started, hrtime ns
  uint64_t read_ns_ = 0;            // time of the read being processed, hrtime ns
  uint32_t batch_size_ = 1;         // requests in the current batch (pipelining)
  uint32_t connect_failures_ = 0;   // consecutive failed connects (backoff)
  uint64_t iterations_ = 0;         // iterations finished by this VU
  NameStats* name_stats_ = nullptr; // where the current request's figures go
  std::string request_name_;        // name of the current request
};

}  // namespace pelt
