#include "target/serve_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "target/exchange.h"
#include "target/peer.h"
#include "target/pool.h"

namespace pelt::target {
namespace {

constexpr int kListenBacklog = 4096;  // pending connections the kernel queues per listener

void on_stop(uv_async_t* async) {
  uv_stop(async->loop);
}

void run(ServeLoop* w) {
  uv_run(&w->uv, UV_RUN_DEFAULT);
}

// Arms wait_fd for the earliest pending deadline (or disarms it when nothing waits).
void arm_waits(ServeLoop& w) {
  const uint64_t due = w.waits.empty() ? 0 : w.waits.begin()->first;
  if (due == w.wait_armed_ns) return;
  w.wait_armed_ns = due;
  itimerspec its{};
  if (due != 0) {
    its.it_value.tv_sec = static_cast<time_t>(due / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(due % 1'000'000'000);
  }
  timerfd_settime(w.wait_fd, TFD_TIMER_ABSTIME, &its, nullptr);
}

void on_waits_due(uv_poll_t* poll, int, int) {
  auto* w = static_cast<ServeLoop*>(poll->data);
  uint64_t expirations;
  while (read(w->wait_fd, &expirations, sizeof(expirations)) > 0) {
  }
  w->wait_armed_ns = 0;  // fired (or disarmed): arm_waits sets it again
  const uint64_t now = uv_hrtime();
  while (!w->waits.empty() && w->waits.begin()->first <= now) {
    Exchange* x = w->waits.begin()->second;
    w->waits.erase(w->waits.begin());
    x->end_wait();  // may queue new waits or cancel others
  }
  arm_waits(*w);
}

void on_grants(uv_async_t* async) {
  auto* w = static_cast<ServeLoop*>(async->data);
  std::vector<std::pair<uint64_t, uint64_t>> grants;
  {
    std::lock_guard lock(w->grant_mu);
    grants.swap(w->grants);
  }
  for (auto [ticket, free_ns] : grants) {
    auto it = w->pool_tickets.find(ticket);
    if (it == w->pool_tickets.end()) {
      w->state->pool()->release(free_ns);  // its request went away meanwhile: pass it on
      continue;
    }
    Exchange* x = it->second;
    w->pool_tickets.erase(it);
    x->pool_slot_granted(free_ns);
  }
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

WaitQueue::iterator add_wait(ServeLoop& w, uint64_t due_ns, Exchange* x) {
  auto it = w.waits.emplace(due_ns, x);
  arm_waits(w);
  return it;
}

void cancel_wait(ServeLoop& w, WaitQueue::iterator it) {
  w.waits.erase(it);
  // A timerfd left armed for a cancelled deadline only wakes the loop once for nothing.
}

bool start_serve_loop(ServeLoop& w) {
  if (uv_loop_init(&w.uv) != 0) return false;
  w.wait_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (w.wait_fd < 0 || uv_poll_init(&w.uv, &w.wait_poll, w.wait_fd) != 0) return false;
  w.wait_poll.data = &w;
  uv_poll_start(&w.wait_poll, UV_READABLE, on_waits_due);
  if (uv_tcp_init(&w.uv, &w.listener) != 0 ||
      uv_tcp_open(&w.listener, static_cast<uv_os_sock_t>(w.listen_fd)) != 0) {
    return false;
  }
  w.listener.data = &w;
  if (uv_listen(reinterpret_cast<uv_stream_t*>(&w.listener), kListenBacklog,
                Peer::on_new_connection) != 0) {
    return false;
  }
  if (uv_async_init(&w.uv, &w.stop_async, on_stop) != 0) return false;
  if (uv_async_init(&w.uv, &w.grant_async, on_grants) != 0) return false;
  w.grant_async.data = &w;
  w.thread = std::thread(run, &w);
  return true;
}

void post_pool_grant(ServeLoop& w, uint64_t ticket, uint64_t free_ns) {
  {
    std::lock_guard lock(w.grant_mu);
    w.grants.emplace_back(ticket, free_ns);
  }
  uv_async_send(&w.grant_async);
}

void stop_serve_loop(ServeLoop& w) {
  if (!w.thread.joinable()) return;
  uv_async_send(&w.stop_async);
  w.thread.join();
  if (w.wait_fd >= 0) close(w.wait_fd);
  w.wait_fd = -1;
}

}  // namespace pelt::target
