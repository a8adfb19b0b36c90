#include "target/h2_exchange.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "target/h2_mux.h"
#include "target/peer.h"
#include "target/routes.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr size_t kMaxHeaders = 128;                    // most header fields per request
constexpr size_t kMaxHeaderBytes = 64 * 1024;          // most header name+value bytes per request
constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;     // largest request body kept
constexpr uint64_t kMaxSinkBytes = 256ULL << 20;       // largest request body /sink counts
constexpr uint64_t kEndlessPieceBytes = 1024;          // bytes per tick of the endless body
constexpr uint64_t kEndlessMaxReadyBytes = 64 * 1024;  // the endless body waits past this

// The http_parser method with this name, if any.
std::optional<http_method> method_named(std::string_view name) {
#define PELT_METHOD(num, id, text) \
  if (name == #text) return HTTP_##id;
  HTTP_METHOD_MAP(PELT_METHOD)
#undef PELT_METHOD
  return std::nullopt;
}

// Header names HTTP/2 forbids (RFC 9113 8.2.2); dropped from extra response headers.
bool connection_specific(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") ||
         iequals(name, "transfer-encoding") || iequals(name, "upgrade") ||
         iequals(name, "proxy-connection");
}

nghttp2_nv field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

H2Exchange::H2Exchange(H2Mux& mux, int32_t stream_id)
    : Exchange(mux.peer().loop()), mux_(&mux), stream_id_(stream_id) {}

Peer& H2Exchange::peer() {
  return mux_->peer();
}

// ---------------------------------------------------------------- the request

void H2Exchange::add_field(std::string_view name, std::string_view value) {
  header_bytes_ += name.size() + value.size();
  if (header_bytes_ > kMaxHeaderBytes) bad_ = true;
  if (bad_ || name.empty()) return;
  if (name[0] == ':') {
    if (name == ":method") {
      auto m = method_named(value);
      if (m) method_ = *m;
      bad_ = !m;  // a method HTTP/1.1 would not accept either
    } else if (name == ":path") {
      url_.assign(value);
    }
    return;
  }
  if (header_count_ == kMaxHeaders) {
    bad_ = true;
    return;
  }
  headers_.push_back({std::string(name), std::string(value)});
  header_count_ = headers_.size();
}

void H2Exchange::headers_done() {
  split_target();
  sink_ = path_ == "/sink";
}

void H2Exchange::add_body(const uint8_t* data, size_t len) {
  if (sink_) {
    sunk_bytes_ += len;
    if (sunk_bytes_ > kMaxSinkBytes) bad_ = true;
    return;
  }
  if (bad_) return;
  if (body_.size() + len > kMaxBodyBytes) {
    bad_ = true;
    std::string().swap(body_);
    return;
  }
  body_.append(reinterpret_cast<const char*>(data), len);
}

void H2Exchange::adopt(const Exchange& request) {
  method_ = request.method();
  url_.assign(request.target());
  for (const HeaderField& h : request.headers()) {
    std::string name(h.name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    headers_.push_back({std::move(name), h.value});
  }
  header_count_ = headers_.size();
  body_.assign(request.body());
  sunk_bytes_ = request.sunk_bytes();
  split_target();
}

void H2Exchange::dispatch() {
  if (ignored_) return;
  if (bad_) {
    loop_->counters->bad_requests.fetch_add(1, std::memory_order_relaxed);
    return reply(400, "text/plain", "bad request\n");
  }
  handle_request(*this, kPhaseFresh);
}

// ---------------------------------------------------------------- the response

void H2Exchange::submit(int status, std::string_view content_type, int64_t length,
                        std::string_view extra, bool with_body) {
  std::string status_text = std::to_string(status);
  std::string length_text = length >= 0 ? std::to_string(length) : std::string();
  std::vector<nghttp2_nv> nv;
  nv.push_back(field(":status", status_text));
  if (!content_type.empty()) nv.push_back(field("content-type", content_type));
  if (length >= 0) nv.push_back(field("content-length", length_text));
  while (!extra.empty()) {  // "Name: value\r\n" lines
    size_t end = extra.find("\r\n");
    std::string_view line = extra.substr(0, end);
    extra = end == std::string_view::npos ? std::string_view{} : extra.substr(end + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (!connection_specific(name)) nv.push_back(field(name, value));
  }
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = read_body;
  // nghttp2 copies the fields; an error means the stream is gone, which needs no answer.
  nghttp2_submit_response(mux_->session(), stream_id_, nv.data(), nv.size(),
                          with_body ? &provider : nullptr);
}

void H2Exchange::send(int status, std::string_view content_type, int64_t length,
                      std::string_view body, std::string_view extra, After after) {
  kind_ = BodyKind::kNone;
  body_out_.assign(body);
  body_off_ = 0;
  after_ = after;
  bool with_body = method_ != HTTP_HEAD && (!body.empty() || after != After::kEnd);
  submit(status, content_type, length, extra, with_body);
}

void H2Exchange::reply(int status, std::string_view content_type, std::string_view body,
                       std::string_view extra_headers) {
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  if (no_body) return send(status, {}, -1, {}, extra_headers, After::kEnd);
  send(status, content_type, static_cast<int64_t>(body.size()), body, extra_headers, After::kEnd);
}

void H2Exchange::reply_stream(int status, std::string_view content_type, BodyKind kind,
                              uint64_t bytes, uint64_t interval_ms) {
  bool sized = kind == BodyKind::kFixed || kind == BodyKind::kDrip;
  bool with_body = method_ != HTTP_HEAD;
  kind_ = with_body ? kind : BodyKind::kNone;
  body_out_.clear();
  body_off_ = 0;
  after_ = After::kEnd;
  left_ = bytes;
  sent_ = 0;
  ready_ = 0;
  interval_ns_ = interval_ms * 1'000'000;
  submit(status, content_type, sized ? static_cast<int64_t>(bytes) : -1, {}, with_body);
  if (kind_ == BodyKind::kEndlessChunked || kind_ == BodyKind::kDrip) {
    wait_then(interval_ns_, kPhaseBodyTick);
  }
}

void H2Exchange::interim(int status) {
  std::string status_text = std::to_string(status);
  nghttp2_nv nv = field(":status", status_text);
  nghttp2_submit_headers(mux_->session(), NGHTTP2_FLAG_NONE, stream_id_, nullptr, &nv, 1, nullptr);
}

void H2Exchange::close_after_flush() {
  mux_->goaway_graceful();
}

ssize_t H2Exchange::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* data_flags, nghttp2_data_source* source, void*) {
  return static_cast<H2Exchange*>(source->ptr)->produce_body(buf, length, data_flags);
}

ssize_t H2Exchange::produce_body(uint8_t* buf, size_t length, uint32_t* data_flags) {
  length = std::min(length, kFillerStepBytes);
  size_t n = 0;
  switch (kind_) {
    case BodyKind::kNone:
      n = std::min(length, body_out_.size() - body_off_);
      std::memcpy(buf, body_out_.data() + body_off_, n);
      body_off_ += n;
      if (body_off_ < body_out_.size()) return static_cast<ssize_t>(n);
      if (after_ == After::kEnd) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (n == 0) {
        deferred_ = true;  // the rest of this stream is up to data_frame_sent()
        return NGHTTP2_ERR_DEFERRED;
      }
      return static_cast<ssize_t>(n);
    case BodyKind::kFixed:
    case BodyKind::kChunked:
      n = static_cast<size_t>(std::min<uint64_t>(length, left_));
      left_ -= n;
      break;
    case BodyKind::kEndlessChunked:
    case BodyKind::kDrip:
      n = static_cast<size_t>(std::min<uint64_t>(length, ready_));
      if (n == 0 && (kind_ == BodyKind::kEndlessChunked || left_ > 0)) {
        deferred_ = true;  // tick() resumes it
        return NGHTTP2_ERR_DEFERRED;
      }
      ready_ -= n;
      break;
  }
  std::string_view bytes = filler(sent_, n);
  std::memcpy(buf, bytes.data(), n);
  sent_ += n;
  if (kind_ != BodyKind::kEndlessChunked && left_ == 0 && ready_ == 0) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return static_cast<ssize_t>(n);
}

void H2Exchange::tick() {
  if (kind_ == BodyKind::kEndlessChunked) {
    if (ready_ < kEndlessMaxReadyBytes) ready_ += kEndlessPieceBytes;  // else: a slow reader
    wait_then(interval_ns_, kPhaseBodyTick);
  } else if (kind_ == BodyKind::kDrip && left_ > 0) {
    ++ready_;
    --left_;
    if (left_ > 0) wait_then(interval_ns_, kPhaseBodyTick);
  }
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(mux_->session(), stream_id_);
  }
}

void H2Exchange::data_frame_sent() {
  if (kind_ != BodyKind::kNone || body_off_ < body_out_.size()) return;
  After after = after_;
  after_ = After::kHold;
  if (after == After::kResetStream) {
    nghttp2_submit_rst_stream(mux_->session(), NGHTTP2_FLAG_NONE, stream_id_,
                              NGHTTP2_PROTOCOL_ERROR);
  } else if (after == After::kResetConnection) {
    peer().reset_after_flush();
  } else if (after == After::kEnd) {
    after_ = After::kEnd;
  }
}

void H2Exchange::resume(int phase) {
  Peer& p = peer();
  if (p.ending()) return;
  try {
    if (phase == kPhaseBodyTick) {
      tick();
    } else {
      handle_request(*this, phase);
    }
  } catch (...) {
    return p.close_now();
  }
  p.drive();  // may end this stream: nothing may follow
}

}  // namespace pelt::target
