// A Session speaks one protocol over a connection's transport: it turns requests into bytes
// and bytes into responses, and counts the requests still waiting for an answer. HTTP/1.1 is
// Http1Session (pipelining over one ordered stream), HTTP/2 is Http2Session (multiplexed
// streams); both have the same handful of calls, so the VU, the statistics and the Lua layer
// never see which one runs. A connection may serve several users (VUs), each known to the
// session by its slot (0, 1, ...): every request carries the slot of the user that sent it and
// every answer names it. The protocol reports through SessionEvents in neutral terms (a first
// byte, a complete response, a request that ended without one), so latency and status
// accounting live in one place, above it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "results/stats.h"
#include "wire/http1.h"
#include "wire/request_batch.h"

namespace pelt {

class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  // The first byte of the response to a request of `slot` arrived.
  virtual void on_first_byte(uint32_t slot) = 0;
  // A complete response to a request of `slot`.
  virtual void on_response(uint32_t slot, const ParsedResponse& response) = 0;
  // One request of `slot` ended without a response for a reason of its own (HTTP/2: the
  // server reset its stream); the connection goes on.
  virtual void on_request_failed(uint32_t slot, ErrorKind kind, const std::string& reason,
                                 const std::string& detail) = 0;
  // Bytes the session wants sent (requests, protocol frames). They stay valid while `owner`
  // lives; with a null owner only during the call (the transport copies what it cannot send
  // at once).
  virtual bool write(const std::shared_ptr<const void>& owner, std::string_view bytes) = 0;
  // The time to stamp events with (inside a read: the read's time).
  virtual uint64_t now_ns() const = 0;
};

class Session {
 public:
  virtual ~Session() = default;
  // One more user: its slot is the number of slots before the call.
  virtual void add_slot() = 0;
  // The transport is ready: begin the protocol on the new connection (HTTP/2: the preface
  // and SETTINGS, and the requests a GOAWAY left unprocessed on the previous one once the
  // server's SETTINGS arrived). Forgets the previous connection's state. False on failure;
  // error() says why.
  virtual bool start() = 0;
  // New requests may be submitted (HTTP/2: the server's SETTINGS arrived and no GOAWAY).
  virtual bool accepting() const = 0;
  // Forget the connection's state: every request (the caller has counted them).
  virtual void reset() = 0;
  // Keep headers and body of the next responses (for Lua response()).
  virtual void set_capture(bool capture) = 0;
  // Takes a batch of serialized HTTP/1.1 requests (as Lua request() returns them: one or more,
  // pipelined) for the next submit(). Returns the number of requests in the batch, or -1 when
  // they cannot be sent (error() says why). The batch must stay valid until submit().
  virtual int prepare(const RequestBatch& batch) = 0;
  // Sends the prepared batch for `slot` (HTTP/2: queues it until flush()). False when the
  // write failed (already reported by the transport).
  virtual bool submit(uint32_t slot) = 0;
  // Sends what submit() queued, in one write. False when the write failed.
  virtual bool flush() = 0;
  // Bytes that arrived. False on a protocol error; error() says what.
  virtual bool feed(const char* data, size_t len) = 0;
  // The peer ended the stream. True when nothing was cut off (a close-delimited body may end
  // here, reporting its response first); false when a response was cut short.
  virtual bool finish() = 0;
  // Requests sent and not yet answered: in all, and those of one slot.
  virtual size_t outstanding() const = 0;
  virtual size_t outstanding(uint32_t slot) const = 0;
  // Gives up the requests of `slot` (the caller counts them). True when the protocol can do
  // that alone (HTTP/2 resets the streams); false when only closing the connection can
  // (HTTP/1.1), and then nothing changed.
  virtual bool cancel(uint32_t slot) = 0;
  // The connection should close now although nothing failed (HTTP/2: a graceful GOAWAY came
  // and every stream it allowed has ended). Its unprocessed requests stay outstanding and go
  // out again on the next connection.
  virtual bool wants_close() const { return false; }
  // The protocol gave up on the connection after a write (HTTP/2: a protocol error made pelt
  // send GOAWAY): the connection must fail, for failure_reason().
  virtual bool broken() const { return false; }
  // Whether the session counts the bytes it writes itself (record_bytes_written): HTTP/2
  // frames are not the request bytes the VU records with record_sent().
  virtual bool counts_written_bytes() const { return false; }
  // The error breakdown's label for a failed feed(), flush() or broken() connection.
  virtual const std::string& failure_reason() const {
    static const std::string kParseError = "parse error";
    return kParseError;
  }
  virtual const std::string& error() const = 0;
};

// HTTP/1.1: requests are answered in order, so waiting requests are a FIFO. With several slots
// their requests share the connection as one pipeline.
class Http1Session : public Session {
 public:
  explicit Http1Session(SessionEvents& events);

  void add_slot() override;
  bool start() override {
    reset();
    return true;
  }
  bool accepting() const override { return true; }
  void reset() override;
  void set_capture(bool capture) override { parser_.set_capture(capture); }
  int prepare(const RequestBatch& batch) override;
  bool submit(uint32_t slot) override;
  bool flush() override { return true; }
  bool feed(const char* data, size_t len) override { return parser_.feed(data, len); }
  bool finish() override { return parser_.finish(); }
  size_t outstanding() const override { return parser_.outstanding(); }
  size_t outstanding(uint32_t slot) const override;
  bool cancel(uint32_t) override { return false; }
  const std::string& error() const override { return parser_.error(); }

 private:
  static void on_response(void* ctx, const ParsedResponse& response);
  static void on_first_byte(void* ctx);
  uint32_t front_slot() const { return slots_ > 1 ? order_[order_start_] : 0; }

  SessionEvents& events_;                              // the connection
  ResponseParser parser_;                              // responses, in request order
  const RequestBatch* prepared_ = nullptr;             // the batch prepare() took
  uint32_t slots_ = 0;                                 // users of the connection
  // With several slots: the slot of every outstanding request, oldest first (a ring), and the
  // outstanding requests of each slot.
  std::vector<uint32_t> order_;     // ring of slots
  size_t order_start_ = 0;          // index of the oldest entry in order_
  std::vector<uint32_t> per_slot_;  // outstanding requests by slot
};

}  // namespace pelt
