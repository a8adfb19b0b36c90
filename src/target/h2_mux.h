// One HTTP/2 connection's server session (nghttp2): takes the plaintext the Peer received,
// turns request streams into H2Exchanges and produces the frames the Peer writes. nghttp2 does
// all framing, HPACK and flow control; this class only wires its callbacks.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pelt::target {

class Exchange;
class H2Exchange;
class Peer;

class H2Mux {
 public:
  // A server session with pelt-target's SETTINGS queued (sent by the first produce()).
  explicit H2Mux(Peer& peer);
  ~H2Mux();
  H2Mux(const H2Mux&) = delete;
  H2Mux& operator=(const H2Mux&) = delete;

  bool valid() const { return session_ != nullptr; }
  Peer& peer() { return *peer_; }
  nghttp2_session* session() { return session_; }

  // Hands received plaintext to nghttp2. False on a fatal error (the connection must end).
  bool feed(const uint8_t* data, size_t len);
  // Appends frames to `out` until it holds `limit` bytes or nothing is left to send. False on
  // a fatal error.
  bool produce(std::string& out, size_t limit);
  // True when the session is over: GOAWAY sent or received and no stream left, or terminated.
  bool finished() const;
  // h2c: makes `request` (an HTTP/1.1 Upgrade request) stream 1 and answers it. `settings` is
  // the decoded HTTP2-Settings payload. False when nghttp2 rejects the settings.
  bool upgrade(std::string_view settings, Exchange& request);
  // Graceful end: GOAWAY(NO_ERROR) naming the last stream processed; the connection closes
  // when the open streams are done. Only the first call sends anything.
  void goaway_graceful();
  // Ends the connection once the frames queued so far are produced: `raw` bytes (may be empty)
  // follow them, then close_notify (TLS) and FIN.
  void end_with(std::string_view raw);
  // Ends every exchange at once (the connection is closing; nghttp2 is not called again).
  void drop_streams();

 private:
  static int on_begin_headers(nghttp2_session* s, const nghttp2_frame* frame, void* user);
  static int on_header(nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user);
  static int on_frame_recv(nghttp2_session* s, const nghttp2_frame* frame, void* user);
  static int on_data_chunk_recv(nghttp2_session* s, uint8_t flags, int32_t stream_id,
                                const uint8_t* data, size_t len, void* user);
  static int on_frame_send(nghttp2_session* s, const nghttp2_frame* frame, void* user);
  static int on_stream_close(nghttp2_session* s, int32_t stream_id, uint32_t error_code,
                             void* user);

  H2Exchange* exchange(int32_t stream_id);
  H2Exchange* open_stream(int32_t stream_id);
  int begin_headers(const nghttp2_frame* frame);
  int frame_recv(const nghttp2_frame* frame);

  Peer* peer_;                          // the connection this session runs on
  nghttp2_session* session_ = nullptr;  // nghttp2 server session
  std::unordered_map<int32_t, std::unique_ptr<H2Exchange>> streams_;  // open request streams
  uint64_t streams_begun_ = 0;  // request streams opened on this connection
  bool goaway_sent_ = false;    // a graceful GOAWAY was submitted
  int32_t goaway_last_ =
      std::numeric_limits<int32_t>::max();  // last stream id that GOAWAY named (later: ignored)
  bool ending_ = false;                     // end_with() was called
  std::string tail_;                        // raw bytes end_with() sends after the frames
};

}  // namespace pelt::target
