// One request and its response as the route handlers see it, whatever carries it: an HTTP/1.1
// peer (one exchange at a time, in order) or an HTTP/2 stream (many at once on a connection).
// The request fields live here; each protocol implements the responding half.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "target/serve_loop.h"

namespace pelt::target {

class Peer;

// The protocol an exchange arrived on.
enum class Protocol : uint8_t {
  kHttp1,  // HTTP/1.0 or HTTP/1.1
  kH2,     // HTTP/2, over TLS (ALPN h2) or cleartext (h2c)
};

// How a generated response body is produced after its headers.
enum class BodyKind : uint8_t {
  kNone,            // no body stream active
  kFixed,           // `bytes` filler bytes, length framed, as fast as the client reads
  kChunked,         // `bytes` filler bytes without a length (chunked in HTTP/1.1)
  kEndlessChunked,  // a 1 KiB piece every `interval_ms`, until the client goes away
  kDrip,            // one byte every `interval_ms` until `bytes` were sent
};

// The phase handle_request is called in: fresh, or again after a wait the handler asked for.
enum Phase : int {
  kPhaseFresh = 0,             // first call for a request
  kPhaseAfterStall = 1,        // an /admin/stall ended
  kPhaseAfterDelay = 2,        // /delay's wait ended
  kPhaseAfterPool = 3,         // /pool's slot was held for the configured time
  kPhaseAfterRenegotiate = 4,  // the TLS renegotiation /fault/renegotiate asked for finished
  kPhaseBodyTick = 100,        // (HTTP/2 only) the next piece of a paced body is due
};

struct HeaderField {
  std::string name;   // header name as the client spelled it (HTTP/2: lower case)
  std::string value;  // header value, surrounding whitespace removed
};

inline constexpr size_t kFillerStepBytes = 64 * 1024;  // most filler bytes filler() returns

// `n` (<= kFillerStepBytes) bytes of the generated body pattern 'a'..'z' from `offset` on.
std::string_view filler(uint64_t offset, size_t n);

// The reason phrase of a status code ("Status" for codes without one).
std::string_view reason_phrase(int status);

class Exchange {
 public:
  explicit Exchange(ServeLoop& loop) : loop_(&loop) {}
  virtual ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  ServeLoop& loop() { return *loop_; }
  virtual Protocol protocol() const = 0;
  // The connection this exchange travels on.
  virtual Peer& peer() = 0;

  // --- The request (valid while it is handled, including after a wait) ---
  http_method method() const { return method_; }
  std::string_view target() const { return url_; }     // raw request target (HTTP/2: :path)
  std::string_view path() const { return path_; }      // target up to '?'
  std::string_view query() const { return query_; }    // target after '?', without it
  std::string_view body() const { return body_; }      // decoded request body (empty for /sink)
  uint64_t sunk_bytes() const { return sunk_bytes_; }  // body bytes /sink counted and dropped
  std::span<const HeaderField> headers() const { return {headers_.data(), header_count_}; }
  std::optional<std::string_view> header(std::string_view name) const;  // case-insensitive

  // --- Responding ---
  // A complete response with a body (none for HEAD, 1xx, 204 and 304). `extra_headers` are
  // full "Name: value\r\n" lines.
  virtual void reply(int status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = {}) = 0;
  // Response headers, then a body produced by `kind` (see BodyKind). HEAD gets the headers.
  virtual void reply_stream(int status, std::string_view content_type, BodyKind kind,
                            uint64_t bytes, uint64_t interval_ms = 0) = 0;
  // An informational (1xx) response ahead of the final one; dropped where it is not allowed.
  virtual void interim(int status) = 0;
  // Never answers this request (HTTP/1.1: nor the ones behind it on the connection).
  virtual void hang() = 0;
  // Ends the connection after this response: HTTP/1.1 says Connection: close and closes;
  // HTTP/2 sends GOAWAY(NO_ERROR) and closes once the open streams are done.
  virtual void close_after_flush() = 0;
  // The protocol's own misbehaviour for /fault/NAME; false when NAME is not one of its faults.
  virtual bool misbehave(std::string_view fault) = 0;

  // --- Waiting ---
  // Holds this request for `ns` nanoseconds (never less; later only by the machine's wake-up
  // latency), then calls the route handler again with `phase`.
  void wait_then(uint64_t ns, int phase);
  // The same, until the absolute uv_hrtime() deadline `due_ns` (at once if it has passed).
  void wait_until(uint64_t due_ns, int phase);
  // The serve loop's wait queue reached this exchange's deadline.
  void end_wait();
  // /pool: takes a process-wide slot (queueing FIFO while none is free), holds it for the
  // configured time, then calls the route handler again with kPhaseAfterPool.
  void take_pool_slot();
  // Gives the slot back (the next queued request gets it). Called by the /pool handler.
  void release_pool_slot();
  // The serve loop delivered the pool slot this exchange queued for, free since `free_ns`.
  void pool_slot_granted(uint64_t free_ns);

 protected:
  // Marks the request as in progress (HTTP/1.1: later requests wait behind it).
  virtual void hold() {}
  // Continues the request after a wait ended (route handler with `phase`, then output).
  virtual void resume(int phase) = 0;
  // Cancels a pending wait and gives back or gives up a pool slot (the exchange ends).
  void abandon();
  // Splits url_ into path_ and query_ (absolute-form targets keep their path and query).
  void split_target();

  ServeLoop* loop_;                   // serve loop this exchange lives on
  http_method method_ = HTTP_GET;     // request method
  std::string url_;                   // request target being parsed / handled
  std::string_view path_;             // view into url_: the path
  std::string_view query_;            // view into url_: the query string
  std::vector<HeaderField> headers_;  // header slots, reused across requests
  size_t header_count_ = 0;           // slots of headers_ used by the current request
  std::string body_;                  // current request body
  uint64_t sunk_bytes_ = 0;           // body bytes counted and dropped (/sink)
  int wait_phase_ = 0;                // phase passed to the handler when the wait ends
  bool waiting_ = false;              // queued in loop_->waits at wait_it_
  WaitQueue::iterator wait_it_{};     // position in loop_->waits while waiting_
  uint64_t pool_ticket_ = 0;          // ticket while queued for a pool slot, 0 otherwise
  bool pool_holding_ = false;         // holds a pool slot (until release_pool_slot)
  uint64_t pool_due_ns_ = 0;          // when the slot held is due back (uv_hrtime ns)

 private:
  void stop_waiting();
};

}  // namespace pelt::target
