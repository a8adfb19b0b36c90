#include "wire/socket_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "results/recorder.h"

namespace pelt {
namespace {

// send()/recv() as raw system calls: the libc wrappers also switch thread cancellation on and
// off around every call, which nothing here uses. Same results, errors in errno.
ssize_t raw_send(int fd, const void* data, size_t len) {
  return syscall(SYS_sendto, fd, data, len, MSG_NOSIGNAL, nullptr, 0);
}

ssize_t raw_recv(int fd, void* data, size_t len) {
  return syscall(SYS_recvfrom, fd, data, len, 0, nullptr, nullptr);
}

std::string errno_reason(const char* what, int status) {
  return std::string(what) + " " + uv_err_name(status);
}

socklen_t address_length(const sockaddr* a) {
  return a->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// At most this many full buffers are read per wake-up, so one busy connection cannot starve
// the others.
constexpr int kMaxReadsPerWakeup = 32;

}  // namespace

PlainTransport::PlainTransport(TransportEvents& events, const TransportSettings& settings)
    : Transport(events, *settings.clock), settings_(settings) {
  poll_.data = this;
}

PlainTransport::~PlainTransport() = default;

void PlainTransport::connect(const sockaddr* dst, const sockaddr* src) {
  if (state_ != State::kClosed) return;
  stop_backoff();
  state_ = State::kConnecting;
  connect_start_ns_ = clock_.now_ns();
  fd_ = ::socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail_unopened("socket", -errno);
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (src) {
    // Let connect() pick the local port: binding with port 0 would search the whole port range
    // for every socket, which dominates the CPU with thousands of connections.
    setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (::bind(fd_, src, address_length(src)) < 0) {
      fail_unopened("bind", -errno);
      return;
    }
  }
  if (::connect(fd_, dst, address_length(dst)) < 0 && errno != EINPROGRESS) {
    fail_unopened("connect", -errno);
    return;
  }
  // Connected (or connecting): the socket turns writable when the handshake is done.
  uv_poll_init_socket(settings_.loop, &poll_, fd_);
  poll_.data = this;
  watching_writable_ = true;
  notify_close_ = true;
  out_.clear();
  uv_poll_start(&poll_, UV_WRITABLE, &PlainTransport::on_poll);
}

void PlainTransport::fail_unopened(const char* what, int err) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  state_ = State::kClosed;
  note_connect_failure();
  events_.on_transport_error(ErrorKind::kConnect, errno_reason(what, err),
                             std::string(what) + ": " + uv_strerror(err));
  // No handle to wait for: the socket is closed already.
  if (state_ == State::kClosed) events_.on_transport_closed();
}

void PlainTransport::on_poll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<PlainTransport*>(handle->data);
  if (self->state_ == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0 && status < 0) err = -status;
    if (err != 0 || (events & UV_WRITABLE)) self->handle_connected(-err);
    return;
  }
  if (!self->open()) return;
  if (status < 0) {
    self->poll_failed(status);
    return;
  }
  if (events & UV_WRITABLE) {
    self->flush_out();
    if (!self->open()) return;
  }
  if (events & UV_READABLE) {
    TransportEvents& events_to = self->events_;
    if (events_to.wants_read_bursts()) {
      events_to.on_read_burst(true);
      self->read_socket(/*until_would_block=*/true);
      events_to.on_read_burst(false);
    } else {
      self->read_socket(/*until_would_block=*/false);
    }
  }
}

void PlainTransport::handle_connected(int status) {
  if (status == UV_ECANCELED || state_ != State::kConnecting) return;
  if (status < 0) {
    report_error(ErrorKind::kConnect, errno_reason("connect", status),
                 std::string("connect: ") + uv_strerror(status));
    return;
  }
  const uint64_t now = clock_.now_ns();
  settings_.recorder->record_connect((now - connect_start_ns_) / 1000);
  watch(false);
  on_connected(now);
}

void PlainTransport::on_connected(uint64_t) {
  report_ready();
}

