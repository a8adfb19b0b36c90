#include "engine/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/worker.h"

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

constexpr int kKindConnect = 0;
constexpr int kKindRead = 1;
constexpr int kKindWrite = 2;

std::string errno_reason(const char* what, int status) {
  return std::string(what) + " " + uv_err_name(status);
}

}  // namespace

Connection::Connection(Worker& worker, ScenarioRuntime& scenario, uint32_t index)
    : worker_(worker), scenario_(scenario), index_(index), parser_(&Connection::on_response, this) {
  parser_.set_capture(scenario.capture);
  parser_.set_on_first_byte(&Connection::on_first_byte);
  uv_timer_init(worker_.loop(), &timer_);
  timer_.data = this;
  timer_open_ = true;
  poll_.data = this;
  name_stats_ = scenario.default_name_stats;
}

Connection::~Connection() = default;

void Connection::set_active(bool active) {
  if (active_ == active) return;
  active_ = active;
  inactive_since_ns_ = !active && busy_ ? uv_hrtime() : 0;
  if (active && !busy_) begin_iteration();
}

void Connection::interrupt() {
  if (!busy_) return;
  const bool unanswered = parser_.outstanding() > 0;
  parser_.reset();
  want_send_ = false;
  batch_done_ = false;
  intended_ns_ = 0;
  inactive_since_ns_ = 0;
  // A think time or delay() wait ends here; a reconnect backoff keeps running.
  if (!timer_for_reconnect_) uv_timer_stop(&timer_);
  busy_ = false;
  if (unanswered) close_socket(false);
}

void Connection::warm_up() {
  if (state_ == State::kClosed) connect();
}

void Connection::run_iteration(uint64_t intended_ns) {
  if (busy_) return;  // never two iterations on one VU
  intended_ns_ = intended_ns;
  busy_ = true;
  if (scenario_.has_delay) {
    double ms = 0;
    if (!scenario_.setup.script->delay(ms)) {
      worker_.stats().add_script_error(scenario_.setup.script->last_error());
      ms = 0;
    }
    if (ms > 0) {
      start_timer(static_cast<uint64_t>(ms));
      return;
    }
  }
  send_request();
}

void Connection::begin_iteration() {
  // Closed loop: an iteration is due now.
  if (!worker_.running() || !scenario_.issuing || busy_) return;
  if (scenario_.per_vu_iterations && iterations_ >= scenario_.per_vu_iterations) return;
  if (scenario_.setup.config->executor == ExecutorKind::kSharedIterations) {
    if (scenario_.iterations_left == 0) return;
    --scenario_.iterations_left;
  }
  run_iteration(0);
}

void Connection::start_timer(uint64_t delay_ms) {
  uv_timer_start(&timer_, &Connection::on_timer, delay_ms, 0);
}

void Connection::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->timer_for_reconnect_) {
    self->timer_for_reconnect_ = false;
    if (self->worker_.running() && self->state_ == State::kClosed) self->connect();
    return;
  }
  if (self->busy_ && self->batch_done_) {
    // Think time after an iteration has passed.
    self->busy_ = false;
    self->batch_done_ = false;
    self->next_step();
    return;
  }
  if (self->busy_) self->send_request();  // delay() before a request has passed
}

