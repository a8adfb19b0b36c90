#include "wire/http2_session.h"

#include <algorithm>
#include <cstring>

#include "results/recorder.h"
#include "wire/h2_memory.h"

namespace pelt {
namespace {

// Our receive windows: as large as HTTP/2 allows, so responses never wait for a
// WINDOW_UPDATE and few are sent (pelt reads everything at once).
constexpr int32_t kStreamWindowBytes = (1 << 30) - 1;
constexpr int32_t kConnectionWindowBytes = (1 << 30) - 1;
// Largest DATA frame payload before SETTINGS_MAX_FRAME_SIZE is raised (RFC 9113 §4.2).
constexpr size_t kDefaultFrameBytes = 16384;

// "PROTOCOL_ERROR", or the code in hex when HTTP/2 does not name it.
std::string code_name(uint32_t code) {
  if (code <= NGHTTP2_HTTP_1_1_REQUIRED) return nghttp2_http2_strerror(code);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", code);
  return buf;
}

nghttp2_nv make_nv(std::string_view name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

}  // namespace

struct Http2Session::Stream {
  uint32_t slot = 0;          // the user that sent it
  int32_t id = 0;             // HTTP/2 stream id
  H2BatchRef batch;           // its request: batch->requests[index]
  size_t index = 0;           // which request of the batch
  size_t body_sent = 0;       // request body bytes handed to nghttp2
  size_t open_index = 0;      // position in open_
  ParsedResponse response;    // status, body size (and headers, body when captured)
  uint32_t rst_code = 0;      // error code of an RST_STREAM from the server
  uint8_t retries = 0;        // times the request was sent again after a GOAWAY
  bool first_byte = false;    // the response's first HEADERS began
  bool done = false;          // answered, failed or given up: not outstanding
  bool rst_received = false;  // the server reset the stream
};

Http2Session::Http2Session(SessionEvents& events, Recorder& recorder,
                           const ProtocolSettings& protocol)
    : events_(events), recorder_(recorder), protocol_(protocol) {
  nghttp2_session_callbacks_new(&callbacks_);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks_, &on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks_, &on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks_, &on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks_, &on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks_, &on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks_, &on_frame_send);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks_, &on_begin_frame);
  nghttp2_session_callbacks_set_error_callback2(callbacks_, &on_error);
}

Http2Session::~Http2Session() {
  drop_session();
  nghttp2_session_callbacks_del(callbacks_);
}

// --- the connection ---

bool Http2Session::start() {
  drop_session();
  settings_seen_ = goaway_ = goaway_error_ = ids_exhausted_ = broken_ = false;
  error_.clear();
  nghttp2_error_message_.clear();
  nghttp2_mem* mem = protocol_.memory != nullptr ? protocol_.memory->mem() : nullptr;
  if (nghttp2_session_client_new3(&session_, callbacks_, this, nullptr, mem) != 0) {
    error_ = "http2: cannot create a session";
    return false;
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindowBytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindowBytes);
  return flush();
}

bool Http2Session::accepting() const {
  return session_ != nullptr && settings_seen_ && !goaway_ && !ids_exhausted_;
}

bool Http2Session::wants_close() const {
  return session_ != nullptr && (goaway_ || ids_exhausted_) && !goaway_error_ && live_ == 0;
}

void Http2Session::reset() {
  drop_session();
  retry_.clear();
  std::fill(per_slot_.begin(), per_slot_.end(), 0);
  outstanding_ = 0;
  settings_seen_ = goaway_ = goaway_error_ = ids_exhausted_ = broken_ = false;
}

void Http2Session::drop_session() {
  for (Stream* s : open_) {
    if (!s->done) {
      // Only a stream start() finds still open (never expected): forget it without a trace.
      --per_slot_[s->slot];
      --outstanding_;
    }
    s->batch.reset();
    free_.push_back(s);
  }
  open_.clear();
  live_ = 0;
  if (session_ != nullptr) nghttp2_session_del(session_);
  session_ = nullptr;
}

