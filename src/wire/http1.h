// HTTP/1.1 response parsing for one connection.
//
// The connection state machine records each request it writes with push_request() and feeds
// every byte it reads to feed(); complete responses come back through a plain function pointer.
// With capture off nothing is allocated per response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

// Upper bound on the captured body of one response, in bytes (capture on only).
inline constexpr uint64_t kMaxCapturedBodyBytes = 8ull << 20;

struct ParsedResponse {
  int status = 0;             // HTTP status code
  bool keep_alive = true;     // false: the server asked to close (or HTTP/1.0 without keep-alive)
  uint64_t body_bytes = 0;    // body bytes after de-chunking
  uint64_t header_bytes = 0;  // bytes of status line + headers (optional, best effort)
  // Filled only when capture is on (for Lua response()):
  std::vector<std::pair<std::string, std::string>> headers;  // header (name, value) as sent
  std::string body;                                          // de-chunked body bytes
};

// One per connection. The callbacks run between parsing steps: they may call push_request()
// or reset(), not feed()/finish().
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
  // Feed bytes read from the socket. Returns false on a parse error; error() says what was
  // wrong and at which byte of the connection's stream (e.g. "invalid status line at byte 0:
  // expected HTTP/1.x"). Also false when a response arrives with no outstanding request. After
  // a 101 response the connection speaks another protocol: further bytes are ignored until
  // reset().
  bool feed(const char* data, size_t len);
  // The peer closed the connection. Returns true when nothing was cut off: either no response
  // was in progress, or a read-until-close body ended here (then on_response fires first).
  // Returns false when a response was cut short (premature close); error() says so.
  bool finish();
  bool in_response() const;          // some bytes of a response (or only a 1xx) have been received
  const std::string& error() const;  // first error since reset(); empty when none

 private:
  // Where the parser is in the byte stream.
  enum class State : uint8_t {
    kIdle,        // between responses (CR/LF are skipped)
    kStatusLine,  // reading the status line
    kHeaders,     // reading header lines
    kBody,        // Content-Length body, body_left_ bytes to go
    kChunkSize,   // reading a chunk-size line (with optional extensions)
    kChunkData,   // chunk data, body_left_ bytes to go
    kChunkEnd,    // the CRLF after chunk data
    kTrailers,    // trailer lines after the last chunk
    kUntilClose,  // body delimited by the connection closing
    kUpgraded,    // after a 101: the bytes belong to another protocol
  };

  [[gnu::cold, gnu::noinline]] bool fail(std::string message);  // records the first error
  // fail() with "(response at byte N)" appended, N = where the current response began.
  [[gnu::cold, gnu::noinline]] bool fail_response(std::string_view what);
  // The error paths stay out of line so the parsing functions stay small.
  [[gnu::cold, gnu::noinline]] bool fail_quoted(const char* before, std::string_view raw,
                                                const char* after);
  [[gnu::cold, gnu::noinline]] bool fail_lengths(uint64_t second);
  // Takes the next whole line from data[pos, len) (joined with bytes kept from earlier feeds);
  // returns 1 with `line` (no LF, no trailing CR), 0 when the line is incomplete (the bytes are
  // kept, pos = len), -1 when the line budget ran out.
  int take_line(const char* data, size_t len, size_t& pos, std::string_view& line);
  bool begin_message(size_t pos);  // first byte of a response; false on error
  bool status_line(std::string_view line);
  bool header_line(std::string_view line, bool trailer);
  [[gnu::cold, gnu::noinline]] bool folded_line(std::string_view line);
  [[gnu::cold, gnu::noinline]] bool bad_header_line(std::string_view line);
  // Content-Length, Transfer-Encoding or Connection (other names of those lengths pass too).
  [[gnu::noinline]] bool special_header(std::string_view name, std::string_view value);
  // The blank line after the headers: picks how the body is delimited. False only when a
  // callback reset the parser.
  bool headers_done();
  bool chunk_size_line(std::string_view line);
  bool add_body(const char* data, size_t n);  // counts (and captures) body bytes
  bool complete();  // a final response ended; false when a callback reset the parser
  [[gnu::noinline]] void capture_header(std::string_view name, std::string_view value);

  OnResponse on_response_;               // completion callback
  OnFirstByte on_first_byte_ = nullptr;  // first-byte callback, may be null
  void* ctx_;                            // passed back to both callbacks
  ParsedResponse response_;              // response being parsed (capture buffers reused)
  std::vector<bool> head_ring_;          // FIFO of outstanding requests: true = HEAD (ring)
  size_t head_start_ = 0;                // index of the oldest outstanding request in head_ring_
  size_t outstanding_ = 0;               // requests sent and not yet answered
  std::string error_;                    // first error seen since reset(), empty if none
  std::string line_;                     // a line split across feeds, kept until its LF arrives
  uint64_t stream_offset_ = 0;           // bytes fed since reset(), before the current feed
  uint64_t message_start_ = 0;           // stream offset where the current response began
  uint64_t body_left_ = 0;               // body or chunk bytes still to come
  uint64_t content_length_ = 0;          // Content-Length of the current response
  uint64_t generation_ = 0;              // bumped by reset(), detects resets from callbacks
  int64_t line_budget_ = 0;              // bytes the current head, chunk line or trailers may take
  State state_ = State::kIdle;
  bool capture_ = false;                 // capture requested for responses that start from now
  bool capturing_ = false;               // the current response is being captured
  bool interim_seen_ = false;            // a 1xx interim arrived for the oldest request
  bool first_byte_sent_ = false;         // on_first_byte fired for the oldest request
  bool http10_ = false;                  // the current response is HTTP/1.0
  bool has_length_ = false;              // a Content-Length header was seen
  bool chunked_ = false;                 // Transfer-Encoding ends in chunked
  bool has_encoding_ = false;            // a Transfer-Encoding header was seen
  bool conn_close_ = false;              // Connection: close
  bool conn_keep_alive_ = false;         // Connection: keep-alive
  bool line_used_ = false;               // line_ holds a line already handed out
  bool last_special_ = false;            // the last header line was one the parser acts on
  bool failed_ = false;                  // an error happened; feed() keeps returning false
  // Header strings of earlier responses, kept so their buffers are reused (capture on).
  std::vector<std::pair<std::string, std::string>> spare_headers_;
};

// Scans a buffer holding one or more serialized requests (as Lua request() may return for
// pipelining). Fills is_head with one entry per complete request (true for HEAD), returns false
// with an error (naming the offset) when the bytes are not whole valid HTTP/1.x requests.
bool scan_requests(std::string_view raw, std::vector<bool>& is_head, std::string& error);

}  // namespace pelt
