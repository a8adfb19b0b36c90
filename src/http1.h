// HTTP/1.1 response parsing for one connection, on top of libhttp-parser.
//
// The connection state machine records each request it writes with push_request() and feeds
// every byte it reads to feed(); complete responses come back through a plain function pointer.
// With capture off nothing is allocated per response.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

// Upper bound on the captured body of one response, in bytes (capture on only).
inline constexpr uint64_t kMaxCapturedBodyBytes = 8ull << 20;
// Upper bound on the captured header names and values of one response, in bytes (capture on).
inline constexpr uint64_t kMaxCapturedHeaderBytes = 1ull << 20;

struct ParsedResponse {
  int status = 0;             // HTTP status code
  bool keep_alive = true;     // false: the server asked to close (or HTTP/1.0 without keep-alive)
  uint64_t body_bytes = 0;    // body bytes after de-chunking
  uint64_t header_bytes = 0;  // bytes of status line + headers (optional, best effort)
  // Filled only when capture is on (for Lua response()):
  std::vector<std::pair<std::string, std::string>> headers;  // header (name, value) as sent
  std::string body;                                          // de-chunked body bytes
};

// One per connection; not movable (http_parser keeps a pointer back to it). The callbacks run
// outside http_parser_execute(): they may call push_request() or reset(), not feed()/finish().
class ResponseParser {
 public:
  // Called for every complete final response (1xx interim responses other than 101 are
  // skipped silently). ctx is passed back. Must not throw.
  using OnResponse = void (*)(void* ctx, const ParsedResponse& response);
  // Called once per request when the first byte of its response arrives (for
  // time-to-first-byte; an interim 1xx counts as the first byte). ctx is passed back.
  using OnFirstByte = void (*)(void* ctx);

  ResponseParser(OnResponse on_response, void* ctx);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  void set_on_first_byte(OnFirstByte on_first_byte);  // optional; nullptr disables
  void set_capture(bool capture);  // keep headers and body for the next responses
  void reset();  // new connection: forget all state (capture and callbacks are kept)
  // Tell the parser that a request was sent; is_head=true means its response has no body.
  // Requests are answered in order (pipelining), so this is a FIFO.
  void push_request(bool is_head);
  size_t outstanding() const;  // requests sent and not yet answered
  // Feed bytes read from the socket. Returns false on a parse error (error() says why:
  // http_errno name and description, e.g. "HPE_INVALID_CONSTANT: invalid constant string").
  // Also false when a response arrives with no outstanding request. After a 101 response the
  // connection speaks another protocol: further bytes are ignored until reset().
  bool feed(const char* data, size_t len);
  // The peer closed the connection. Returns true when nothing was cut off: either no response
  // was in progress, or a read-until-close body ended here (then on_response fires first).
  // Returns false when a response was cut short (premature close); error() says so.
  bool finish();
  bool in_response() const;          // some bytes of a response (or only a 1xx) have been received
  const std::string& error() const;  // first error since reset(); empty when none

 private:
  static int on_message_begin(http_parser* parser);
  static int on_header_field(http_parser* parser, const char* at, size_t len);
  static int on_header_value(http_parser* parser, const char* at, size_t len);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, size_t len);
  static int on_message_complete(http_parser* parser);

  bool fail(std::string message);  // records the first error, returns false
  bool parser_failed();            // turns the http_parser errno into error_
  bool head_front() const;         // whether the oldest outstanding request is HEAD
  // Acts on the event a callback paused for; false when a user callback called reset().
  bool handle_pending(uint64_t generation);
  const http_parser_settings& settings() const;  // callback table for the current response

  http_parser parser_;                   // libhttp-parser state (HTTP_RESPONSE mode)
  OnResponse on_response_;               // completion callback
  OnFirstByte on_first_byte_ = nullptr;  // first-byte callback, may be null
  void* ctx_;                            // passed back to both callbacks
  ParsedResponse response_;              // response being parsed (capture buffers reused)
  std::vector<bool> head_ring_;          // FIFO of outstanding requests: true = HEAD (ring)
  size_t head_start_ = 0;                // index of the oldest outstanding request in head_ring_
  size_t outstanding_ = 0;               // requests sent and not yet answered
  std::string error_;                    // first error seen since reset(), empty if none
  uint64_t stream_offset_ = 0;           // bytes consumed by http_parser since reset()
  uint64_t message_start_ = 0;           // stream offset where the current message began, bytes
  uint64_t header_capture_bytes_ = 0;    // captured header bytes of the current response
  uint64_t generation_ = 0;              // bumped by reset(), detects resets from callbacks
  uint8_t pending_ = 0;                  // event a callback paused the parser for (see .cc)
  bool capture_ = false;                 // capture requested for responses that start from now
  bool capturing_ = false;               // the current response is being captured
  bool in_message_ = false;              // between message begin and message complete
  bool interim_seen_ = false;            // a 1xx interim arrived for the oldest request
  bool first_byte_sent_ = false;         // on_first_byte fired for the oldest request
  bool last_was_value_ = false;          // last header callback was a value (new field starts)
  bool upgraded_ = false;                // a 101 switched protocols; bytes are ignored
  bool failed_ = false;                  // an error happened; feed() keeps returning false
  // Header strings of earlier responses, kept so their buffers are reused (capture on).
  std::vector<std::pair<std::string, std::string>> spare_headers_;
};

// Scans a buffer holding one or more serialized requests (as Lua request() may return for
// pipelining). Fills is_head with one entry per complete request (true for HEAD), returns false
// with an error (naming the offset) when the bytes are not whole valid HTTP/1.x requests.
bool scan_requests(std::string_view raw, std::vector<bool>& is_head, std::string& error);

}  // namespace pelt