bool Http2Session::feed(const char* data, size_t len) {
  if (session_ == nullptr) return true;
  recorder_.http2().bytes_received += len;
  const ssize_t rv =
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), len);
  if (rv < 0) {
    failure_reason_ = "http2 protocol error";
    error_ = std::string("http2: ") + nghttp2_strerror(static_cast<int>(rv));
    return false;
  }
  // A GOAWAY with an error code ends the connection: failure_reason_ and error_ were set.
  return !goaway_error_;
}

bool Http2Session::finish() {
  if (live_ == 0) return true;
  error_ = "the server closed the connection with " + std::to_string(live_) +
           (live_ == 1 ? " stream" : " streams") + " open";
  return false;
}

bool Http2Session::flush() {
  if (session_ == nullptr) return true;
  out_.clear();
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failure_reason_ = "http2 error";
      error_ = std::string("http2: ") + nghttp2_strerror(static_cast<int>(n));
      return false;
    }
    if (n == 0) break;
    if (out_.empty() && nghttp2_session_want_write(session_) == 0) {
      // All there is, in nghttp2's buffer: write it from there.
      recorder_.http2().bytes_sent += static_cast<uint64_t>(n);
      recorder_.record_bytes_written(static_cast<uint64_t>(n), events_.now_ns());
      return events_.write(nullptr, std::string_view(reinterpret_cast<const char*>(data),
                                                      static_cast<size_t>(n)));
    }
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (out_.empty()) return true;
  recorder_.http2().bytes_sent += out_.size();
  recorder_.record_bytes_written(out_.size(), events_.now_ns());
  return events_.write(nullptr, out_);
}

// --- requests ---

int Http2Session::prepare(const RequestBatch& request_batch) {
  const std::string_view requests = request_batch.bytes;
  if (prepared_ && prepared_->raw == requests) return static_cast<int>(prepared_->requests.size());
  auto batch = std::make_unique<H2Batch>();
  if (!http1_to_h2(requests, protocol_.scheme, protocol_.authority, batch->requests, error_)) {
    return -1;
  }
  batch->raw.assign(requests);
  for (const H2Request& r : batch->requests) {
    std::vector<nghttp2_nv> nva;
    nva.reserve(4 + r.headers.size());
    nva.push_back(make_nv(":method", r.method));
    nva.push_back(make_nv(":scheme", r.scheme));
    nva.push_back(make_nv(":authority", r.authority));
    nva.push_back(make_nv(":path", r.path));
    for (const auto& [name, value] : r.headers) nva.push_back(make_nv(name, value));
    uint64_t bytes = 0;
    for (const nghttp2_nv& nv : nva) bytes += nv.namelen + nv.valuelen;
    batch->nva.push_back(std::move(nva));
    batch->field_bytes.push_back(bytes);
  }
  prepared_ = H2BatchRef(batch.release());
  return static_cast<int>(prepared_->requests.size());
}

bool Http2Session::submit(uint32_t slot) {
  const size_t n = prepared_->requests.size();
  per_slot_[slot] += static_cast<uint32_t>(n);
  outstanding_ += n;
  for (size_t i = 0; i < n; ++i) open_stream(slot, prepared_, i, 0);
  return true;
}

void Http2Session::open_stream(uint32_t slot, const H2BatchRef& batch, size_t index,
                               uint8_t retries) {
  Http2Stats& stats = recorder_.http2();
  const uint32_t limit =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  if (live_ >= limit) ++stats.queued;
  Stream* s = take_stream();
  s->slot = slot;
  s->batch = batch;
  s->index = index;
  s->retries = retries;
  const H2Request& r = batch->requests[index];
  const std::vector<nghttp2_nv>& nva = batch->nva[index];
  nghttp2_data_provider body{};
  body.source.ptr = s;
  body.read_callback = &read_body;
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                            r.body.empty() ? nullptr : &body, s);
  if (id < 0) {
    // Stream ids ran out on this connection (2^30 requests): the request waits for the
    // next one, which this connection asks for as soon as its streams are done.
    s->batch.reset();
    free_.push_back(s);
    ids_exhausted_ = true;
    retry_.push_back({slot, batch, index, retries});
    return;
  }
  s->id = id;
  s->open_index = open_.size();
  open_.push_back(s);
  ++live_;
  ++stats.streams;
  stats.header_fields_sent += batch->field_bytes[index];
}

