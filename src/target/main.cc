// pelt-target: the small, fast HTTP/1.1 server pelt's tests, demo and benchmarks run against.
//
//   pelt-target [--listen ADDR:PORT] [--threads N] [--quiet]
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

#include "target/serve_loop.h"
#include "target/state.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr int kMaxThreads = 256;  // upper bound of --threads

struct ServeOptions {
  std::string host = "127.0.0.1";  // address to listen on (IPv4 or IPv6 literal)
  int port = 8080;                 // TCP port, 0 for any free port
  int threads = 1;                 // serve loops, one thread, event loop and listener each
  bool quiet = false;              // print nothing but the listening line
};

void usage(FILE* out) {
  fmt::print(out,
             "usage: pelt-target [--listen ADDR:PORT] [--threads N] [--quiet]\n"
             "  --listen ADDR:PORT  address to serve on (default 127.0.0.1:8080; port 0 = any "
             "free port; IPv6 as [::1]:PORT)\n"
             "  --threads N         serve loops, one thread and event loop each (default 1)\n"
             "  --quiet             print only the listening line\n");
}

bool parse_listen(std::string_view spec, ServeOptions& o) {
  size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = parse_uint(spec.substr(colon + 1));
  if (host.empty() || !port || *port > 65535) return false;
  o.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  o.port = static_cast<int>(*port);
  return true;
}

// Returns 0 to run, otherwise the exit code (help: 0 printed via `exit_now`).
int parse_args(int argc, char** argv, ServeOptions& o, bool& exit_now) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    size_t eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if ((arg == "--listen" || arg == "--threads") && i + 1 < argc) {
      value = argv[++i];
    }
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      exit_now = true;
      return 0;
    } else if (arg == "--quiet" || arg == "-q") {
      o.quiet = true;
    } else if (arg == "--listen" && parse_listen(value, o)) {
    } else if (arg == "--threads" && parse_uint(value) && *parse_uint(value) >= 1 &&
               *parse_uint(value) <= kMaxThreads) {
      o.threads = static_cast<int>(*parse_uint(value));
    } else {
      fmt::print(stderr, "pelt-target: bad argument '{}'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  return 0;
}

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
  bool exit_now = false;
  if (int rc = parse_args(argc, argv, opt, exit_now); rc != 0 || exit_now) return rc;
  raise_fd_limit(opt.quiet);
  signal(SIGPIPE, SIG_IGN);

  // Block SIGINT/SIGTERM before any thread starts: only the main thread receives them (sigwait).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  SharedState state(opt.threads);
  std::vector<std::unique_ptr<ServeLoop>> loops;
  int port = opt.port;
  for (int i = 0; i < opt.threads; ++i) {
    auto w = std::make_unique<ServeLoop>();
    w->index = i;
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
    fmt::print(stderr, "pelt-target: {} thread(s); Ctrl-C to stop\n", opt.threads);
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