void Connection::send_request() {
  if (!worker_.running()) return;
  if (state_ != State::kReady) {
    want_send_ = true;
    if (state_ == State::kClosed && !timer_for_reconnect_) connect();
    return;
  }
  want_send_ = false;
  ScenarioRuntime& s = scenario_;
  std::string_view bytes;
  if (s.dynamic) {
    if (!s.setup.script->request(bytes)) {
      worker_.stats().add_script_error(s.setup.script->last_error());
      // The iteration could not produce a request: it ends here, after a short pause so a
      // broken script cannot spin the loop.
      batch_done_ = true;
      ++iterations_;
      ++s.stats->iterations;
      start_timer(10);
      return;
    }
    std::string_view name = s.setup.script->request_name();
    if (name.empty()) {
      name_stats_ = s.default_name_stats;
    } else {
      // The method of a new name comes from the request line itself.
      const size_t sp = bytes.find(' ');
      name_stats_ = worker_.name_stats(s, name, sp == std::string_view::npos ? std::string_view(s.setup.default_method) : bytes.substr(0, sp));
    }
  } else {
    bytes = s.setup.static_request;
  }
  batch_size_ = static_cast<uint32_t>(s.setup.batch_heads.size());
  for (bool head : s.setup.batch_heads) parser_.push_request(head);
  batch_done_ = false;
  reconnect_after_ = false;
  // Inside a read callback the read's timestamp is a fraction of a microsecond old: the next
  // request of a closed loop starts where the previous response ended, with no clock read.
  sent_ns_ = in_read_ ? read_ns_ : uv_hrtime();
  if (intended_ns_ == 0) intended_ns_ = sent_ns_;
  WorkerStats& st = worker_.stats();
  st.ledger.sent += batch_size_;
  if (intended_ns_ < sent_ns_) st.send_lag.record((sent_ns_ - intended_ns_) / 1000);
  else st.send_lag.record(0);
  st.bytes_written += bytes.size();
  send_bytes(bytes.data(), bytes.size());
}

void Connection::send_bytes(const char* data, size_t len) {
  if (tls_) {
    tls_out_.clear();
    if (tls_->write(data, len, tls_out_) != TlsSession::Status::kOk) {
      fail(kKindWrite, "tls: " + tls_->error(), tls_->error());
      return;
    }
    write_raw(tls_out_.data(), tls_out_.size());
  } else {
    write_raw(data, len);
  }
}

void Connection::write_raw(const char* data, size_t len) {
  if (len == 0) return;
  if (!out_.empty()) {  // earlier bytes still wait for the socket: keep the order
    out_.append(data, len);
    return;
  }
  ssize_t n;
  do {
    n = raw_send(fd_, data, len);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(len)) return;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      const int err = -errno;
      fail(kKindWrite, errno_reason("write", err), std::string("write: ") + uv_strerror(err));
      return;
    }
    n = 0;
  }
  out_.assign(data + n, len - static_cast<size_t>(n));
  watch(true);
}

void Connection::flush_out() {
  while (!out_.empty()) {
    const ssize_t n = raw_send(fd_, out_.data(), out_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      const int err = -errno;
      fail(kKindWrite, errno_reason("write", err), std::string("write: ") + uv_strerror(err));
      return;
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  watch(false);
}

void Connection::watch(bool writable) {
  if (writable == watching_writable_) return;
  watching_writable_ = writable;
  uv_poll_start(&poll_, writable ? (UV_READABLE | UV_WRITABLE) : UV_READABLE,
                &Connection::on_poll);
}

void Connection::fail_unopened(const char* what, int err) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  WorkerStats& st = worker_.stats();
  ++st.errors.connect;
  st.add_error_reason(errno_reason(what, err), std::string(what) + ": " + uv_strerror(err));
  state_ = State::kClosed;
  ++connect_failures_;
  // Retry after the backoff, unless the timer is busy with a think time or delay(): the
  // iteration that follows it finds the socket closed and connects again.
  if (shutting_down_ || !worker_.running() ||
      uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) {
    return;
  }
  start_reconnect_backoff();
}

void Connection::start_reconnect_backoff() {
  // 1, 2, 4 ... 100 ms after consecutive failed connects, so a refusing server cannot spin
  // the loop.
  uint64_t ms = 1ull << std::min<uint32_t>(connect_failures_ - 1, 7);
  if (ms > 100) ms = 100;
  timer_for_reconnect_ = true;
  uv_timer_start(&timer_, &Connection::on_timer, ms, 0);
}

void Connection::connect() {
  if (shutting_down_) return;
  const sockaddr* src = worker_.bind_address(index_);
  const Address& addr = scenario_.setup.handle->addr;
  const auto* dst = reinterpret_cast<const sockaddr*>(&addr.storage);
  state_ = State::kConnecting;
  connect_start_ns_ = uv_hrtime();
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
    const socklen_t len = src->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::bind(fd_, src, len) < 0) {
      fail_unopened("bind", -errno);
      return;
    }
  }
  const socklen_t dst_len =
      dst->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::connect(fd_, dst, dst_len) < 0 && errno != EINPROGRESS) {
    fail_unopened("connect", -errno);
    return;
  }
  // Connected (or connecting): the socket turns writable when the handshake is done.
  uv_poll_init_socket(worker_.loop(), &poll_, fd_);
  poll_.data = this;
  watching_writable_ = true;
  out_.clear();
  uv_poll_start(&poll_, UV_WRITABLE, &Connection::on_poll);
}

