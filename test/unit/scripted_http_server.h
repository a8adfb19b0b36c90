// Test helper: a tiny HTTP/1.1 server on loopback (free port) whose answers a test scripts.
// It records every request, answers with whatever the handler returns (raw bytes, so tests
// can send chunked, close-delimited or broken responses), and can hold a request unanswered.
// Everything is bounded: each wait polls a stop flag, and the destructor stops the thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pelt::test {

// One request as received.
struct SeenRequest {
  std::string method;  // "POST"
  std::string target;  // "/write?db=x"
  std::string head;    // the whole header block, request line included
  std::string body;    // the body (Content-Length bytes)
  int connection = 0;  // 1 for the first connection accepted, 2 for the next ...

  // Value of a header (case-insensitive name), "" when absent.
  std::string header(const std::string& name) const {
    std::string lower_head = head;
    for (char& c : lower_head) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + name + ":";
    for (char& c : key) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    const size_t at = lower_head.find(key);
    if (at == std::string::npos) return "";
    size_t start = at + key.size();
    while (start < head.size() && head[start] == ' ') ++start;
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// What to do with a request.
struct Reply {
  std::string raw;           // bytes to send ("" with hang = never answer)
  bool hang = false;         // keep the connection open and never answer
  bool close_after = false;  // close the connection after sending raw
};

// "HTTP/1.1 <status> X\r\nContent-Length: n\r\n<extra>\r\n<body>".
inline Reply http_reply(int status, const std::string& body = "", const std::string& extra = "") {
  return Reply{"HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body,
               false, false};
}

class ScriptedHttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&, size_t index)>;

  explicit ScriptedHttpServer(Handler handler, bool ipv6 = false) : handler_(std::move(handler)) {
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ipv6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      socklen_t len = sizeof(a);
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin6_port);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      socklen_t len = sizeof(a);
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
    bound_ = bound_ && listen(fd_, 64) == 0;
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedHttpServer() {
    stop_ = true;
    thread_.join();
    for (std::thread& t : workers_) t.join();
    close(fd_);
  }

  bool ok() const { return bound_; }
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return std::string(ipv6_host() ? "http://[::1]:" : "http://127.0.0.1:") +
           std::to_string(port_) + path;
  }
  std::vector<SeenRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  int connections() const { return connections_; }

 private:
  bool ipv6_host() const {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return a.ss_family == AF_INET6;
  }

  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      const int id = ++connections_;
      workers_.emplace_back([this, c, id] { handle(c, id); });
    }
  }

  // Reads requests from one connection until it closes, stop_ is set, or a reply says so.
  void handle(int c, int id) {
    std::string buffer;
    bool open = true;
    while (open && !stop_) {
      SeenRequest r;
      size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(c, buffer)) {
          close(c);
          return;
        }
      }
      r.head = buffer.substr(0, header_end + 2);
      r.method = r.head.substr(0, r.head.find(' '));
      const size_t t0 = r.head.find(' ') + 1;
      r.target = r.head.substr(t0, r.head.find(' ', t0) - t0);
      r.connection = id;
      const std::string cl = r.header("Content-Length");
      const size_t length = cl.empty() ? 0 : std::stoul(cl);
      buffer.erase(0, header_end + 4);
      while (buffer.size() < length) {
        if (!read_more(c, buffer)) {
          close(c);
          return;
        }
      }
      r.body = buffer.substr(0, length);
      buffer.erase(0, length);
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen_.push_back(r);
        index = seen_.size() - 1;
      }
      const Reply reply = handler_(r, index);
      if (reply.hang) {
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        break;
      }
      size_t sent = 0;
      while (sent < reply.raw.size()) {
        const ssize_t n = send(c, reply.raw.data() + sent, reply.raw.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      open = !reply.close_after;
    }
    close(c);
  }

  bool read_more(int c, std::string& buffer) {
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char tmp[65536];
      const ssize_t n = recv(c, tmp, sizeof(tmp), 0);
      if (n <= 0) return false;
      buffer.append(tmp, static_cast<size_t>(n));
      return true;
    }
    return false;
  }

  Handler handler_;                   // decides every reply
  int fd_ = -1;                       // listening socket
  int port_ = 0;                      // its port
  bool bound_ = false;                // bind and listen worked
  std::atomic<bool> stop_{false};     // tells every thread to finish
  std::atomic<int> connections_{0};   // connections accepted
  mutable std::mutex mutex_;          // guards seen_
  std::vector<SeenRequest> seen_;     // every request, in arrival order
  std::thread thread_;                // accept loop
  std::vector<std::thread> workers_;  // one per connection (only touched by thread_ until join)
};

}  // namespace pelt::test