Http2Session::Stream* Http2Session::take_stream() {
  Stream* s;
  if (free_.empty()) {
    pool_.push_back(std::make_unique<Stream>());
    s = pool_.back().get();
  } else {
    s = free_.back();
    free_.pop_back();
  }
  s->body_sent = 0;
  s->rst_code = 0;
  s->first_byte = s->done = s->rst_received = false;
  ParsedResponse& r = s->response;
  r.status = 0;
  r.keep_alive = true;
  r.body_bytes = 0;
  r.header_bytes = 0;
  r.headers.clear();
  r.body.clear();
  return s;
}

void Http2Session::release(Stream* s) {
  Stream* last = open_.back();
  open_[s->open_index] = last;
  last->open_index = s->open_index;
  open_.pop_back();
  s->batch.reset();
  free_.push_back(s);
}

bool Http2Session::cancel(uint32_t slot) {
  for (Stream* s : open_) {
    if (s->slot != slot || s->done) continue;
    s->done = true;
    --live_;
    --per_slot_[slot];
    --outstanding_;
    // A stream whose HEADERS are still queued is dropped by nghttp2 without a frame.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
  }
  for (size_t i = 0; i < retry_.size();) {
    if (retry_[i].slot != slot) {
      ++i;
      continue;
    }
    --per_slot_[slot];
    --outstanding_;
    retry_[i] = std::move(retry_.back());
    retry_.pop_back();
  }
  return true;
}

void Http2Session::settings_received() {
  settings_seen_ = true;
  Http2Stats& stats = recorder_.http2();
  ++stats.connections;
  const uint64_t limit =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  stats.peer_max_concurrent_streams = std::min(stats.peer_max_concurrent_streams, limit);
  // What a GOAWAY left unprocessed on the previous connection goes out first, the requests
  // refused most often (the oldest) ahead, so each waits as few connections as possible.
  std::vector<Retry> retries;
  retries.swap(retry_);
  std::stable_sort(retries.begin(), retries.end(),
                   [](const Retry& a, const Retry& b) { return a.retries > b.retries; });
  for (Retry& r : retries) {
    ++stats.retried;
    open_stream(r.slot, r.batch, r.index, static_cast<uint8_t>(r.retries + 1));
  }
}

void Http2Session::complete(Stream& s) {
  s.done = true;
  --live_;
  --per_slot_[s.slot];
  --outstanding_;
  events_.on_response(s.slot, s.response);
}

void Http2Session::fail_stream(Stream& s, const std::string& reason, const std::string& detail) {
  s.done = true;
  --live_;
  --per_slot_[s.slot];
  --outstanding_;
  events_.on_request_failed(s.slot, ErrorKind::kRead, reason, detail);
}

// --- nghttp2 callbacks ---

int Http2Session::on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
  if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION) {
    static_cast<Http2Session*>(user_data)->recorder_.http2().header_bytes_received += hd->length;
  }
  return 0;
}

int Http2Session::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                                   void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* self = static_cast<Http2Session*>(user_data);
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (s == nullptr || s->done || s->first_byte) return 0;
  s->first_byte = true;
  self->events_.on_first_byte(s->slot);
  return 0;
}

int Http2Session::on_header(nghttp2_session* session, const nghttp2_frame* frame,
                            const uint8_t* name, size_t namelen, const uint8_t* value,
                            size_t valuelen, uint8_t, void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  self->recorder_.http2().header_fields_received += namelen + valuelen;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (s == nullptr || s->done) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    // nghttp2 has checked it is three digits.
    s->response.status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return 0;
  }
  if (self->capture_ && !n.empty() && n[0] != ':') s->response.headers.emplace_back(n, v);
  return 0;
}