void PlainTransport::report_ready() {
  state_ = State::kReady;
  note_connected();
  events_.on_transport_ready();
}

void PlainTransport::report_error(ErrorKind kind, const std::string& reason,
                                  const std::string& detail) {
  if (connecting()) note_connect_failure();
  events_.on_transport_error(kind, reason, detail);
}

bool PlainTransport::read_socket(bool until_would_block) {
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    const ssize_t n = raw_recv(fd_, settings_.read_buffer, settings_.read_buffer_bytes);
    if (n > 0) {
      read_ns_ = clock_.now_ns();
      settings_.recorder->record_bytes_read(static_cast<uint64_t>(n), read_ns_);
      in_read_ = true;
      on_socket_bytes(settings_.read_buffer, static_cast<size_t>(n));
      in_read_ = false;
      if (!open()) return false;
      // A short read drained the socket; one more recv() would only say EAGAIN.
      if (!until_would_block && static_cast<size_t>(n) < settings_.read_buffer_bytes) return true;
      continue;
    }
    if (n == 0) {
      read_ns_ = clock_.now_ns();
      in_read_ = true;
      on_socket_eof();
      in_read_ = false;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    handle_read_error(-errno);
    return false;
  }
  return true;
}

void PlainTransport::handle_read_error(int err) {
  // A handshake that breaks is a failed connect, whatever broke it.
  if (state_ == State::kHandshaking) {
    report_error(ErrorKind::kConnect, "tls: " + errno_reason("read", err),
                 std::string("tls handshake: read: ") + uv_strerror(err));
    return;
  }
  report_error(ErrorKind::kRead, errno_reason("read", err),
               std::string("read: ") + uv_strerror(err));
}

void PlainTransport::poll_failed(int status) {
  // libuv stops a poll handle on POLLERR: take what the socket still holds, then its error.
  if (!read_socket(/*until_would_block=*/true)) return;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) err = -status;
  handle_read_error(-err);
}

void PlainTransport::on_socket_bytes(const char* data, size_t len) {
  events_.on_transport_bytes(data, len);
}

void PlainTransport::on_socket_eof() {
  events_.on_transport_eof();
}

bool PlainTransport::send(const std::shared_ptr<const void>& owner, std::string_view bytes) {
  return write_shared(owner, bytes);
}

bool PlainTransport::write_shared(const std::shared_ptr<const void>& owner, std::string_view bytes) {
  if (bytes.empty()) return true;
  // Without an owner the bytes live only during the call: what is not sent now is copied.
  if (!out_.empty()) return queue(owner, bytes, 0, owner == nullptr);  // keep the order
  ssize_t n;
  do {
    n = raw_send(fd_, bytes.data(), bytes.size());
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(bytes.size())) return true;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      const int err = -errno;
      report_error(ErrorKind::kWrite, errno_reason("write", err),
                   std::string("write: ") + uv_strerror(err));
      return false;
    }
    n = 0;
  }
  return queue(owner, bytes, static_cast<size_t>(n), owner == nullptr);
}

bool PlainTransport::write_copy(const char* data, size_t len) {
  if (len == 0) return true;
  if (!out_.empty()) return queue(nullptr, std::string_view(data, len), 0, true);
  ssize_t n;
  do {
    n = raw_send(fd_, data, len);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(len)) return true;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      const int err = -errno;
      report_error(ErrorKind::kWrite, errno_reason("write", err),
                   std::string("write: ") + uv_strerror(err));
      return false;
    }
    n = 0;
  }
  return queue(nullptr, std::string_view(data, len), static_cast<size_t>(n), true);
}

bool PlainTransport::queue(std::shared_ptr<const void> owner, std::string_view bytes, size_t sent,
                           bool copy) {
  if (copy) {
    auto text = std::make_shared<const std::string>(bytes.substr(sent));
    bytes = *text;
    owner = std::move(text);
    sent = 0;
  }
  out_.push_back({std::move(owner), bytes, sent});
  watch(true);
  return true;
}

