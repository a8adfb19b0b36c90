// The observer of a run with [observe]: on a thread of its own, it asks Prometheus about each
// stage once the stage is over (after query_delay, as scrapes lag behind), and about the whole
// run at its end, keeping each query's average, minimum and maximum (results/observe_results.h).
// Before the load it asks every query once, so a bad query (Prometheus's own message) or an
// unreachable server stops the run before it starts; during the run nothing it meets — the
// server gone, a query without data — stops the run: the figure says why instead.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "observe/observe_config.h"
#include "observe/prometheus_api.h"
#include "results/observe_results.h"
#include "results/report.h"

namespace pelt {

class Observer {
 public:
  // A stage as planned: scenario and stage index, and its span in run seconds.
  struct Span {
    size_t scenario = 0, stage = 0;  // indexes
    double from_s = 0, to_s = 0;     // run time it begins and ends, seconds
  };

  Observer(std::string prometheus, std::vector<ObserveQuery> queries,
           std::chrono::milliseconds query_delay, std::chrono::milliseconds timeout);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Before the load: every query once. False with a message when Prometheus cannot be reached
  // or refuses a query; `notes` gets a line for each query without data so far.
  bool check(std::string& error, std::vector<std::string>& notes);
  // The run began at `start_unix` (wall clock, seconds); the stages it plans. Starts the thread.
  void begin(double start_unix, std::vector<Span> spans);
  // The run ended `elapsed_s` after it began: spans are cut there (stages that never began are
  // marked so), the whole run's span is added, and what is left is asked — after query_delay,
  // or at once when `at_once` (a stopped run) — before this returns (bounded: query_delay plus
  // a few timeouts).
  void finish(double elapsed_s, bool at_once);
  // A copy of what is known now (thread-safe).
  ObserveResults results() const;

 private:
  struct Job {
    bool run = false;  // the whole run (else a stage)
    size_t scenario = 0, stage = 0;
    double from_s = 0, to_s = 0;  // run seconds
    double due_unix = 0;          // when to ask
    bool done = false;
  };

  void loop();
  void ask(const Job& job);

  std::vector<ObserveQuery> queries_;
  double delay_s_;  // query_delay, seconds
  std::chrono::milliseconds timeout_;
  std::unique_ptr<PrometheusApi> api_;
  mutable std::mutex mu_;       // guards everything below
  std::condition_variable cv_;  // jobs changed, or stopping
  ObserveResults results_;
  std::vector<Job> jobs_;
  double start_unix_ = 0;  // run time 0, wall clock
  bool stopping_ = false;  // finish() was called: leave when every job is done
  std::thread thread_;
};

// The observer of a run: from the file's [observe] and --observe-prometheus (`flag_url`, which
// wins), for a target on `target_host`; its queries already asked once (check()). Null with
// `error` empty when the run observes nothing; null with `error` set (a message for exit 2) for
// a table without a server, thresholds on observe.* without one, an unreachable Prometheus or a
// query it refuses. `notes` gets what to tell the user before the load.
std::unique_ptr<Observer> open_observer(const RunConfig& config, const std::string& flag_url,
                                        const std::string& target_host,
                                        std::vector<std::string>& notes, std::string& error);

// Every stage of every scenario as planned, in run seconds.
std::vector<Observer::Span> planned_spans(const RunInfo& info);

}  // namespace pelt