void Connection::on_poll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self->state_ == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0 && status < 0) err = -status;
    if (err != 0 || (events & UV_WRITABLE)) self->handle_connected(-err);
    return;
  }
  if (self->state_ != State::kReady && self->state_ != State::kHandshaking) return;
  if (status < 0) {
    self->poll_failed(status);
    return;
  }
  if (events & UV_WRITABLE) {
    self->flush_out();
    if (self->state_ != State::kReady && self->state_ != State::kHandshaking) return;
  }
  if (events & UV_READABLE) self->read_ready();
}

void Connection::read_ready() {
  read_socket(/*until_would_block=*/false);
}

bool Connection::read_socket(bool until_would_block) {
  // At most 32 full buffers per wake-up, so one busy connection cannot starve the others.
  for (int i = 0; i < 32; ++i) {
    const uv_buf_t buf = worker_.read_buffer();
    const ssize_t n = raw_recv(fd_, buf.base, buf.len);
    if (n > 0) {
      handle_read(n, buf.base);
      if (state_ != State::kReady && state_ != State::kHandshaking) return false;
      // A short read drained the socket; one more recv() would only say EAGAIN.
      if (!until_would_block && static_cast<size_t>(n) < buf.len) return true;
      continue;
    }
    if (n == 0) {
      handle_read(UV_EOF, nullptr);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    handle_read(-errno, nullptr);
    return false;
  }
  return true;
}

void Connection::poll_failed(int status) {
  // libuv stops a poll handle on POLLERR: take what the socket still holds, then its error.
  if (!read_socket(/*until_would_block=*/true)) return;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) err = -status;
  handle_read(-err, nullptr);
}

void Connection::handle_connected(int status) {
  if (status == UV_ECANCELED || state_ != State::kConnecting) return;
  WorkerStats& st = worker_.stats();
  if (status < 0) {
    fail(kKindConnect, errno_reason("connect", status),
         std::string("connect: ") + uv_strerror(status));
    return;
  }
  ++st.connects;
  const uint64_t now = uv_hrtime();
  st.connect_time.record((now - connect_start_ns_) / 1000);
  parser_.reset();
  parser_.set_capture(scenario_.capture);
  watch(false);
  if (TlsContext* ctx = worker_.tls_context()) {
    const Url& url = worker_.options().url;
    tls_ = std::make_unique<TlsSession>(*ctx, url.host, url.host + ":" + url.effective_port());
    state_ = State::kHandshaking;
    connect_start_ns_ = now;
    tls_out_.clear();
    TlsSession::Status s = tls_->handshake(tls_out_);
    if (s == TlsSession::Status::kError) {
      fail(kKindConnect, "tls: " + tls_->error(), "tls handshake: " + tls_->error());
      return;
    }
    write_raw(tls_out_.data(), tls_out_.size());
    return;
  }
  handle_ready();
}

void Connection::handle_ready() {
  state_ = State::kReady;
  connect_failures_ = 0;
  if (want_send_) {
    send_request();
  } else if (!busy_) {
    next_step();
  }
}

void Connection::handle_read(ssize_t nread, const char* data) {
  if (nread == 0) return;
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  read_ns_ = uv_hrtime();
  in_read_ = true;
  process_read(nread, data);
  in_read_ = false;
}

