#include "target/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "target/connection.h"

namespace pelt::target {
namespace {

constexpr int kListenBacklog = 4096;  // pending connections the kernel queues per listener

void on_stop(uv_async_t* async) {
  uv_stop(async->loop);
}

void run(Worker* w) {
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

}  // namespace

int bind_reuseport(const std::string& host, int port, int& bound_port) {
  sockaddr_storage addr{};
  socklen_t len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return -EINVAL;
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  bound_port =
      ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return fd;
}

bool start_worker(Worker& w) {
  if (uv_loop_init(&w.loop) != 0) return false;
  if (uv_tcp_init(&w.loop, &w.listener) != 0 ||
      uv_tcp_open(&w.listener, static_cast<uv_os_sock_t>(w.listen_fd)) != 0) {
    return false;
  }
  w.listener.data = &w;
  if (uv_listen(reinterpret_cast<uv_stream_t*>(&w.listener), kListenBacklog,
                Connection::on_new_connection) != 0) {
    return false;
  }
  if (uv_async_init(&w.loop, &w.stop_async, on_stop) != 0) return false;
  w.thread = std::thread(run, &w);
  return true;
}

void stop_worker(Worker& w) {
  if (!w.thread.joinable()) return;
  uv_async_send(&w.stop_async);
  w.thread.join();
}

}  // namespace pelt::target