int Http2Session::on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame,
                                void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0 && !self->settings_seen_) {
        self->settings_received();
      }
      return 0;
    case NGHTTP2_GOAWAY: {
      ++self->recorder_.http2().goaways;
      self->goaway_ = true;
      const uint32_t code = frame->goaway.error_code;
      if (code != NGHTTP2_NO_ERROR) {
        self->goaway_error_ = true;
        self->failure_reason_ = "goaway " + code_name(code);
        self->error_ = "http2: the server sent GOAWAY(" + code_name(code) + ", last_stream_id " +
                       std::to_string(frame->goaway.last_stream_id) + ")";
        if (frame->goaway.opaque_data_len > 0) {
          self->error_ += ": ";
          self->error_.append(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                              std::min<size_t>(frame->goaway.opaque_data_len, 200));
        }
      }
      return 0;
    }
    case NGHTTP2_RST_STREAM: {
      ++self->recorder_.http2().resets_received;
      auto* s =
          static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
      if (s != nullptr) {
        s->rst_received = true;
        s->rst_code = frame->rst_stream.error_code;
      }
      return 0;
    }
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
      break;
    default:
      return 0;
  }
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (s == nullptr || s->done) return 0;
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
    self->complete(*s);
  } else if (frame->hd.type == NGHTTP2_HEADERS && s->response.status >= 100 &&
             s->response.status < 200) {
    // An informational response: the final one follows.
    s->response.status = 0;
    s->response.headers.clear();
  }
  return 0;
}

int Http2Session::on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                                const uint8_t* data, size_t len, void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s == nullptr || s->done) return 0;
  s->response.body_bytes += len;
  if (self->capture_) {
    if (s->response.body.size() + len > kMaxCapturedBodyBytes) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      self->fail_stream(*s, "response too large", "read: response too large: body over 8 MiB");
      return 0;
    }
    s->response.body.append(reinterpret_cast<const char*>(data), len);
  }
  return 0;
}

int Http2Session::on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                                  void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s == nullptr) return 0;
  if (!s->done) {
    const std::string id = std::to_string(stream_id);
    if (s->rst_received) {
      const std::string code = code_name(s->rst_code);
      self->fail_stream(*s, "stream reset " + code,
                        "http2: the server reset stream " + id + " with " + code);
    } else if (error_code == NGHTTP2_REFUSED_STREAM && s->retries < kMaxRetries) {
      // Never processed (above a GOAWAY's last_stream_id, or never sent): it goes out again on
      // the next connection, outstanding meanwhile. (After a GOAWAY with an error the
      // connection fails and takes it along.)
      s->done = true;
      --self->live_;
      self->retry_.push_back({s->slot, s->batch, s->index, s->retries});
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
      self->fail_stream(*s, "goaway: not processed",
                        "http2: stream " + id + " was left unprocessed by " +
                            std::to_string(kMaxRetries + 1) + " GOAWAYs in a row");
    } else {
      const std::string code = code_name(error_code);
      std::string detail = "http2: stream " + id + " closed with " + code;
      if (!self->nghttp2_error_message_.empty()) detail += ": " + self->nghttp2_error_message_;
      self->fail_stream(*s, "stream error " + code, detail);
    }
  }
  self->release(s);
  return 0;
}

int Http2Session::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      self->recorder_.http2().header_bytes_sent += frame->hd.length;
      break;
    case NGHTTP2_RST_STREAM:
      ++self->recorder_.http2().resets_sent;
      break;
    case NGHTTP2_GOAWAY: {
      // pelt sends GOAWAY only when nghttp2 ends the connection for a protocol error.
      const std::string code = code_name(frame->goaway.error_code);
      self->broken_ = true;
      self->failure_reason_ = "http2 protocol error";
      self->error_ = "http2: pelt ended the connection with GOAWAY(" + code + ")";
      if (!self->nghttp2_error_message_.empty())
        self->error_ += ": " + self->nghttp2_error_message_;
      break;
    }
    default:
      break;
  }
  return 0;
}

int Http2Session::on_error(nghttp2_session*, int, const char* msg, size_t len, void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  self->nghttp2_error_message_.assign(msg, std::min<size_t>(len, 200));
  return 0;
}

ssize_t Http2Session::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* data_flags, nghttp2_data_source* source,
                                void* user_data) {
  auto* self = static_cast<Http2Session*>(user_data);
  auto* s = static_cast<Stream*>(source->ptr);
  const std::string& body = s->batch->requests[s->index].body;
  const size_t left = body.size() - s->body_sent;
  const size_t n = std::min(left, length);
  // A frame shorter than a full one while more is left: the server's window cut it.
  if (n < left && length < kDefaultFrameBytes) ++self->recorder_.http2().flow_control_stalls;
  std::memcpy(buf, body.data() + s->body_sent, n);
  s->body_sent += n;
  if (s->body_sent == body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace pelt
