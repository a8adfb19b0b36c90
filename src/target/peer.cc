// The connection half of Peer: accepting, reading (through TLS when on), choosing the protocol,
// writing, and closing gracefully, with RST, or at once. The HTTP/1.1 half is peer_h1.cc.
#include "target/peer.h"

#include <sys/socket.h>

#include <new>

#include "target/h2_mux.h"
#include "target/tls.h"

namespace pelt::target {
namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";  // client preface
constexpr size_t kOutHighWater = 256 * 1024;      // stop producing while this much is unsent
constexpr size_t kMaxPendingBytes = 1024 * 1024;  // stop reading past this much unparsed input
constexpr size_t kShrinkBytes = 256 * 1024;       // buffers above this are freed when idle
constexpr int kSyncRounds = 16;                   // drive() rounds that may write synchronously
constexpr uint64_t kDrainTimeoutMs = 2000;        // wait for the client's FIN after ours
constexpr uint64_t kResetDelayMs = 50;            // pause before an RST so data goes out first

}  // namespace

Peer::Peer(ServeLoop& loop) : Exchange(loop) {
  uv_tcp_init(&loop.uv, &tcp_);
  uv_timer_init(&loop.uv, &timer_);
  tcp_.data = this;
  timer_.data = this;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

Peer::~Peer() = default;

void Peer::on_new_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* w = static_cast<ServeLoop*>(server->data);
  auto* c = new (std::nothrow) Peer(*w);
  if (c == nullptr) return;
  w->counters->connections_open.fetch_add(1, std::memory_order_relaxed);
  w->counters->connections_total.fetch_add(1, std::memory_order_relaxed);
  if (uv_accept(server, c->stream()) != 0 || w->options->close_on_accept) {
    c->close_now();
    return;
  }
  try {
    c->start(w->tls != nullptr);
  } catch (...) {
    c->close_now();
  }
}

void Peer::start(bool tls) {
  if (tls) {
    tls_ = std::make_unique<TlsLink>(loop_->tls);
    if (!tls_->valid()) return close_now();
  }
  uv_tcp_nodelay(&tcp_, 1);
  if (uv_read_start(stream(), on_alloc, on_read) != 0) close_now();
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
    return;
  }
  c->drive();
}

void Peer::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (closing_ || nread == 0) return;
  if (nread < 0) {
    if (nread != UV_EOF || draining_) return close_now();
    uv_read_stop(stream());
    reading_ = false;
    return client_done();
  }
  if (draining_) return;
  if (tls_) return take_cipher(buf->base, static_cast<size_t>(nread));
  take(buf->base, static_cast<size_t>(nread));
}

// The client will send nothing more (FIN, or close_notify over TLS).
void Peer::client_done() {
  if (wire_ == Wire::kH2 || hanging_ || stream_ == BodyKind::kEndlessChunked ||
      stream_ == BodyKind::kDrip) {
    return close_now();
  }
  eof_ = true;  // answer what was asked, then close (drive)
}

// The client sent close_notify: it reads nothing more, so whatever is still being answered is
// dropped; the server answers with its own close_notify and closes.
void Peer::client_closed_tls() {
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  eof_ = true;
  abandon();
  if (stream_ == BodyKind::kEndlessChunked || stream_ == BodyKind::kDrip) uv_timer_stop(&timer_);
  stream_ = BodyKind::kNone;
  busy_ = false;
  hanging_ = false;
  renegotiating_ = false;
  pending_.clear();
  out_.clear();
  close_after_flush_ = true;
}

void Peer::take_cipher(const char* data, size_t len) {
  tls_->feed(data, len);
  char* plain = loop_->plain_buffer;
  while (!closing_ && !draining_) {
    size_t n = 0;
    TlsLink::Read r = tls_->read(plain, kReadBufferBytes, n);
    if (!handshake_seen_ && tls_->established()) choose_after_handshake();
    if (r == TlsLink::Read::kData) {
      take(plain, n);
    } else if (r == TlsLink::Read::kMore) {
      break;
    } else if (r == TlsLink::Read::kCloseNotify) {
      client_closed_tls();
      break;
    } else {
      close_after_flush_ = true;  // send the alert OpenSSL queued, then close
      break;
    }
  }
  if (renegotiating_ && !tls_->renegotiation_pending() && !closing_) {
    renegotiating_ = false;
    resume(kPhaseAfterRenegotiate);
  }
}

void Peer::choose_after_handshake() {
  handshake_seen_ = true;
  std::string_view alpn = tls_->alpn();
  if (alpn == "h2") {
    if (!start_h2()) close_after_flush_ = true;
  } else if (alpn == "http/1.1" || !loop_->options->alpn_offers_h2()) {
    wire_ = Wire::kHttp1;
  }  // no ALPN: stay kSniff, HTTP/2 prior knowledge is still possible
}

// Plaintext from the client.
void Peer::take(const char* data, size_t len) {
  if (wire_ == Wire::kSniff && !sniff(data, len)) return;
  if (wire_ == Wire::kH2) return feed_h2(data, len);
  // Parse straight from the buffer unless older bytes wait in pending_ (order matters).
  size_t used = pending_.empty() && can_parse() ? feed(data, len) : 0;
  if (used < len && !closing_ && !close_after_flush_ && wire_ == Wire::kHttp1) {
    pending_.append(data + used, len - used);
    if (pending_.size() > kMaxPendingBytes && reading_) {
      uv_read_stop(stream());
      reading_ = false;
    }
  }
}

