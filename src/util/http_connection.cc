#include "util/http_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/http_client.h"

namespace pelt::http_detail {
namespace {

constexpr size_t kReadChunkBytes = 64 * 1024;  // bytes asked of recv() at once

std::string numeric_peer(const sockaddr* addr, socklen_t len) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  getnameinfo(addr, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
  const bool v6 = addr->sa_family == AF_INET6;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + port;
}

// Milliseconds poll() may wait before `at` (rounded up, so a wait never ends early).
int poll_ms(Clock::time_point at) {
  if (at == Clock::time_point::max()) return -1;
  const auto left = at - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 60'000));
}

}  // namespace

Limit make_limit(std::chrono::milliseconds timeout, Clock::time_point deadline) {
  const Clock::time_point by_timeout = Clock::now() + timeout;
  if (deadline < by_timeout) return {deadline, "deadline reached"};
  return {by_timeout, "timeout after " + format_timeout(timeout)};
}

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : strerror(err);
}

bool Connection::wait(short events, const Limit& limit, const char* step,
                      std::string& error) const {
  for (;;) {
    pollfd fds[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
    const int n = poll(fds, wake_fd_ >= 0 ? 2 : 1, poll_ms(limit.at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string(step) + " " + peer_ + ": poll: " + errno_name(errno);
      return false;
    }
    if (wake_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      error = std::string(step) + " " + peer_ + ": interrupted";
      return false;
    }
    if (fds[0].revents != 0) return true;  // ready, or an error the next call reports
    if (Clock::now() >= limit.at) {
      error = std::string(step) + " " + peer_ + ": " + limit.what;
      return false;
    }
  }
}

std::unique_ptr<Connection> Connection::open(const std::string& host, const std::string& port,
                                             TlsContext* tls_context, int wake_fd,
                                             const Limit& limit, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const bool v6_literal = host.find(':') != std::string::npos;
  const std::string shown = (v6_literal ? "[" + host + "]" : host) + ":" + port;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "resolve " + shown + ": " + (rc == EAI_SYSTEM ? errno_name(errno) : gai_strerror(rc));
    return nullptr;
  }
  std::unique_ptr<Connection> conn;
  error = "connect " + shown + ": no address";
  for (addrinfo* ai = found; ai != nullptr && !conn; ai = ai->ai_next) {
    const std::string peer = numeric_peer(ai->ai_addr, ai->ai_addrlen);
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = "connect " + peer + ": socket: " + errno_name(errno);
      continue;
    }
    std::unique_ptr<Connection> candidate(new Connection(fd, wake_fd, peer));
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = "connect " + peer + ": " + errno_name(errno);
      continue;
    }
    if (!candidate->wait(POLLOUT, limit, "connect", error)) break;  // time is up for all
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      error = "connect " + peer + ": " + errno_name(so_error);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn = std::move(candidate);
  }
  freeaddrinfo(found);
  if (!conn) return nullptr;
  if (tls_context != nullptr && !conn->handshake(*tls_context, host, port, limit, error)) {
    return nullptr;
  }
  error.clear();
  return conn;
}

Connection::~Connection() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::handshake(TlsContext& context, const std::string& host, const std::string& port,
                           const Limit& limit, std::string& error) {
  const char* step = "TLS handshake with";
  tls_ = std::make_unique<TlsSession>(context, host, host + ":" + port);
  std::string net_out;
  TlsSession::Status status = tls_->handshake(net_out);
  for (;;) {
    if (!net_out.empty() && !send_raw(net_out, limit, step, error)) return false;
    net_out.clear();
    if (status == TlsSession::Status::kOk) return true;
    if (status == TlsSession::Status::kError || status == TlsSession::Status::kClosed) {
      error = std::string(step) + " " + peer_ + ": " +
              (status == TlsSession::Status::kError ? tls_->error() : "closed by the server");
      return false;
    }
    std::string raw;
    const long n = recv_raw(raw, limit, step, error);
    if (n < 0) return false;
    if (n == 0) {
      error = std::string(step) + " " + peer_ + ": connection closed by the server";
      return false;
    }
    std::string plain;
    status = tls_->on_read(raw.data(), raw.size(), plain, net_out);
  }
}

bool Connection::send_raw(std::string_view data, const Limit& limit, const char* step,
                          std::string& error) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait(POLLOUT, limit, step, error)) return false;
      continue;
    }
    error = std::string(step) + " " + peer_ + ": " + errno_name(n < 0 ? errno : EPIPE);
    return false;
  }
  return true;
}

long Connection::recv_raw(std::string& out, const Limit& limit, const char* step,
                          std::string& error) {
  char buf[kReadChunkBytes];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n >= 0) {
      out.append(buf, static_cast<size_t>(n));
      return static_cast<long>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait(POLLIN, limit, step, error)) return -1;
      continue;
    }
    error = std::string(step) + " " + peer_ + ": " + errno_name(errno);
    return -1;
  }
}

bool Connection::write_all(std::string_view data, const Limit& limit, std::string& error) {
  if (!tls_) return send_raw(data, limit, "write to", error);
  std::string net_out;
  if (tls_->write(data.data(), data.size(), net_out) != TlsSession::Status::kOk) {
    error = "write to " + peer_ + ": TLS: " + tls_->error();
    return false;
  }
  return send_raw(net_out, limit, "write to", error);
}

long Connection::read_some(std::string& out, const Limit& limit, std::string& error) {
  if (!tls_) return recv_raw(out, limit, "read from", error);
  for (;;) {
    std::string raw;
    const long n = recv_raw(raw, limit, "read from", error);
    if (n <= 0) return n;
    std::string net_out;
    const size_t before = out.size();
    const TlsSession::Status status = tls_->on_read(raw.data(), raw.size(), out, net_out);
    if (!net_out.empty() && !send_raw(net_out, limit, "write to", error)) return -1;
    if (status == TlsSession::Status::kError) {
      error = "read from " + peer_ + ": TLS: " + tls_->error();
      return -1;
    }
    if (out.size() > before) return static_cast<long>(out.size() - before);
    if (status == TlsSession::Status::kClosed) return 0;
  }
}

bool Connection::idle_usable() const {
  pollfd p{fd_, POLLIN, 0};
  // Readable while idle means end of file, an error or bytes nobody asked for.
  return poll(&p, 1, 0) == 0;
}

}  // namespace pelt::http_detail
