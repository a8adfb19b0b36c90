#include "engine/signals.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

namespace pelt {
namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kSecondNs + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

SignalWatcher::SignalWatcher() {
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  thread_ = std::thread([this] { watch(); });
}

SignalWatcher::~SignalWatcher() {
  closing_.store(true);
  // Wake the watcher with a signal of its own set, sent to its thread only.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void SignalWatcher::watch() {
  for (;;) {
    siginfo_t info{};
    const int sig = sigwaitinfo(&set_, &info);
    if (closing_.load()) return;
    if (sig < 0) continue;  // EINTR
    const uint64_t now = monotonic_ns();
    // The terminal driver sends SIGINT for Ctrl-C with si_code SI_KERNEL; kill() and timeout
    // send SI_USER (or SI_QUEUE, SI_TKILL).
    const bool interactive = sig == SIGINT && info.si_code == SI_KERNEL;
    if (interactive && first_interactive_ns_ != 0 && now - first_interactive_ns_ >= kSecondNs) {
      const char msg[] = "\npelt: interrupted again, exiting without a summary\n";
      ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
      (void)ignored;
      _exit(130);
    }
    if (interactive && first_interactive_ns_ == 0) first_interactive_ns_ = now;
    stops_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace pelt
