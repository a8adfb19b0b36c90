// An HTTP/2 server in memory for unit tests: an nghttp2 server session that answers the
// requests an Http2Session sends, with behaviours a test picks (hold the answers, reset
// streams, send GOAWAY after N streams, limit concurrent streams, interim responses). Bytes
// move through strings; nothing touches a socket or a clock.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace pelt::test {

class H2Peer {
 public:
  struct Options {
    uint32_t max_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS
    bool hold = false;           // never answer (until answer_held())
    int goaway_after = 0;        // GOAWAY(goaway_code, last = Nth stream) at the Nth; 0 = never
    uint32_t goaway_code = NGHTTP2_NO_ERROR;  // its error code
    bool rst_every_other = false;             // RST_STREAM(REFUSED_STREAM) on every second stream
    bool interim = false;                     // a 103 before each final response
    std::string body = "ok";                  // the response body
  };

  explicit H2Peer(Options options) : options_(std::move(options)) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame_recv);
    nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
    nghttp2_session_server_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_streams}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
  }
  ~H2Peer() { nghttp2_session_del(session_); }
  H2Peer(const H2Peer&) = delete;
  H2Peer& operator=(const H2Peer&) = delete;

  // Bytes from the client. False when nghttp2 refused them.
  bool feed(const std::string& bytes) {
    return nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                    bytes.size()) >= 0;
  }
  // Everything the server has to send now.
  std::string output() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }
  // Answers the requests held so far.
  void answer_held() {
    std::vector<int32_t> held;
    held.swap(held_);
    for (int32_t id : held) answer(id);
  }

  int requests = 0;                // request streams complete
  int resets = 0;                  // RST_STREAM frames received
  uint32_t last_reset_code = 0;    // the error code of the last one
  std::vector<std::string> paths;  // :path of every request, in order

 private:
  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    auto* self = static_cast<H2Peer*>(user_data);
    if (std::string(reinterpret_cast<const char*>(name), namelen) == ":path") {
      self->paths.emplace_back(reinterpret_cast<const char*>(value), valuelen);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto* self = static_cast<H2Peer*>(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      ++self->resets;
      self->last_reset_code = frame->rst_stream.error_code;
      return 0;
    }
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    const int32_t id = frame->hd.stream_id;
    const int n = ++self->requests;
    if (self->options_.goaway_after > 0 && n == self->options_.goaway_after) {
      nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, id, self->options_.goaway_code, nullptr, 0);
      if (self->options_.goaway_code != NGHTTP2_NO_ERROR) return 0;
    }
    if (self->options_.goaway_after > 0 && n > self->options_.goaway_after) return 0;
    if (self->options_.rst_every_other && n % 2 == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    if (self->options_.hold) {
      self->held_.push_back(id);
      return 0;
    }
    self->answer(id);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* source, void*) {
    auto* body = static_cast<std::string*>(source->ptr);
    const size_t n = std::min(length, body->size());
    std::memcpy(buf, body->data(), n);
    body->erase(0, n);
    if (body->empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  void answer(int32_t id) {
    if (options_.interim) {
      const nghttp2_nv info[] = {make(":status", "103"), make("link", "</a>")};
      nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, info, 2, nullptr);
    }
    bodies_.push_back(options_.body);
    nghttp2_data_provider provider{};
    provider.source.ptr = &bodies_.back();
    provider.read_callback = &read_body;
    const nghttp2_nv nva[] = {make(":status", "200"), make("content-type", "text/plain")};
    nghttp2_submit_response(session_, id, nva, 2, &provider);
  }

  static nghttp2_nv make(const char* name, const char* value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value)), std::strlen(name),
            std::strlen(value), NGHTTP2_NV_FLAG_NONE};
  }

  Options options_;
  nghttp2_session* session_ = nullptr;
  std::vector<int32_t> held_;       // streams waiting for answer_held()
  std::deque<std::string> bodies_;  // response bodies being sent (addresses stay put)
};

}  // namespace pelt::test
