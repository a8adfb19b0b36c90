// The HTTP/1.1 half of Peer: request parsing with http_parser, responses, generated bodies and
// the h2c upgrade. Requests are answered one at a time, in order.
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <iterator>

#include "target/h2_mux.h"
#include "target/peer.h"
#include "target/routes.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr size_t kMaxUrlBytes = 16 * 1024;          // longest request target accepted
constexpr size_t kMaxHeaders = 128;                 // most header lines per request
constexpr size_t kMaxHeaderBytes = 64 * 1024;       // most header name+value bytes per request
constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;  // largest request body kept
constexpr uint64_t kMaxSinkBytes = 256ULL << 20;    // largest request body /sink counts
constexpr size_t kOutHighWater = 256 * 1024;        // stop parsing while this much is unsent
constexpr size_t kShrinkBytes = 256 * 1024;         // a body buffer above this is freed
constexpr size_t kEndlessChunkBytes = 1024;         // chunk size of the endless stream

Peer* from(http_parser* p) {
  return static_cast<Peer*>(p->data);
}

// Runs a parser callback body; an exception (only bad_alloc is possible) becomes a parse error.
template <typename F>
int guarded(F&& f) {
  try {
    return f();
  } catch (...) {
    return -1;
  }
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Decodes base64url without padding (HTTP2-Settings); false when it is not valid.
bool decode_base64url(std::string_view in, std::string& out) {
  std::string std_b64(in);
  for (char& ch : std_b64) {
    if (ch == '-') ch = '+';
    if (ch == '_') ch = '/';
  }
  size_t pad = (4 - std_b64.size() % 4) % 4;
  if (pad == 3) return false;
  std_b64.append(pad, '=');
  out.resize(std_b64.size() / 4 * 3);
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(std_b64.data()),
                          static_cast<int>(std_b64.size()));
  if (n < 0) return false;
  out.resize(static_cast<size_t>(n) - pad);
  return true;
}

}  // namespace

const http_parser_settings Peer::kParserSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &Peer::on_message_begin;
  s.on_url = &Peer::on_url;
  s.on_header_field = &Peer::on_header_field;
  s.on_header_value = &Peer::on_header_value;
  s.on_headers_complete = &Peer::on_headers_complete;
  s.on_body = &Peer::on_body;
  s.on_message_complete = &Peer::on_message_complete;
  return s;
}();

// ---------------------------------------------------------------- responding

void Peer::reply(int status, std::string_view content_type, std::string_view body,
                 std::string_view extra_headers) {
  auto out = std::back_inserter(out_);
  fmt::format_to(out, "HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  if (!no_body) {
    fmt::format_to(out, "Content-Type: {}\r\nContent-Length: {}\r\n", content_type, body.size());
  }
  out_.append(extra_headers);
  if (!keep_alive()) {
    out_.append("Connection: close\r\n");
    close_after_flush_ = true;
  } else if (parser_.http_minor == 0) {
    out_.append("Connection: keep-alive\r\n");
  }
  out_.append("\r\n");
  if (!no_body && method() != HTTP_HEAD) out_.append(body);
}

void Peer::interim(int status) {
  if (parser_.http_major != 1 || parser_.http_minor == 0) return;  // HTTP/1.0 knows no 1xx
  fmt::format_to(std::back_inserter(out_), "HTTP/1.1 {} {}\r\n\r\n", status, reason_phrase(status));
}

void Peer::reply_stream(int status, std::string_view content_type, BodyKind kind, uint64_t bytes,
                        uint64_t interval_ms) {
  auto out = std::back_inserter(out_);
  fmt::format_to(out, "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n", status, reason_phrase(status),
                 content_type);
  bool chunked = kind == BodyKind::kChunked || kind == BodyKind::kEndlessChunked;
  if (chunked) {
    out_.append("Transfer-Encoding: chunked\r\n");
  } else {
    fmt::format_to(out, "Content-Length: {}\r\n", bytes);
  }
  if (!keep_alive()) {
    out_.append("Connection: close\r\n");
    close_after_flush_ = true;
  } else if (parser_.http_minor == 0) {
    out_.append("Connection: keep-alive\r\n");
  }
  out_.append("\r\n");
  if (method() == HTTP_HEAD) return;
  stream_ = kind;
  stream_left_ = bytes;
  stream_sent_ = 0;
  stream_chunk_ = std::clamp<uint64_t>((bytes + 3) / 4, 1, 16 * 1024);
  busy_ = true;
  if (kind == BodyKind::kEndlessChunked || kind == BodyKind::kDrip) {
    uv_timer_start(&timer_, on_stream_timer, interval_ms, interval_ms);
  } else {
    pump();  // the first part goes out with the headers, small bodies entirely
  }
}