void Connection::process_read(ssize_t nread, const char* data) {
  if (nread < 0) {
    if (nread == UV_EOF) {
      if (state_ == State::kHandshaking) {
        fail(kKindConnect, "tls: connection closed during handshake",
             "tls handshake: the server closed the connection");
        return;
      }
      if (!parser_.finish()) {
        fail(kKindRead, "premature close", "read: " + parser_.error());
        return;
      }
      after_feed();
      if (state_ != State::kReady) return;
      if (parser_.outstanding() > 0) {
        fail(kKindRead, "premature close", "read: the server closed the connection before responding");
        return;
      }
      // Closed while idle (keep-alive timeout on the server): reconnect quietly.
      ++worker_.stats().reconnects;
      close_socket(true);
      return;
    }
    fail(kKindRead, errno_reason("read", static_cast<int>(nread)),
         std::string("read: ") + uv_strerror(static_cast<int>(nread)));
    return;
  }
  worker_.stats().bytes_read += static_cast<uint64_t>(nread);
  if (tls_) {
    tls_plain_.clear();
    tls_out_.clear();
    const bool handshaking = !tls_->handshake_done();
    TlsSession::Status s = tls_->on_read(data, static_cast<size_t>(nread), tls_plain_, tls_out_);
    if (!tls_out_.empty()) write_raw(tls_out_.data(), tls_out_.size());
    if (state_ == State::kClosing || state_ == State::kClosed) return;
    if (s == TlsSession::Status::kError) {
      if (handshaking) {
        fail(kKindConnect, "tls: " + tls_->error(), "tls handshake: " + tls_->error());
      } else {
        fail(kKindRead, "tls: " + tls_->error(), "tls: " + tls_->error());
      }
      return;
    }
    if (handshaking) {
      if (!tls_->handshake_done()) return;
      WorkerStats& st = worker_.stats();
      st.tls_time.record((read_ns_ - connect_start_ns_) / 1000);
      ++st.tls_handshakes;
      if (tls_->resumed()) ++st.tls_resumed;
      handle_ready();
      if (tls_plain_.empty()) return;
    }
    if (!tls_plain_.empty()) feed_plain(tls_plain_.data(), tls_plain_.size());
    if (s == TlsSession::Status::kClosed && (state_ == State::kReady)) {
      if (parser_.outstanding() > 0 && !parser_.finish()) {
        fail(kKindRead, "premature close", "read: " + parser_.error());
      } else {
        close_socket(true);
      }
    }
    return;
  }
  feed_plain(data, static_cast<size_t>(nread));
}

void Connection::feed_plain(const char* data, size_t len) {
  if (!parser_.feed(data, len)) {
    after_feed();
    if (state_ == State::kReady) fail(kKindRead, "parse error", "parse: " + parser_.error());
    return;
  }
  after_feed();
}

void Connection::on_first_byte(void* ctx) {
  auto* self = static_cast<Connection*>(ctx);
  self->worker_.stats().waiting.record((self->read_ns_ - self->sent_ns_) / 1000);
}

void Connection::on_response(void* ctx, const ParsedResponse& response) {
  static_cast<Connection*>(ctx)->handle_response(response);
}

void Connection::handle_response(const ParsedResponse& r) {
  ScenarioRuntime& s = scenario_;
  WorkerStats& st = worker_.stats();
  const uint64_t now = read_ns_;
  const uint64_t latency_us = (now - intended_ns_) / 1000;
  const int code = r.status;
  ++st.ledger.completed;
  if (code >= 0 && code < 600) ++st.status[code];
  st.latency.record(latency_us);
  st.service.record((now - sent_ns_) / 1000);
  NameStats* ns = name_stats_;
  ++ns->requests;
  ns->latency.record(latency_us);
  ns->count_status(code);
  StageStats& stage = s.stats->stages[s.stage];
  ++stage.requests;
  stage.latency.record(latency_us);
  if (code >= 400) {
    ++st.errors.status;
    ++ns->failed;
    ++stage.failed;
  }
  if (!r.keep_alive) reconnect_after_ = true;
  if (s.capture) {
    if (!s.setup.script->response(code, r.headers, r.body)) {
      st.add_script_error(s.setup.script->last_error());
    }
  }
  if (parser_.outstanding() == 0) batch_done_ = true;
}

void Connection::after_feed() {
  if (!batch_done_ || want_send_) return;
  if (state_ != State::kReady) return;
  if (reconnect_after_) {
    reconnect_after_ = false;
    ++worker_.stats().reconnects;
    close_socket(true);
  }
  if (scenario_.setup.handle->stop.load(std::memory_order_relaxed)) worker_.on_script_stop();
  finish_iteration();
}

