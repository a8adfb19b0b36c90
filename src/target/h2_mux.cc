#include "target/h2_mux.h"

#include "target/h2_exchange.h"
#include "target/peer.h"

namespace pelt::target {
namespace {

// Headers pelt-target sends may be huge (/fault/huge-headers is about 1 MB).
constexpr size_t kMaxSendHeaderBlockBytes = 4 * 1024 * 1024;
constexpr uint32_t kDefaultWindowBytes = 65535;  // the protocol's initial window

H2Mux* from(void* user) {
  return static_cast<H2Mux*>(user);
}

// Runs a callback body; an exception (only bad_alloc is possible) fails the session.
template <typename F>
int guarded(F&& f) {
  try {
    return f();
  } catch (...) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
}

}  // namespace

H2Mux::H2Mux(Peer& peer) : peer_(&peer) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_option* opt = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  if (nghttp2_option_new(&opt) == 0) {
    nghttp2_option_set_max_send_header_block_length(opt, kMaxSendHeaderBlockBytes);
    if (nghttp2_session_server_new2(&session_, cb, this, opt) != 0) session_ = nullptr;
    nghttp2_option_del(opt);
  }
  nghttp2_session_callbacks_del(cb);
  if (session_ == nullptr) return;

  const ServeOptions& o = *peer.loop().options;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o.h2_max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, o.h2_window_bytes},
  };
  bool ok = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2) == 0;
  if (ok && o.h2_window_bytes != kDefaultWindowBytes) {
    ok = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(o.h2_window_bytes)) == 0;
  }
  if (!ok) {
    nghttp2_session_del(session_);
    session_ = nullptr;
  }
}

H2Mux::~H2Mux() {
  streams_.clear();
  nghttp2_session_del(session_);
}

bool H2Mux::feed(const uint8_t* data, size_t len) {
  return nghttp2_session_mem_recv(session_, data, len) >= 0;
}

bool H2Mux::produce(std::string& out, size_t limit) {
  while (out.size() < limit && !peer_->ending()) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) {
      if (ending_) {
        out.append(tail_);
        peer_->shut_after_flush();
      }
      break;
    }
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return true;
}

void H2Mux::end_with(std::string_view raw) {
  ending_ = true;
  tail_.assign(raw);
}

bool H2Mux::finished() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

bool H2Mux::upgrade(std::string_view settings, Exchange& request) {
  int head = request.method() == HTTP_HEAD ? 1 : 0;
  if (nghttp2_session_upgrade2(session_, reinterpret_cast<const uint8_t*>(settings.data()),
                               settings.size(), head, nullptr) != 0) {
    return false;
  }
  H2Exchange* x = open_stream(1);
  x->adopt(request);
  x->dispatch();
  return true;
}

void H2Mux::goaway_graceful() {
  if (goaway_sent_) return;
  goaway_sent_ = true;
  goaway_last_ = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goaway_last_, NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Mux::drop_streams() {
  streams_.clear();
}

H2Exchange* H2Mux::exchange(int32_t stream_id) {
  return static_cast<H2Exchange*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

H2Exchange* H2Mux::open_stream(int32_t stream_id) {
  auto x = std::make_unique<H2Exchange>(*this, stream_id);
  H2Exchange* raw = x.get();
  streams_[stream_id] = std::move(x);
  nghttp2_session_set_stream_user_data(session_, stream_id, raw);
  // A stream above the GOAWAY's last stream id arrived before the GOAWAY went out: nghttp2
  // drops it when the GOAWAY is sent; it is not served (the client may retry it).
  if (stream_id > goaway_last_) raw->ignore();
  uint64_t limit = peer_->loop().options->h2_max_requests;
  if (++streams_begun_ == limit && !goaway_sent_) {
    // This stream is the last one served; streams the client opens after it are ignored
    // (GOAWAY tells the client they were not processed and may be retried elsewhere).
    goaway_sent_ = true;
    goaway_last_ = stream_id;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR, nullptr, 0);
  }
  return raw;
}

int H2Mux::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return guarded([&] {
    from(user)->open_stream(frame->hd.stream_id);
    return 0;
  });
}

int H2Mux::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                     size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  H2Exchange* x = from(user)->exchange(frame->hd.stream_id);
  if (x == nullptr) return 0;
  return guarded([&] {
    x->add_field({reinterpret_cast<const char*>(name), namelen},
                 {reinterpret_cast<const char*>(value), valuelen});
    return 0;
  });
}

int H2Mux::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  return guarded([&] { return from(user)->frame_recv(frame); });
}

int H2Mux::frame_recv(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  H2Exchange* x = exchange(frame->hd.stream_id);
  if (x == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    x->headers_done();
  }
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) x->dispatch();
  return 0;
}

int H2Mux::on_data_chunk_recv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                              size_t len, void* user) {
  H2Exchange* x = from(user)->exchange(stream_id);
  if (x == nullptr) return 0;
  return guarded([&] {
    x->add_body(data, len);
    return 0;
  });
}

int H2Mux::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_DATA) return 0;
  H2Exchange* x = from(user)->exchange(frame->hd.stream_id);
  if (x != nullptr) x->data_frame_sent();
  return 0;
}

int H2Mux::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
  from(user)->streams_.erase(stream_id);
  return 0;
}

}  // namespace pelt::target