void Peer::hang() {
  busy_ = true;
  hanging_ = true;
}

void Peer::resume(int phase) {
  if (closing_ || draining_) return;
  try {
    busy_ = false;
    handle_request(*this, phase);
  } catch (...) {
    return close_now();
  }
  drive();
}

void Peer::pump() {
  auto out = std::back_inserter(out_);
  if (stream_ == BodyKind::kFixed) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(stream_left_, kFillerStepBytes));
    out_.append(filler(stream_sent_, n));
    stream_sent_ += n;
    stream_left_ -= n;
    if (stream_left_ == 0) end_stream();
    return;
  }
  // kChunked
  while (stream_left_ > 0 && out_.size() < kFillerStepBytes) {
    size_t n = static_cast<size_t>(std::min(stream_left_, stream_chunk_));
    fmt::format_to(out, "{:x}\r\n", n);
    out_.append(filler(stream_sent_, n));
    out_.append("\r\n");
    stream_sent_ += n;
    stream_left_ -= n;
  }
  if (stream_left_ == 0) {
    out_.append("0\r\n\r\n");
    end_stream();
  }
}

void Peer::on_stream_timer(uv_timer_t* timer) {
  auto* c = static_cast<Peer*>(timer->data);
  try {
    c->stream_tick();
  } catch (...) {
    return c->close_now();
  }
  c->drive();
}

void Peer::stream_tick() {
  if (closing_) return;
  if (stream_ == BodyKind::kEndlessChunked) {
    if (writing_ || out_.size() >= kOutHighWater) return;  // the client is not keeping up
    fmt::format_to(std::back_inserter(out_), "{:x}\r\n", kEndlessChunkBytes);
    out_.append(filler(stream_sent_, kEndlessChunkBytes));
    out_.append("\r\n");
    stream_sent_ += kEndlessChunkBytes;
  } else if (stream_ == BodyKind::kDrip) {
    out_.append(filler(stream_sent_, 1));
    ++stream_sent_;
    if (--stream_left_ == 0) end_stream();
  }
}

void Peer::end_stream() {
  if (stream_ == BodyKind::kEndlessChunked || stream_ == BodyKind::kDrip) uv_timer_stop(&timer_);
  stream_ = BodyKind::kNone;
  busy_ = false;
}

// ---------------------------------------------------------------- parsing

bool Peer::can_parse() const {
  return !busy_ && !close_after_flush_ && !closing_ && out_.size() < kOutHighWater;
}

size_t Peer::feed(const char* data, size_t len) {
  size_t off = 0;
  while (off < len && can_parse()) {
    size_t n = http_parser_execute(&parser_, &kParserSettings, data + off, len - off);
    off += n;
    http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) {
      http_parser_pause(&parser_, 0);
      continue;
    }
    if (err != HPE_OK) {
      bad_request();
      return len;
    }
    if (wire_ == Wire::kH2) {  // upgraded to h2c: what follows the request is HTTP/2
      feed_h2(data + off, len - off);
      return len;
    }
    if (n == 0) break;
  }
  return (close_after_flush_ || closing_) ? len : off;
}

void Peer::bad_request() {
  loop_->counters->bad_requests.fetch_add(1, std::memory_order_relaxed);
  out_.append(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
      "Connection: close\r\n\r\nbad request\n");
  close_after_flush_ = true;
}

