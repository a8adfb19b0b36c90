// One pelt-target worker: a thread running its own libuv loop with its own SO_REUSEPORT
// listener, so the kernel spreads connections across threads and nothing on the request path
// is shared between them.
#pragma once

#include <uv.h>

#include <string>
#include <thread>

#include "target/state.h"

namespace pelt::target {

inline constexpr size_t kReadBufferBytes = 64 * 1024;  // size of the per-thread read buffer

struct Worker {
  int index = 0;                       // 0-based worker number
  int listen_fd = -1;                  // bound (not yet listening) socket this worker accepts on
  SharedState* state = nullptr;        // process-wide state (counters, stores, stall switch)
  ThreadCounters* counters = nullptr;  // this worker's counters inside `state`
  uv_loop_t loop{};                    // the worker's event loop
  uv_tcp_t listener{};                 // listening handle wrapping listen_fd
  uv_async_t stop_async{};             // wakes the loop to stop it
  std::thread thread;                  // thread running `loop`
  std::string scratch;                 // reusable buffer for building response bodies
  char read_buffer[kReadBufferBytes];  // every read on this thread lands here first
};

// Creates a TCP socket bound to host:port with SO_REUSEADDR and SO_REUSEPORT. Returns the fd,
// or a negative errno value; `bound_port` receives the port actually bound (useful for 0).
int bind_reuseport(const std::string& host, int port, int& bound_port);

// Starts the worker's thread (loop, listener, accept). Returns false when it failed to start.
bool start_worker(Worker& w);

// Asks the worker's loop to stop (thread-safe) and joins its thread.
void stop_worker(Worker& w);

}  // namespace pelt::target
