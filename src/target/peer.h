// One accepted client connection of pelt-target: parses HTTP/1.1 requests with http_parser,
// answers them strictly one at a time and in order (pipelining included), and offers the route
// handlers a small API to reply, delay, stream a body or misbehave on purpose.
#pragma once

#include <http_parser.h>
#include <uv.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "target/serve_loop.h"

namespace pelt::target {

class Peer {
 public:
  struct HeaderField {
    std::string name;   // header name as the client spelled it
    std::string value;  // header value, surrounding whitespace removed by the parser
  };

  // How a streamed response body is produced after its headers.
  enum class BodyKind : uint8_t {
    kNone,            // no body stream active
    kFixed,           // `bytes` filler bytes, Content-Length framed, as fast as the client reads
    kChunked,         // `bytes` filler bytes in chunks of `chunk` bytes, then the last chunk
    kEndlessChunked,  // a 1 KiB chunk every `interval_ms`, until the client goes away
    kDrip,            // one byte every `interval_ms` until `bytes` were sent
  };

  // Listener callback: accepts one client on the serve loop whose ServeLoop* is in server->data.
  static void on_new_connection(uv_stream_t* server, int status);

  // --- The current request (valid while it is being handled, including after a wait) ---
  ServeLoop& loop() { return *loop_; }
  http_method method() const { return static_cast<http_method>(parser_.method); }
  std::string_view target() const { return url_; }   // raw request target
  std::string_view path() const { return path_; }    // target up to '?'
  std::string_view query() const { return query_; }  // target after '?', without it
  std::string_view body() const { return body_; }    // decoded request body
  std::span<const HeaderField> headers() const { return {headers_.data(), header_count_}; }
  std::optional<std::string_view> header(std::string_view name) const;  // case-insensitive
  bool keep_alive() const { return keep_alive_ && !close_after_flush_; }

  // --- Responding ---
  // A complete response with a body (none for HEAD, 204 and 304). `extra_headers` are full
  // "Name: value\r\n" lines. Adds Connection: close / keep-alive as the connection requires.
  void reply(int status, std::string_view content_type, std::string_view body,
             std::string_view extra_headers = {});
  // Response headers, then a body produced by `kind` (see Stream). HEAD gets the headers only.
  void reply_stream(int status, std::string_view content_type, BodyKind kind, uint64_t bytes,
                    uint64_t interval_ms = 0);
  // Appends raw bytes to the output as they are (the fault paths' misbehaviour).
  void write_raw(std::string_view bytes);
  // After everything queued is written: FIN, drain what the client still sends, then close.
  void close_after_flush();
  // After everything queued is written (plus a short pause): close with RST (SO_LINGER 0).
  void reset_after_flush();
  // Closes at once, writing nothing more.
  void close_now();
  // Holds this request (and the ones behind it) for `ns` nanoseconds (never less; later only
  // by the machine's wake-up latency), then calls the route handler again with `phase`.
  void wait_then(uint64_t ns, int phase);
  // The serve loop's wait queue reached this peer's deadline.
  void end_wait();
  // Never answers this request; the connection stays until the client closes it.
  void hang();

 private:
  explicit Peer(ServeLoop& loop);
  ~Peer() = default;

  // libuv and http_parser callbacks (thin: recover `this` and forward).
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_close(uv_handle_t* handle);
  static void on_stream_timer(uv_timer_t* timer);
  static void on_close_timer(uv_timer_t* timer);
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t len);
  static int on_header_field(http_parser* p, const char* at, size_t len);
  static int on_header_value(http_parser* p, const char* at, size_t len);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  static const http_parser_settings kParserSettings;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  void handle_read(ssize_t nread, const uv_buf_t* buf);
  bool can_parse() const;
  size_t feed(const char* data, size_t len);
  void drive();
  bool write_out(bool allow_sync);
  void pump();
  void stream_tick();
  void end_stream();
  void finish_close();
  void stop_waiting();  // cancels a queued wait, if any
  void bad_request();
  void split_target();
  int message_complete();

  ServeLoop* loop_;                    // serve loop this peer lives on (uv loop, counters, scratch)
  uv_tcp_t tcp_{};                     // the client socket
  uv_timer_t timer_{};                 // waits, stream ticks and the closing grace period
  uv_write_t write_req_{};             // the one write in flight, if any
  uv_shutdown_t shutdown_req_{};       // FIN request of a graceful close
  http_parser parser_{};               // request parser state
  std::string url_;                    // request target being parsed / handled
  std::string_view path_;              // view into url_: the path
  std::string_view query_;             // view into url_: the query string
  std::vector<HeaderField> headers_;   // header slots, reused across requests
  size_t header_count_ = 0;            // slots of headers_ used by the current request
  size_t header_bytes_ = 0;            // bytes of names and values in the current request
  bool last_was_value_ = false;        // parser state: last header callback was a value
  bool keep_alive_ = true;             // current request allows keep-alive
  std::string body_;                   // current request body
  std::string pending_;                // received bytes not parsed yet (while busy)
  std::string out_;                    // response bytes not handed to the kernel yet
  std::string inflight_;               // bytes of the uv_write in flight
  BodyKind stream_ = BodyKind::kNone;  // body stream of the current response
  uint64_t stream_left_ = 0;           // filler bytes the stream still has to send
  uint64_t stream_sent_ = 0;           // filler bytes sent so far (keeps the pattern going)
  uint64_t stream_chunk_ = 0;          // chunk size of kChunked in bytes
  int wait_phase_ = 0;                 // phase passed to the handler when the wait ends
  bool waiting_ = false;               // queued in loop_->waits at wait_it_
  WaitQueue::iterator wait_it_{};      // position in loop_->waits while waiting_
  int open_handles_ = 2;               // tcp_ and timer_ not closed yet
  bool busy_ = false;                  // current request not finished: later ones wait
  bool hanging_ = false;               // current request will never be answered
  bool writing_ = false;               // a uv_write is in flight
  bool reading_ = true;                // uv_read_start is active
  bool eof_ = false;                   // client sent FIN
  bool close_after_flush_ = false;     // close once out_ is written
  bool reset_ = false;                 // close with RST instead of FIN
  bool draining_ = false;              // FIN sent, discarding input until EOF
  bool closing_ = false;               // uv_close called
};

}  // namespace pelt::target