void PlainTransport::flush_out() {
  constexpr int kMaxIov = 16;
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int count = 0;
    for (auto it = out_.begin(); it != out_.end() && count < kMaxIov; ++it, ++count) {
      iov[count].iov_base = const_cast<char*>(it->bytes.data() + it->offset);
      iov[count].iov_len = it->bytes.size() - it->offset;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = syscall(SYS_sendmsg, fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      const int err = -errno;
      report_error(ErrorKind::kWrite, errno_reason("write", err),
                   std::string("write: ") + uv_strerror(err));
      return;
    }
    // Consume what went out: whole segments, then an offset into the next.
    size_t left = static_cast<size_t>(n);
    while (left > 0 && !out_.empty()) {
      Pending& p = out_.front();
      const size_t rest = p.bytes.size() - p.offset;
      if (left < rest) {
        p.offset += left;
        left = 0;
      } else {
        left -= rest;
        out_.pop_front();
      }
    }
  }
  watch(false);
  on_drained();
}

void PlainTransport::watch(bool writable) {
  if (writable == watching_writable_) return;
  watching_writable_ = writable;
  uv_poll_start(&poll_, writable ? (UV_READABLE | UV_WRITABLE) : UV_READABLE,
                &PlainTransport::on_poll);
}

void PlainTransport::check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) {
  if (!connecting()) return;
  if (now_ns - connect_start_ns_ <= timeout_ns) return;
  if (state_ == State::kConnecting) {
    report_error(ErrorKind::kConnect, "connect timeout", "connect: no answer within the timeout");
  } else {
    report_error(ErrorKind::kConnect, "tls: handshake timeout",
                 "tls handshake: no answer within the timeout");
  }
}

void PlainTransport::close() {
  close_handle(/*notify=*/true);
}

void PlainTransport::shutdown() {
  stop_backoff();
  if (state_ == State::kClosing) {
    notify_close_ = false;
    return;
  }
  close_handle(/*notify=*/false);
}

void PlainTransport::close_handle(bool notify) {
  if (state_ == State::kClosed || state_ == State::kClosing) return;
  state_ = State::kClosing;
  out_.clear();
  notify_close_ = notify;
  // uv_close stops polling at once, so the descriptor can go now.
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &PlainTransport::on_closed);
  ::close(fd_);
  fd_ = -1;
}

void PlainTransport::on_closed(uv_handle_t* handle) {
  auto* self = static_cast<PlainTransport*>(handle->data);
  self->state_ = State::kClosed;
  if (self->notify_close_) self->events_.on_transport_closed();
}

// --- TLS ---

TlsTransport::TlsTransport(TransportEvents& events, const TransportSettings& settings)
    : PlainTransport(events, settings) {}

TlsTransport::~TlsTransport() = default;

void TlsTransport::on_connected(uint64_t now_ns) {
  tls_ = std::make_unique<TlsSession>(*settings_.tls, settings_.tls_host, settings_.tls_session_key,
                                      settings_.protocol.version != HttpVersion::kHttp11);
  alpn_.clear();
  state_ = State::kHandshaking;
  connect_start_ns_ = now_ns;
  tls_out_.clear();
  if (tls_->handshake(tls_out_) == TlsSession::Status::kError) {
    report_error(ErrorKind::kConnect, "tls: " + tls_->error(), "tls handshake: " + tls_->error());
    return;
  }
  write_copy(tls_out_.data(), tls_out_.size());
}

