// One accepted client connection of pelt-target. The peer owns the socket and, with --tls, the
// connection's TLS state; it decides what the connection speaks (HTTP/1.1, or HTTP/2 by ALPN,
// prior knowledge or an h2c upgrade) and moves bytes between the socket and the protocol.
//
// For HTTP/1.1 the peer is itself the exchange: requests are parsed with http_parser and
// answered strictly one at a time and in order (pipelining included). For HTTP/2 it hands the
// plaintext to an H2Mux, whose streams are exchanges of their own.
#pragma once

#include <http_parser.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "target/exchange.h"
#include "target/serve_loop.h"

namespace pelt::target {

class H2Mux;
class TlsLink;

class Peer final : public Exchange {
 public:
  // Listener callback: accepts one client on the serve loop whose ServeLoop* is in server->data.
  static void on_new_connection(uv_stream_t* server, int status);

  // --- Exchange, HTTP/1.1 side (the current request of this connection) ---
  Protocol protocol() const override { return Protocol::kHttp1; }
  Peer& peer() override { return *this; }
  // Adds Connection: close / keep-alive as the connection requires.
  void reply(int status, std::string_view content_type, std::string_view body,
             std::string_view extra_headers = {}) override;
  void reply_stream(int status, std::string_view content_type, BodyKind kind, uint64_t bytes,
                    uint64_t interval_ms = 0) override;
  void interim(int status) override;
  void hang() override;
  void close_after_flush() override { close_after_flush_ = true; }
  bool misbehave(std::string_view fault) override;  // in peer_faults.cc
  bool keep_alive() const { return keep_alive_ && !close_after_flush_; }

  // --- The connection, whatever protocol it speaks ---
  bool over_tls() const { return tls_ != nullptr; }
  // Appends raw bytes to the output as they are (encrypted over TLS): fault misbehaviour.
  void write_raw(std::string_view bytes) { out_.append(bytes); }
  // The plaintext output buffer (HTTP/2 frames are appended here).
  std::string& output() { return out_; }
  // After everything queued is written: close_notify (TLS), FIN, drain input, close. Any
  // response being produced is cut there.
  void shut_after_flush() { close_after_flush_ = true; }
  // After everything queued is written (plus a short pause): close with RST (SO_LINGER 0).
  void reset_after_flush();
  // True once the connection is on its way out (no more output will be produced).
  bool ending() const { return close_after_flush_ || draining_ || closing_; }
  // Closes at once, writing nothing more.
  void close_now();
  // Parses what waits, produces and writes output, closes when due. Never throws.
  void drive() noexcept;

 protected:
  void hold() override { busy_ = true; }
  void resume(int phase) override;

 private:
  // What the connection speaks.
  enum class Wire : uint8_t {
    kSniff,  // undecided: HTTP/1.1 unless the HTTP/2 client preface arrives
    kHttp1,  // HTTP/1.x
    kH2,     // HTTP/2 (h2 by ALPN, h2c by prior knowledge or upgrade)
  };

  explicit Peer(ServeLoop& loop);
  ~Peer() override;

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
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  static const http_parser_settings kParserSettings;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  void start(bool tls);
  void handle_read(ssize_t nread, const uv_buf_t* buf);
  void take_cipher(const char* data, size_t len);
  void take(const char* data, size_t len);
  bool sniff(const char* data, size_t len);
  void choose_after_handshake();
  bool start_h2();
  void feed_h2(const char* data, size_t len);
  void client_done();
  void client_closed_tls();
  bool has_output() const { return !out_.empty() || !tls_out_.empty(); }
  bool can_parse() const;
  size_t feed(const char* data, size_t len);
  void drive_rounds();
  bool write_out(bool allow_sync);
  void pump();
  void stream_tick();
  void end_stream();
  void finish_close();
  void bad_request();
  bool upgrade_to_h2c();
  int message_complete();

  std::unique_ptr<TlsLink> tls_;       // TLS state, null on a plain connection
  std::unique_ptr<H2Mux> h2_;          // HTTP/2 session, null unless wire_ is kH2
  uv_tcp_t tcp_{};                     // the client socket
  uv_timer_t timer_{};                 // stream ticks and the closing grace period
  uv_write_t write_req_{};             // the one write in flight, if any
  uv_shutdown_t shutdown_req_{};       // FIN request of a graceful close
  http_parser parser_{};               // HTTP/1.1 request parser state
  size_t header_bytes_ = 0;            // bytes of names and values in the current request
  bool last_was_value_ = false;        // parser state: last header callback was a value
  bool keep_alive_ = true;             // current request allows keep-alive
  int8_t sink_ = -1;                   // current body is counted, not kept (/sink): -1 undecided
  Wire wire_ = Wire::kSniff;           // what the connection speaks
  std::string pending_;                // received plaintext not parsed yet (while busy/sniffing)
  std::string out_;                    // plaintext response bytes not handed on yet
  std::string tls_out_;                // ciphertext not handed to the kernel yet
  std::string inflight_;               // bytes of the uv_write in flight
  BodyKind stream_ = BodyKind::kNone;  // body stream of the current response
  uint64_t stream_left_ = 0;           // filler bytes the stream still has to send
  uint64_t stream_sent_ = 0;           // filler bytes sent so far (keeps the pattern going)
  uint64_t stream_chunk_ = 0;          // chunk size of kChunked in bytes
  int open_handles_ = 2;               // tcp_ and timer_ not closed yet
  bool busy_ = false;                  // current request not finished: later ones wait
  bool hanging_ = false;               // current request will never be answered
  bool renegotiating_ = false;         // the response waits for a TLS renegotiation
  bool handshake_seen_ = false;        // the TLS handshake finished and the protocol was chosen
  bool writing_ = false;               // a uv_write is in flight
  bool reading_ = true;                // uv_read_start is active
  bool eof_ = false;                   // client sent FIN (or close_notify): no more requests
  bool close_after_flush_ = false;     // close once the output is written
  bool reset_ = false;                 // close with RST instead of FIN
  bool draining_ = false;              // FIN sent, discarding input until EOF
  bool closing_ = false;               // uv_close called
};

}  // namespace pelt::target