// Looks for the HTTP/2 client preface at the start of the connection. Returns false when the
// bytes were kept (pending_) because they may still turn out to be the preface, or went to
// HTTP/2 already; true when `data` is HTTP/1.x to be handled as usual.
bool Peer::sniff(const char* data, size_t len) {
  size_t have = pending_.size();  // a partial preface received before
  size_t check = std::min(kH2Preface.size() - have, len);
  if (std::string_view(data, check) != kH2Preface.substr(have, check)) {
    wire_ = Wire::kHttp1;
    return true;
  }
  if (have + check < kH2Preface.size()) {
    pending_.append(data, len);
    return false;
  }
  if (!start_h2()) {
    close_after_flush_ = true;
    return false;
  }
  std::string head;
  head.swap(pending_);
  feed_h2(head.data(), head.size());
  feed_h2(data, len);
  return false;
}

bool Peer::start_h2() {
  h2_ = std::make_unique<H2Mux>(*this);
  if (!h2_->valid()) return false;
  wire_ = Wire::kH2;
  return true;
}

void Peer::feed_h2(const char* data, size_t len) {
  if (close_after_flush_ || len == 0) return;
  if (!h2_->feed(reinterpret_cast<const uint8_t*>(data), len)) {
    loop_->counters->bad_requests.fetch_add(1, std::memory_order_relaxed);
    close_after_flush_ = true;  // what was produced so far (a GOAWAY) still goes out
  }
}

// ---------------------------------------------------------------- output

void Peer::drive() noexcept {
  try {
    drive_rounds();
  } catch (...) {
    close_now();
  }
}

void Peer::drive_rounds() {
  for (int round = 0; !closing_ && !draining_; ++round) {
    if (wire_ == Wire::kH2 && !close_after_flush_ && out_.size() < kOutHighWater &&
        !h2_->produce(out_, kOutHighWater)) {
      close_after_flush_ = true;
    }
    if (!pending_.empty() && wire_ == Wire::kHttp1 && can_parse()) {
      size_t used = feed(pending_.data(), pending_.size());
      pending_.erase(0, used);
      if (closing_) return;
    }
    if (writing_) return;  // on_write drives again
    if (tls_) tls_->drain(tls_out_);
    if (has_output()) {
      if (!write_out(round < kSyncRounds)) return;
      continue;
    }
    if (stream_ == BodyKind::kFixed || stream_ == BodyKind::kChunked) {
      pump();
      continue;
    }
    if (close_after_flush_ && !busy_) return finish_close();
    if (wire_ == Wire::kH2 && h2_->finished()) return finish_close();
    break;  // idle, or waiting for a timer or the client
  }
  if (closing_ || draining_ || busy_ || writing_ || has_output()) return;
  // Idle: nothing to write and no request in progress.
  if (eof_) return tls_ ? finish_close() : close_now();
  if (!reading_ && pending_.size() < kMaxPendingBytes / 2) {
    reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
    if (!reading_) return close_now();
  }
  if (out_.capacity() > kShrinkBytes) std::string().swap(out_);
  if (inflight_.capacity() > kShrinkBytes) std::string().swap(inflight_);
  if (tls_out_.capacity() > kShrinkBytes) std::string().swap(tls_out_);
  if (pending_.empty() && pending_.capacity() > kShrinkBytes) std::string().swap(pending_);
}

bool Peer::write_out(bool allow_sync) {
  std::string* wire = &out_;
  if (tls_) {
    if (!tls_->seal(out_)) {
      close_now();
      return false;
    }
    tls_->drain(tls_out_);
    wire = &tls_out_;
    if (wire->empty()) return false;  // OpenSSL holds the data until a handshake completes
  }
  size_t done = 0;
  if (allow_sync) {
    uv_buf_t buf = uv_buf_init(wire->data(), static_cast<unsigned>(wire->size()));
    int r = uv_try_write(stream(), &buf, 1);
    if (r < 0 && r != UV_EAGAIN) {
      close_now();
      return false;
    }
    done = r > 0 ? static_cast<size_t>(r) : 0;
    if (done == wire->size()) {
      wire->clear();
      return true;
    }
  }
  if (done == 0) {
    inflight_.swap(*wire);
  } else {
    inflight_.assign(*wire, done);
  }
  wire->clear();
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
  if (c->closing_ || c->draining_) return;
  if (status < 0) return c->close_now();
  c->drive();
}

// ---------------------------------------------------------------- closing

void Peer::reset_after_flush() {
  reset_ = true;
  close_after_flush_ = true;
}

void Peer::close_now() {
  if (closing_) return;
  closing_ = true;
  abandon();
  if (h2_) h2_->drop_streams();
  loop_->counters->connections_open.fetch_sub(1, std::memory_order_relaxed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void Peer::finish_close() {
  if (draining_ || closing_) return;
  draining_ = true;
  uv_timer_stop(&timer_);
  abandon();
  if (h2_) h2_->drop_streams();
  if (reset_) {
    uv_timer_start(&timer_, on_close_timer, kResetDelayMs, 0);
    return;
  }
  if (tls_) {
    tls_->close_notify();
    tls_->drain(tls_out_);
    if (!tls_out_.empty()) {
      inflight_.swap(tls_out_);
      uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
      if (uv_write(&write_req_, stream(), &buf, 1, on_write) != 0) return close_now();
      writing_ = true;
    }
  }
  // The FIN follows the close_notify write, if any (libuv shuts down after queued writes).
  if (uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) return close_now();
  // Keep reading (and discarding) so unread client data does not turn our close into an RST.
  if (!eof_ && !reading_) reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  uv_timer_start(&timer_, on_close_timer, kDrainTimeoutMs, 0);
}

void Peer::on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Peer*>(req->handle->data);
  if (status < 0 || c->eof_) c->close_now();
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
