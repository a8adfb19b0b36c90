// A Session speaks one protocol over a connection's transport: it turns requests into bytes
// and bytes into responses, and counts the requests still waiting for an answer. HTTP/1.1 is
// Http1Session (pipelining over one ordered stream); another protocol is a sibling class with
// the same handful of calls, so the VU, the statistics and the Lua layer never see which one
// runs. The protocol reports through SessionEvents in neutral terms (a first byte, a complete
// response), so latency and status accounting live in one place, above it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wire/http1.h"
#include "wire/request_batch.h"

namespace pelt {

class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  // The first byte of the oldest waiting request's response arrived.
  virtual void on_first_byte() = 0;
  // A complete response to the oldest waiting request.
  virtual void on_response(const ParsedResponse& response) = 0;
  // Bytes the session wants sent (requests, protocol frames), valid while `owner` lives.
  virtual bool write(const std::shared_ptr<const void>& owner, std::string_view bytes) = 0;
};

class Session {
 public:
  virtual ~Session() = default;
  // A new connection is ready: forget the previous one's state.
  virtual void reset() = 0;
  // Keep headers and body of the next responses (for Lua response()).
  virtual void set_capture(bool capture) = 0;
  // Sends a batch of serialized HTTP/1.1 requests (as Lua request() returns them: one or more,
  // pipelined). False when the write failed.
  virtual bool submit(const RequestBatch& batch) = 0;
  // Bytes that arrived. False on a protocol error; error() says what.
  virtual bool feed(const char* data, size_t len) = 0;
  // The peer ended the stream. True when nothing was cut off (a close-delimited body may end
  // here, reporting its response first); false when a response was cut short.
  virtual bool finish() = 0;
  // Requests sent and not yet answered.
  virtual size_t outstanding() const = 0;
  virtual const std::string& error() const = 0;
};

// HTTP/1.1: requests are answered in order, so waiting requests are a FIFO.
class Http1Session : public Session {
 public:
  explicit Http1Session(SessionEvents& events);

  void reset() override { parser_.reset(); }
  void set_capture(bool capture) override { parser_.set_capture(capture); }
  bool submit(const RequestBatch& batch) override;
  bool feed(const char* data, size_t len) override { return parser_.feed(data, len); }
  bool finish() override { return parser_.finish(); }
  size_t outstanding() const override { return parser_.outstanding(); }
  const std::string& error() const override { return parser_.error(); }

 private:
  static void on_response(void* ctx, const ParsedResponse& response);
  static void on_first_byte(void* ctx);

  SessionEvents& events_;  // the connection
  ResponseParser parser_;  // responses, in request order
};

}  // namespace pelt