int Peer::on_message_begin(http_parser* p) {
  Peer* c = from(p);
  c->url_.clear();
  c->header_count_ = 0;
  c->header_bytes_ = 0;
  c->last_was_value_ = false;
  c->sink_ = -1;
  c->sunk_bytes_ = 0;
  c->body_.clear();
  if (c->body_.capacity() > kShrinkBytes) std::string().swap(c->body_);
  return 0;
}

int Peer::on_url(http_parser* p, const char* at, size_t len) {
  Peer* c = from(p);
  if (c->url_.size() + len > kMaxUrlBytes) return -1;
  return guarded([&] {
    c->url_.append(at, len);
    return 0;
  });
}

int Peer::on_header_field(http_parser* p, const char* at, size_t len) {
  Peer* c = from(p);
  c->header_bytes_ += len;
  if (c->header_bytes_ > kMaxHeaderBytes) return -1;
  return guarded([&] {
    if (c->header_count_ == 0 || c->last_was_value_) {
      if (c->header_count_ == kMaxHeaders) return -1;
      if (c->headers_.size() == c->header_count_) c->headers_.emplace_back();
      HeaderField& h = c->headers_[c->header_count_++];
      h.name.assign(at, len);
      h.value.clear();
      c->last_was_value_ = false;
    } else {
      c->headers_[c->header_count_ - 1].name.append(at, len);
    }
    return 0;
  });
}

int Peer::on_header_value(http_parser* p, const char* at, size_t len) {
  Peer* c = from(p);
  c->header_bytes_ += len;
  if (c->header_bytes_ > kMaxHeaderBytes || c->header_count_ == 0) return -1;
  c->last_was_value_ = true;
  return guarded([&] {
    c->headers_[c->header_count_ - 1].value.append(at, len);
    return 0;
  });
}

// Answers "Expect: 100-continue" at once, so a client holding back a large body sends it.
int Peer::on_headers_complete(http_parser* p) {
  bool has_body =
      (p->flags & F_CHUNKED) != 0 || (p->content_length > 0 && p->content_length != ULLONG_MAX);
  if (!has_body || p->http_major != 1 || p->http_minor == 0) return 0;
  Peer* c = from(p);
  return guarded([&] {
    auto expect = c->header("Expect");
    if (expect && iequals(*expect, "100-continue")) c->out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
  });
}

int Peer::on_body(http_parser* p, const char* at, size_t len) {
  Peer* c = from(p);
  if (c->sink_ < 0) {
    c->split_target();
    c->sink_ = c->path_ == "/sink" ? 1 : 0;
  }
  if (c->sink_ == 1) {
    c->sunk_bytes_ += len;
    return c->sunk_bytes_ > kMaxSinkBytes ? -1 : 0;
  }
  if (c->body_.size() + len > kMaxBodyBytes) return -1;
  return guarded([&] {
    c->body_.append(at, len);
    return 0;
  });
}

int Peer::on_message_complete(http_parser* p) {
  return guarded([&] { return from(p)->message_complete(); });
}

int Peer::message_complete() {
  keep_alive_ = http_should_keep_alive(&parser_) != 0;
  method_ = static_cast<http_method>(parser_.method);
  split_target();
  if (parser_.upgrade && upgrade_to_h2c()) return 0;
  // Any other upgrade: the rest is another protocol, which pelt-target does not speak.
  if (parser_.upgrade) close_after_flush_ = true;
  handle_request(*this, kPhaseFresh);
  if (!can_parse()) http_parser_pause(&parser_, 1);
  return 0;
}

// An "Upgrade: h2c" request on a plain connection: 101, then HTTP/2 with this request as
// stream 1. False when the request does not ask for h2c properly (it is answered as HTTP/1.1).
bool Peer::upgrade_to_h2c() {
  if (tls_ || parser_.http_minor == 0) return false;
  auto upgrade = header("Upgrade");
  auto settings = header("HTTP2-Settings");
  std::string payload;
  if (!upgrade || !has_token(*upgrade, "h2c") || !settings ||
      !decode_base64url(*settings, payload)) {
    return false;
  }
  out_.append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
  if (!start_h2() || !h2_->upgrade(payload, *this)) {
    close_after_flush_ = true;
    return true;
  }
  return true;
}

}  // namespace pelt::target
