#include "target/peer.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <new>

#include "target/routes.h"
#include "target/serve_loop.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr size_t kMaxUrlBytes = 16 * 1024;          // longest request target accepted
constexpr size_t kMaxHeaders = 128;                 // most header lines per request
constexpr size_t kMaxHeaderBytes = 64 * 1024;       // most header name+value bytes per request
constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;  // largest request body accepted
constexpr size_t kOutHighWater = 256 * 1024;        // stop parsing while this much is unsent
constexpr size_t kMaxPendingBytes = 1024 * 1024;    // stop reading past this much unparsed input
constexpr size_t kShrinkBytes = 256 * 1024;         // buffers above this are freed when idle
constexpr size_t kStreamStepBytes = 64 * 1024;      // body bytes generated per pump
constexpr size_t kEndlessChunkBytes = 1024;         // chunk size of the endless stream
constexpr int kSyncRounds = 16;                     // drive() rounds that may write synchronously
constexpr uint64_t kDrainTimeoutMs = 2000;          // wait for the client's FIN after ours
constexpr uint64_t kResetDelayMs = 50;              // pause before an RST so data goes out first

// Filler for generated bodies: 'a'..'z' repeating, long enough for any offset + one step.
struct Filler {
  char bytes[kStreamStepBytes + 26];  // the pattern
  Filler() {
    for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<char>('a' + i % 26);
  }
};
const Filler kFiller;

std::string_view filler(uint64_t offset, size_t n) {
  return {kFiller.bytes + offset % 26, n};
}

std::string_view reason_phrase(int status) {
  const char* s = http_status_str(static_cast<http_status>(status));
  return s[0] == '<' ? std::string_view("Status") : std::string_view(s);
}

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

}  // namespace

const http_parser_settings Peer::kParserSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &Peer::on_message_begin;
  s.on_url = &Peer::on_url;
  s.on_header_field = &Peer::on_header_field;
  s.on_header_value = &Peer::on_header_value;
  s.on_body = &Peer::on_body;
  s.on_message_complete = &Peer::on_message_complete;
  return s;
}();

Peer::Peer(ServeLoop& loop) : loop_(&loop) {
  uv_tcp_init(&loop.uv, &tcp_);
  uv_timer_init(&loop.uv, &timer_);
  tcp_.data = this;
  timer_.data = this;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

void Peer::on_new_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* w = static_cast<ServeLoop*>(server->data);
  auto* c = new (std::nothrow) Peer(*w);
  if (c == nullptr) return;
  w->counters->connections_open.fetch_add(1, std::memory_order_relaxed);
  w->counters->connections_total.fetch_add(1, std::memory_order_relaxed);
  if (uv_accept(server, c->stream()) != 0) {
    c->close_now();
    return;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  if (uv_read_start(c->stream(), on_alloc, on_read) != 0) c->close_now();
}

std::optional<std::string_view> Peer::header(std::string_view name) const {
  for (size_t i = 0; i < header_count_; ++i) {
    if (iequals(headers_[i].name, name)) return std::string_view(headers_[i].value);
  }
  return std::nullopt;
}

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

void Peer::write_raw(std::string_view bytes) {
  out_.append(bytes);
}

void Peer::close_after_flush() {
  close_after_flush_ = true;
}

void Peer::reset_after_flush() {
  reset_ = true;
  close_after_flush_ = true;
}

void Peer::wait_then(uint64_t ns, int phase) {
  busy_ = true;
  wait_phase_ = phase;
  stop_waiting();
  wait_it_ = add_wait(*loop_, uv_hrtime() + ns, this);
  waiting_ = true;
}

void Peer::stop_waiting() {
  if (!waiting_) return;
  cancel_wait(*loop_, wait_it_);
  waiting_ = false;
}

void Peer::hang() {
  busy_ = true;
  hanging_ = true;
}

void Peer::close_now() {
  if (closing_) return;
  closing_ = true;
  stop_waiting();
  loop_->counters->connections_open.fetch_sub(1, std::memory_order_relaxed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

// ---------------------------------------------------------------- input

void Peer::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Peer*>(handle->data);
  *buf = uv_buf_init(c->loop_->read_buffer, kReadBufferBytes);
}

void Peer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Peer*>(stream->data);
  try {
    c->handle_read(nread, buf);
  } catch (...) {
    c->close_now();
  }
}

void Peer::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (closing_ || nread == 0) return;
  if (nread < 0) {
    if (nread != UV_EOF || draining_ || hanging_ || stream_ == BodyKind::kEndlessChunked ||
        stream_ == BodyKind::kDrip) {
      close_now();
      return;
    }
    eof_ = true;
    uv_read_stop(stream());
    reading_ = false;
    drive();
    return;
  }
  if (draining_) return;
  size_t n = static_cast<size_t>(nread);
  // Parse straight from the read buffer unless older bytes wait in pending_ (order matters).
  size_t used = pending_.empty() && can_parse() ? feed(buf->base, n) : 0;
  if (used < n && !closing_ && !close_after_flush_) {
    pending_.append(buf->base + used, n - used);
    if (pending_.size() > kMaxPendingBytes) {
      uv_read_stop(stream());
      reading_ = false;
    }
  }
  drive();
}

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
    if (parser_.upgrade) {
      close_after_flush_ = true;  // the rest is another protocol, which pelt-target does not speak
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

int Peer::on_body(http_parser* p, const char* at, size_t len) {
  Peer* c = from(p);
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
  split_target();
  handle_request(*this, 0);
  if (!can_parse()) http_parser_pause(&parser_, 1);
  return 0;
}

void Peer::split_target() {
  std::string_view url = url_;
  if (!url.empty() && url[0] != '/') {
    // Absolute form ("http://host/path?q"): keep the path and query parts.
    http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url_.data(), url_.size(), 0, &u) == 0 &&
        (u.field_set & (1 << UF_PATH))) {
      url = url.substr(u.field_data[UF_PATH].off);
    } else if (u.field_set & (1 << UF_HOST)) {
      url = "/";
    }
  }
  size_t q = url.find('?');
  path_ = url.substr(0, q);
  query_ = q == std::string_view::npos ? std::string_view{} : url.substr(q + 1);
  size_t hash = query_.find('#');
  if (hash != std::string_view::npos) query_ = query_.substr(0, hash);
}

