// Signals, handled once each, whichever thread the kernel picks: SIGINT and SIGTERM are blocked
// in every thread of the process (the mask is set before any thread starts, and threads
// inherit it) and one watcher thread takes them with sigwaitinfo(). The run reads what
// happened from here: a stop was asked for, and whether the user asked twice at a terminal.
//
// Rules (docs/ERRORS.md, "Stopping a run"):
// - the first SIGINT or SIGTERM stops the run; the summary and every requested output are
//   still written;
// - SIGTERM never skips the outputs, however often it comes (CI runners send it twice);
// - a second SIGINT typed at a terminal (sent by the terminal driver, not by kill) at least a
//   second after the first one leaves at once, exit code 130, without a summary.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace pelt {

class SignalWatcher {
 public:
  // Blocks SIGINT and SIGTERM for the calling thread (and every thread it starts later), ignores
  // SIGPIPE, and starts the watcher thread.
  SignalWatcher();
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Stop signals received so far (SIGINT and SIGTERM).
  uint64_t stops() const { return stops_.load(std::memory_order_acquire); }

 private:
  void watch();

  std::atomic<uint64_t> stops_{0};   // SIGINT and SIGTERM received
  std::atomic<bool> closing_{false}; // the destructor runs
  uint64_t first_interactive_ns_ = 0;  // when the first terminal SIGINT arrived (watcher thread)
  sigset_t set_;                     // the signals taken by the watcher
  sigset_t previous_;                // the caller's mask before
  std::thread thread_;               // the watcher
};

}  // namespace pelt
