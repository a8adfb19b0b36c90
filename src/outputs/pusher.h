// Sends encoded batches of points to an HTTP endpoint from a background thread.
//
// The caller (the main thread, once a second) hands over a payload with push(): that is a
// mutex and a move, never a wait for the network. The thread sends what has gathered every
// flush_interval, combining queued payloads into one request body by concatenation (line
// protocol lines and serialized protobuf WriteRequests both combine that way). Failures are
// retried with exponential backoff and jitter when they may pass (connection errors,
// timeouts, HTTP 429 and 5xx, honouring Retry-After); other 4xx answers reject the batch.
// The queue is bounded in bytes: when the store is down for long, new batches are dropped and
// counted. flush(deadline) sends what is left and stops the thread by the deadline, whatever
// the store does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/http_client.h"

namespace pelt {

// What happened to the points pushed so far.
struct PushStats {
  uint64_t points_queued = 0;       // points accepted by push()
  uint64_t points_sent = 0;         // points the server accepted (2xx)
  uint64_t requests_sent = 0;       // requests answered with 2xx
  uint64_t retries = 0;             // requests repeated after a failure that may pass
  uint64_t dropped_queue_full = 0;  // points refused by push() because the queue was full
  uint64_t dropped_retries = 0;     // points given up after the last attempt failed
  uint64_t dropped_rejected = 0;    // points the server refused (4xx other than 429)
  uint64_t dropped_unsent = 0;      // points still waiting when flush()'s deadline came, or
                                    // pushed after flush()
  std::string last_error;           // the latest failure ("" when none)

  uint64_t dropped() const {
    return dropped_queue_full + dropped_retries + dropped_rejected + dropped_unsent;
  }
};

struct PusherOptions {
  std::string name;                                // for messages, e.g. "influxdb"
  std::chrono::milliseconds flush_interval{1000};  // gap between requests while data flows
  size_t max_queue_bytes = 32 * 1024 * 1024;       // queued payload beyond which push() drops
  size_t max_request_bytes = 4 * 1024 * 1024;      // payload combined into one request, bytes
  int max_attempts = 5;                            // tries per request, the first included
  std::chrono::milliseconds backoff_initial{250};  // wait before the first retry
  std::chrono::milliseconds backoff_max{8000};     // longest wait between tries
  uint64_t jitter_seed = 0;                        // seed of the jitter; 0 = random
  HttpClientOptions http;                          // timeouts and TLS of the connection
  // Called from the sending thread on the first failure of a streak ("...; retrying") and
  // when sending works again. Null = silent.
  std::function<void(const std::string&)> warn;
};

// Turns a combined payload into the HTTP request that carries it (URL, headers, encoding).
using RequestBuilder = std::function<HttpRequest(std::string payload)>;

class Pusher {
 public:
  Pusher(PusherOptions options, RequestBuilder build);
  // Stops the thread at once if flush() was not called; unsent points count as dropped.
  ~Pusher();
  Pusher(const Pusher&) = delete;
  Pusher& operator=(const Pusher&) = delete;

  // Queues a payload holding `points` points. Never waits for the network. Returns false when
  // the payload was dropped (queue full, or after flush()).
  bool push(std::string payload, size_t points);

  // Sends everything queued, retrying as allowed while time remains, then stops the thread.
  // Returns by `deadline` (plus the few milliseconds an interrupted request needs to unwind);
  // true when every point queued was sent. Later calls return at once.
  bool flush(std::chrono::steady_clock::time_point deadline);

  PushStats stats() const;
  const std::string& name() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Wait before attempt `attempt` (2 = first retry): backoff_initial * 2^(attempt-2), at most
// backoff_max, then scaled by `jitter` in [0, 1) into the upper half: d/2 + d/2 * jitter.
std::chrono::milliseconds backoff_delay(const PusherOptions& options, int attempt, double jitter);

}  // namespace pelt
