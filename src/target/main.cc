// pelt-target: the small, fast HTTP server pelt's tests, demo and benchmarks run against
// (HTTP/1.1 and HTTP/2, plain or TLS).
//
//   pelt-target [--listen ADDR:PORT] [--threads N] [--quiet] [--tls ...] (see --help)
//
// Prints "pelt-target listening on ADDR:PORT" as its first stdout line once every thread
// listens, and exits 0 on SIGINT or SIGTERM.

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "target/options.h"
#include "target/serve_loop.h"
#include "target/state.h"
#include "target/tls.h"

namespace pelt::target {
namespace {

void raise_fd_limit(bool quiet) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0 && !quiet) {
    fmt::print(stderr, "pelt-target: could not raise the open file limit: {}\n",
               std::strerror(errno));
  }
}

int run(int argc, char** argv) {
  ServeOptions opt;
  if (int rc = parse_args(argc, argv, opt); rc >= 0) return rc;
  SSL_CTX* tls = nullptr;
  if (opt.tls) {
    std::string error;
    tls = make_tls_context(opt, error);
    if (tls == nullptr) {
      fmt::print(stderr, "pelt-target: {}\n", error);
      return 2;
    }
  }
  raise_fd_limit(opt.quiet);
  signal(SIGPIPE, SIG_IGN);

  // Block SIGINT/SIGTERM before any thread starts: only the main thread receives them (sigwait).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  SharedState state(opt.threads);
  if (opt.pool_slots > 0) state.enable_pool(opt.pool_slots, opt.pool_hold_ms * 1'000'000);
  std::vector<std::unique_ptr<ServeLoop>> loops;
  int port = opt.port;
  for (int i = 0; i < opt.threads; ++i) {
    auto w = std::make_unique<ServeLoop>();
    w->index = i;
    w->options = &opt;
    w->tls = tls;
    w->state = &state;
    w->counters = &state.counters(i);
    w->listen_fd = bind_reuseport(opt.host, port, port);  // later threads reuse the first port
    if (w->listen_fd < 0) {
      fmt::print(stderr, "pelt-target: cannot listen on {}:{}: {}\n", opt.host, port,
                 std::strerror(-w->listen_fd));
      return 1;
    }
    loops.push_back(std::move(w));
  }
  for (auto& w : loops) {
    if (!start_serve_loop(*w)) {
      fmt::print(stderr, "pelt-target: serve loop {} failed to start\n", w->index);
      return 1;
    }
  }
  bool v6 = opt.host.find(':') != std::string::npos;
  fmt::print("pelt-target listening on {}{}{}:{}\n", v6 ? "[" : "", opt.host, v6 ? "]" : "", port);
  std::fflush(stdout);
  if (!opt.quiet) {
    fmt::print(stderr, "pelt-target: {} thread(s){}; Ctrl-C to stop\n", opt.threads,
               opt.tls ? ", TLS" : "");
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  for (auto& w : loops) stop_serve_loop(*w);
  if (!opt.quiet) {
    std::string stats;
    state.stats_json(stats);
    fmt::print(stderr, "pelt-target: stopping on signal {}; {}", sig, stats);
  }
  std::fflush(stdout);
  // Connections still open are left to the kernel: the process is about to exit anyway.
  std::_Exit(0);
}

}  // namespace
}  // namespace pelt::target

int main(int argc, char** argv) {
  return pelt::target::run(argc, argv);
}
