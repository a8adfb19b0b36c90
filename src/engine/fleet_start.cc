#include "engine/fleet_start.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "results/metrics.h"

namespace pelt {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kClientTimeoutMs = 2000;

void reply(int client, const char* status, const std::string& body) {
  const std::string text = std::string("HTTP/1.1 ") + status +
                           "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = send(client, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Compares without an early exit, so the token cannot be guessed byte by byte from timings.
bool same(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return s;
}

}  // namespace

ControlServer::ControlServer(int fd, std::string address, std::string token)
    : fd_(fd), address_(std::move(address)), token_(std::move(token)) {}

ControlServer::~ControlServer() {
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<ControlServer> ControlServer::start(const std::string& listen,
                                                    const std::string& token, std::string& error) {
  if (token.size() < 16) {
    error = std::string("--paused needs a start token of at least 16 characters in $") +
            kControlTokenEnv + " (POST /start must carry it as \"Authorization: Bearer TOKEN\")";
    return nullptr;
  }
  std::string host;
  uint16_t port = 0;
  if (!parse_listen_address(listen.empty() ? "127.0.0.1:6565" : listen, host, port, error)) {
    error = "--control: " + error;
    return nullptr;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a4->sin_addr);
    len = sizeof(sockaddr_in);
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
    error = "--control: cannot listen on " + (listen.empty() ? "127.0.0.1:6565" : listen) + ": " +
            std::strerror(errno);
    if (fd >= 0) close(fd);
    return nullptr;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t real =
      ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(real);
  return std::unique_ptr<ControlServer>(new ControlServer(fd, address, token));
}

bool ControlServer::serve(int client) {
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    pollfd p{client, POLLIN, 0};
    if (poll(&p, 1, kClientTimeoutMs) <= 0) return false;
    const ssize_t n = recv(client, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    request.append(buf, static_cast<size_t>(n));
  }
  const size_t line_end = request.find("\r\n");
  const std::string line = request.substr(0, line_end);
  const bool post = line.rfind("POST /start ", 0) == 0;
  if (line.rfind("GET /ready ", 0) == 0) {
    reply(client, "200 OK", "ready\n");
    return false;
  }
  if (!post) {
    reply(client, "404 Not Found", "POST /start or GET /ready\n");
    return false;
  }
  std::string auth;
  size_t at = line_end;
  while (at != std::string::npos && at + 2 < request.size()) {
    const size_t next = request.find("\r\n", at + 2);
    const std::string header = request.substr(at + 2, next - at - 2);
    const size_t colon = header.find(':');
    if (colon != std::string::npos && lower(header.substr(0, colon)) == "authorization") {
      auth = header.substr(colon + 1);
      while (!auth.empty() && auth.front() == ' ') auth.erase(auth.begin());
      while (!auth.empty() && (auth.back() == ' ' || auth.back() == '\r')) auth.pop_back();
    }
    at = next;
  }
  if (lower(auth.substr(0, 7)) != "bearer " || !same(auth.substr(7), token_)) {
    reply(client, "401 Unauthorized", "a start needs \"Authorization: Bearer TOKEN\"\n");
    return false;
  }
  reply(client, "202 Accepted", "starting\n");
  return true;
}

bool ControlServer::wait_for_start(const std::function<bool()>& stopped,
                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stopped() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const bool go = serve(client);
    close(client);
    if (go) return true;
  }
  return false;
}

bool wait_for_fleet_start(const FleetOptions& fleet, ControlServer* control,
                          const std::function<bool()>& stopped, std::string& why,
                          std::chrono::milliseconds paused_wait) {
  if (fleet.paused && control != nullptr && !control->wait_for_start(stopped, paused_wait)) {
    why = stopped() ? "stopped while paused" : "no start signal came";
    return false;
  }
  if (!fleet.start_at) return true;
  const auto target = *fleet.start_at;
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(target.time_since_epoch()).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  // Sleep in slices of at most 100 ms so a stop signal is noticed, the last one to the instant.
  while (!stopped()) {
    const auto left = target - std::chrono::system_clock::now();
    if (left <= std::chrono::nanoseconds(0)) return true;
    if (left > std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    return true;
  }
  why = "stopped while waiting for --start-at";
  return false;
}

}  // namespace pelt
