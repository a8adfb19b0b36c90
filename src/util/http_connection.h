// Internal to the HTTP client (http_client.cc): one TCP connection, optionally wrapped in TLS,
// with every wait bounded by a limit and cut short by a wake-up file descriptor.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "wire/tls.h"

namespace pelt::http_detail {

using Clock = std::chrono::steady_clock;

// When a wait must end, and how to say so when it does.
struct Limit {
  Clock::time_point at;  // the wait fails at this time
  std::string what;      // e.g. "timeout after 2s" or "deadline reached"
};

// The earlier of now + timeout (described as "timeout after ...") and deadline
// ("deadline reached").
Limit make_limit(std::chrono::milliseconds timeout, Clock::time_point deadline);

// "ECONNREFUSED" (falls back to the errno's description).
std::string errno_name(int err);

class Connection {
 public:
  // Resolves host, connects to the first address that answers and, when tls_context is not
  // null, completes the TLS handshake (verifying host as configured in the context). wake_fd
  // is polled beside the socket: once readable every wait fails with "interrupted".
  static std::unique_ptr<Connection> open(const std::string& host, const std::string& port,
                                          TlsContext* tls_context, int wake_fd, const Limit& limit,
                                          std::string& error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all of data (encrypting it with TLS). False with error set on failure.
  bool write_all(std::string_view data, const Limit& limit, std::string& error);

  // Waits for data and appends the plaintext to out. Returns the number of bytes appended
  // (> 0), 0 when the server closed the connection, -1 on error (error set).
  long read_some(std::string& out, const Limit& limit, std::string& error);

  // For a kept-alive connection about to be reused: false when the server has closed it or
  // sent something unexpected meanwhile.
  bool idle_usable() const;

  const std::string& peer() const { return peer_; }  // "127.0.0.1:8086", "[::1]:8086"

 private:
  Connection(int fd, int wake_fd, std::string peer) : fd_(fd), wake_fd_(wake_fd), peer_(peer) {}

  // Waits until the socket is ready for `events` (POLLIN/POLLOUT). False with error set
  // ("<step> <peer>: timeout after 2s", "interrupted") otherwise.
  bool wait(short events, const Limit& limit, const char* step, std::string& error) const;
  // Raw socket I/O with waiting; same results as write_all/read_some without TLS.
  bool send_raw(std::string_view data, const Limit& limit, const char* step, std::string& error);
  long recv_raw(std::string& out, const Limit& limit, const char* step, std::string& error);
  bool handshake(TlsContext& context, const std::string& host, const std::string& port,
                 const Limit& limit, std::string& error);

  int fd_ = -1;                      // the socket, non-blocking, owned
  int wake_fd_ = -1;                 // eventfd of the client (not owned)
  std::string peer_;                 // numeric address for messages
  std::unique_ptr<TlsSession> tls_;  // TLS state, null for plain http
};

}  // namespace pelt::http_detail