// ---------------------------------------------------------------- output

void Peer::drive() {
  for (int round = 0; !closing_; ++round) {
    if (!pending_.empty() && can_parse()) {
      size_t used = feed(pending_.data(), pending_.size());
      pending_.erase(0, used);
      if (closing_) return;
    }
    if (writing_) return;  // on_write drives again
    if (!out_.empty()) {
      if (!write_out(round < kSyncRounds)) return;
      continue;
    }
    if (stream_ == BodyKind::kFixed || stream_ == BodyKind::kChunked) {
      pump();
      continue;
    }
    if (close_after_flush_ && !busy_) {
      finish_close();
      return;
    }
    break;  // idle, or waiting for a timer
  }
  if (closing_ || draining_ || busy_ || writing_ || !out_.empty()) return;
  // Idle: nothing to write and no request in progress.
  if (eof_) {
    close_now();
    return;
  }
  if (!reading_ && pending_.size() < kMaxPendingBytes / 2) {
    reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
    if (!reading_) close_now();
  }
  if (out_.capacity() > kShrinkBytes) std::string().swap(out_);
  if (inflight_.capacity() > kShrinkBytes) std::string().swap(inflight_);
  if (pending_.empty() && pending_.capacity() > kShrinkBytes) std::string().swap(pending_);
}

bool Peer::write_out(bool allow_sync) {
  size_t done = 0;
  if (allow_sync) {
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int r = uv_try_write(stream(), &buf, 1);
    if (r < 0 && r != UV_EAGAIN) {
      close_now();
      return false;
    }
    done = r > 0 ? static_cast<size_t>(r) : 0;
    if (done == out_.size()) {
      out_.clear();
      return true;
    }
  }
  if (done == 0) {
    inflight_.swap(out_);
  } else {
    inflight_.assign(out_, done);
  }
  out_.clear();
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  if (uv_write(&write_req_, stream(), &buf, 1, on_write) != 0) {
    close_now();
    return false;
  }
  writing_ = true;
  return false;
}

void Peer::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Peer*>(req->handle->data);
  c->writing_ = false;
  c->inflight_.clear();
  if (c->closing_) return;
  if (status < 0) {
    c->close_now();
    return;
  }
  try {
    c->drive();
  } catch (...) {
    c->close_now();
  }
}

void Peer::pump() {
  auto out = std::back_inserter(out_);
  if (stream_ == BodyKind::kFixed) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(stream_left_, kStreamStepBytes));
    out_.append(filler(stream_sent_, n));
    stream_sent_ += n;
    stream_left_ -= n;
    if (stream_left_ == 0) end_stream();
    return;
  }
  // kChunked
  while (stream_left_ > 0 && out_.size() < kStreamStepBytes) {
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
    c->close_now();
  }
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
  drive();
}

void Peer::end_stream() {
  if (stream_ == BodyKind::kEndlessChunked || stream_ == BodyKind::kDrip) uv_timer_stop(&timer_);
  stream_ = BodyKind::kNone;
  busy_ = false;
}

void Peer::end_wait() {
  waiting_ = false;
  if (closing_ || draining_) return;
  try {
    busy_ = false;
    handle_request(*this, wait_phase_);
    drive();
  } catch (...) {
    close_now();
  }
}

// ---------------------------------------------------------------- closing

void Peer::finish_close() {
  if (draining_ || closing_) return;
  draining_ = true;
  uv_timer_stop(&timer_);
  stop_waiting();
  if (reset_) {
    uv_timer_start(&timer_, on_close_timer, kResetDelayMs, 0);
    return;
  }
  if (eof_ || uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) {
    close_now();
    return;
  }
  // Keep reading (and discarding) so unread client data does not turn our close into an RST.
  if (!reading_) reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  uv_timer_start(&timer_, on_close_timer, kDrainTimeoutMs, 0);
}

void Peer::on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Peer*>(req->handle->data);
  if (status < 0) c->close_now();
}

void Peer::on_close_timer(uv_timer_t* timer) {
  auto* c = static_cast<Peer*>(timer->data);
  if (c->reset_) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp_), &fd) == 0) {
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
  }
  c->close_now();
}

void Peer::on_close(uv_handle_t* handle) {
  auto* c = static_cast<Peer*>(handle->data);
  if (--c->open_handles_ == 0) delete c;
}

}  // namespace pelt::target