void TlsTransport::on_socket_bytes(const char* data, size_t len) {
  tls_plain_.clear();
  tls_out_.clear();
  const bool handshaking = !tls_->handshake_done();
  const TlsSession::Status s = tls_->on_read(data, len, tls_plain_, tls_out_);
  if (!tls_out_.empty() && !write_copy(tls_out_.data(), tls_out_.size())) return;
  if (!open()) return;
  if (s == TlsSession::Status::kError) {
    if (handshaking) {
      report_error(ErrorKind::kConnect, "tls: " + tls_->error(), "tls handshake: " + tls_->error());
    } else {
      report_error(ErrorKind::kRead, "tls: " + tls_->error(), "tls: " + tls_->error());
    }
    return;
  }
  if (handshaking) {
    if (!tls_->handshake_done()) return;
    settings_.recorder->record_tls_handshake((read_ns_ - connect_start_ns_) / 1000, tls_->resumed());
    alpn_ = tls_->alpn();
    report_ready();
    if (!open()) return;
  }
  if (!tls_plain_.empty()) {
    events_.on_transport_bytes(tls_plain_.data(), tls_plain_.size());
    if (!open()) return;
  }
  // close_notify ends the stream as a FIN does.
  if (s == TlsSession::Status::kClosed && state_ == State::kReady) events_.on_transport_eof();
}

void TlsTransport::on_socket_eof() {
  if (state_ == State::kHandshaking) {
    report_error(ErrorKind::kConnect, "tls: connection closed during handshake",
                 "tls handshake: the server closed the connection");
    return;
  }
  events_.on_transport_eof();
}

bool TlsTransport::send(const std::shared_ptr<const void>& owner, std::string_view bytes) {
  if (bytes.empty()) return true;
  plain_out_.push_back({owner, bytes, 0});
  if (!pump()) return false;
  // Bytes without an owner live only during the call: keep a copy of what is still waiting.
  for (Plain& p : plain_out_) {
    if (p.owner) continue;
    auto text = std::make_shared<const std::string>(p.bytes.substr(p.offset));
    p.bytes = *text;
    p.offset = 0;
    p.owner = std::move(text);
  }
  return true;
}

bool TlsTransport::pump() {
  // A record's worth at a time, only while the socket keeps up.
  constexpr size_t kChunkBytes = 16 * 1024;
  while (!plain_out_.empty() && drained() && tls_) {
    Plain& p = plain_out_.front();
    const size_t n = std::min(kChunkBytes, p.bytes.size() - p.offset);
    tls_out_.clear();
    if (tls_->write(p.bytes.data() + p.offset, n, tls_out_) != TlsSession::Status::kOk) {
      report_error(ErrorKind::kWrite, "tls: " + tls_->error(), tls_->error());
      return false;
    }
    p.offset += n;
    if (p.offset == p.bytes.size()) plain_out_.pop_front();
    if (!write_copy(tls_out_.data(), tls_out_.size())) return false;
  }
  return true;
}

void TlsTransport::close() {
  PlainTransport::close();
  plain_out_.clear();
  tls_.reset();
}

void TlsTransport::shutdown() {
  PlainTransport::shutdown();
  plain_out_.clear();
  tls_.reset();
}

// --- factory and backoff ---

std::unique_ptr<Transport> TransportFactory::make(TransportEvents& events) {
  if (settings_.tls) return std::make_unique<TlsTransport>(events, settings_);
  return std::make_unique<PlainTransport>(events, settings_);
}

void Transport::connect_after_backoff() {
  if (!backoff_) backoff_ = clock_.make_timer(&Transport::on_backoff, this);
  // 1, 2, 4 ... 100 ms after consecutive failures, so a refusing server (or one that closes
  // every connection at once) cannot spin the loop; the jitter (50-100%) keeps many
  // connections from coming back in step.
  uint64_t ms = 1ull << std::min<uint32_t>(failures_ > 0 ? failures_ - 1 : 0, 7);
  if (ms > 100) ms = 100;
  if (jitter_state_ == 0) jitter_state_ = reinterpret_cast<uintptr_t>(this) | 1;
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  const uint64_t ns = ms * 1000 * 1000;
  backoff_->start(ns / 2 + jitter_state_ % (ns / 2 + 1));
}

void Transport::on_backoff(void* ctx) {
  auto* self = static_cast<Transport*>(ctx);
  self->events_.on_transport_backoff_done();
}

}  // namespace pelt
