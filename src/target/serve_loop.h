// One pelt-target serve loop: a thread running its own libuv loop with its own SO_REUSEPORT
// listener, so the kernel spreads connections across threads and nothing on the request path
// is shared between them.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "target/options.h"
#include "target/state.h"

namespace pelt::target {

class Exchange;

// Deadlines (uv_hrtime ns) of the exchanges waiting on /delay, a stall, a pool hold or a paced
// body, earliest first.
using WaitQueue = std::multimap<uint64_t, Exchange*>;

inline constexpr size_t kReadBufferBytes = 64 * 1024;  // size of the per-thread read buffer

struct ServeLoop {
  int index = 0;                          // 0-based serve loop number
  int listen_fd = -1;                     // bound (not yet listening) socket this loop accepts on
  const ServeOptions* options = nullptr;  // command line settings (TLS, HTTP/2 knobs, faults)
  SSL_CTX* tls = nullptr;                 // TLS context shared by all loops, null without --tls
  SharedState* state = nullptr;           // process-wide state (counters, stores, stall, pool)
  ThreadCounters* counters = nullptr;     // this loop's counters inside `state`
  uv_loop_t uv{};                         // this thread's libuv event loop
  uv_tcp_t listener{};                    // listening handle wrapping listen_fd
  uv_async_t stop_async{};                // wakes the loop to stop it
  std::thread thread;                     // thread running `uv`
  std::string scratch;                    // reusable buffer for building response bodies
  // Waits run on a timerfd with absolute nanosecond deadlines: libuv timers count whole
  // milliseconds from a cached loop time, which makes /delay/20 last 20.0-21.0 ms.
  int wait_fd = -1;            // timerfd (CLOCK_MONOTONIC, the clock of uv_hrtime)
  uv_poll_t wait_poll{};       // watches wait_fd
  WaitQueue waits;             // pending waits
  uint64_t wait_armed_ns = 0;  // deadline wait_fd is armed for, 0 = disarmed
  // /pool slots granted to requests of this loop arrive from any thread through this inbox.
  uv_async_t grant_async{};                              // wakes the loop when grants arrived
  std::mutex grant_mu;                                   // guards grants
  std::vector<std::pair<uint64_t, uint64_t>> grants;     // (ticket, slot free since ns) to deliver
  std::unordered_map<uint64_t, Exchange*> pool_tickets;  // queued tickets of this loop's requests
  uint64_t next_ticket = 1;             // next pool ticket number handed out on this loop
  char read_buffer[kReadBufferBytes];   // every read on this thread lands here first
  char plain_buffer[kReadBufferBytes];  // decrypted TLS input lands here
};

// Creates a TCP socket bound to host:port with SO_REUSEADDR and SO_REUSEPORT. Returns the fd,
// or a negative errno value; `bound_port` receives the port actually bound (useful for 0).
int bind_reuseport(const std::string& host, int port, int& bound_port);

// Starts the serve loop's thread (loop, listener, accept). Returns false when it failed to start.
bool start_serve_loop(ServeLoop& w);

// Queues `x` to be woken (Exchange::end_wait) at due_ns; the returned position cancels it.
WaitQueue::iterator add_wait(ServeLoop& w, uint64_t due_ns, Exchange* x);
// Removes a queued wait that has not fired.
void cancel_wait(ServeLoop& w, WaitQueue::iterator it);

// Hands the pool slot, free since `free_ns`, to `ticket` of loop `w` (thread-safe; delivered
// on w's thread).
void post_pool_grant(ServeLoop& w, uint64_t ticket, uint64_t free_ns);

// Asks the serve loop to stop (thread-safe) and joins its thread.
void stop_serve_loop(ServeLoop& w);

}  // namespace pelt::target