void Connection::finish_iteration() {
  ++iterations_;
  ++scenario_.stats->iterations;
  intended_ns_ = 0;
  const ThinkTime& think = scenario_.setup.config->think_time;
  if (think.max.count() > 0 && worker_.running()) {
    double us = static_cast<double>(think.min.count());
    if (think.max > think.min) us += worker_.random_unit() * static_cast<double>((think.max - think.min).count());
    start_timer(static_cast<uint64_t>(us / 1000.0));
    return;  // busy_ stays true until the think time has passed
  }
  busy_ = false;
  batch_done_ = false;
  next_step();
}

void Connection::next_step() {
  if (!worker_.running() || shutting_down_) return;
  if (scenario_.plan->arrival_rate()) {
    worker_.on_vu_free(scenario_, *this);
  } else if (active_) {
    begin_iteration();
  }
}

void Connection::on_timeout() {
  WorkerStats& st = worker_.stats();
  const uint64_t n = parser_.outstanding();
  st.ledger.timed_out += n;
  st.errors.timeout += n;
  if (name_stats_) {
    name_stats_->failed += n;
    name_stats_->failure_reasons["timeout"] += n;
  }
  scenario_.stats->stages[scenario_.stage].failed += n;
  st.add_error_reason("timeout", "timeout: no response within the timeout");
  parser_.reset();
  close_socket(true);
  batch_done_ = true;
  want_send_ = false;
  finish_iteration();
}

void Connection::check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) {
  if (state_ != State::kConnecting && state_ != State::kHandshaking) return;
  if (now_ns - connect_start_ns_ <= timeout_ns) return;
  if (state_ == State::kConnecting) {
    fail(kKindConnect, "connect timeout", "connect: no answer within the timeout");
  } else {
    fail(kKindConnect, "tls: handshake timeout", "tls handshake: no answer within the timeout");
  }
}

void Connection::fail(int kind, const std::string& reason, const std::string& detail) {
  WorkerStats& st = worker_.stats();
  const uint64_t n = parser_.outstanding();
  switch (kind) {
    case kKindConnect: ++st.errors.connect; break;
    case kKindRead: ++st.errors.read; break;
    default: ++st.errors.write; break;
  }
  st.add_error_reason(reason, detail);
  const bool connecting = state_ == State::kConnecting || state_ == State::kHandshaking;
  if (n > 0) {
    st.ledger.failed += n;
    if (name_stats_) {
      name_stats_->failed += n;
      name_stats_->failure_reasons[reason] += n;
    }
    scenario_.stats->stages[scenario_.stage].failed += n;
  }
  parser_.reset();
  close_socket(true);
  if (connecting) {
    ++connect_failures_;
    // The iteration still waits for a connection (want_send_ stays set).
    return;
  }
  if (busy_ && n > 0) {
    batch_done_ = true;
    finish_iteration();
  }
}

void Connection::close_socket(bool reconnect) {
  if (state_ == State::kClosed || state_ == State::kClosing) return;
  state_ = State::kClosing;
  out_.clear();
  tls_.reset();
  reconnect_after_ = reconnect;
  // uv_close stops polling at once, so the descriptor can go now.
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &Connection::on_close);
  ::close(fd_);
  fd_ = -1;
}

void Connection::on_close(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  self->state_ = State::kClosed;
  const bool reconnect = self->reconnect_after_;
  self->reconnect_after_ = false;
  if (self->shutting_down_ || !self->worker_.running() || !reconnect) return;
  // Reconnect at once after a clean close; back off after failed connects so a refusing
  // server does not spin the loop (1, 2, 4 ... 100 ms).
  if (self->connect_failures_ > 0) {
    self->start_reconnect_backoff();
    return;
  }
  if (self->want_send_ || self->active_ || self->scenario_.plan->arrival_rate()) self->connect();
}

void Connection::shutdown() {
  shutting_down_ = true;
  // The caller has counted what was outstanding as in flight; nothing may count it again.
  parser_.reset();
  want_send_ = false;
  if (timer_open_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    timer_open_ = false;
  }
  if (state_ != State::kClosed && state_ != State::kClosing) {
    state_ = State::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &Connection::on_close);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace pelt
