// Outputs behind one interface. The runner hands every sink the run's description when it
// starts, a live RunReport of the merged, redacted figures once a second, and the final
// RunReport at the end (also after Ctrl-C or SIGTERM); a new output is a new Sink, added to the
// list in engine/runner.cc, and nothing else changes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "results/report.h"

namespace pelt {

class Sink {
 public:
  virtual ~Sink() = default;
  // The run is about to start.
  virtual void on_start(const RunInfo& /*info*/) {}
  // Once a second while the run goes (report.live is true).
  virtual void on_tick(const RunReport& /*report*/) {}
  // The run is over, before any sink's on_final: outputs that push to a store deliver what is
  // left and add what they delivered or lost to the report (its summaries show it).
  virtual void before_final(RunReport& /*report*/) {}
  // The run is over. False with `error` set when the output could not be written.
  virtual bool on_final(const RunReport& /*report*/, std::string& /*error*/) { return true; }
  // After every sink's on_final: an output that keeps serving the final figures (metrics
  // linger) waits here; it returns early once `stopped()` turns true (Ctrl-C).
  virtual void linger(const std::function<bool()>& /*stopped*/) {}
};

// The terminal's stderr, shared by the progress line and the runner's notices: a notice first
// ends a progress line that is being redrawn in place.
class Console {
 public:
  explicit Console(std::FILE* out);
  bool tty() const { return tty_; }
  // Redraws the progress line in place (terminal) or prints it as a line (otherwise).
  void progress(const std::string& line);
  // A line of its own ("pelt: ..."), after ending a progress line in place.
  void notice(const std::string& text);
  // Ends a progress line drawn in place, if any.
  void end_progress();

 private:
  std::mutex mutex_;   // output senders' warnings come from their own threads
  std::FILE* out_;     // stderr
  bool tty_ = false;   // out_ is a terminal
  bool drew_ = false;  // a progress line is on screen without its newline
};

// The progress line: elapsed/total, scenario and stage, VUs, req/s, p95 and error rate; every
// second on a terminal, every 10 s otherwise (pelt run only: quick mode prints none there).
std::unique_ptr<Sink> make_progress_sink(Console& console, bool quick);
// The text summary on `out`: wrk's layout (quick mode, with its "Running ..." header at the
// start) or the k6-style summary (pelt run).
std::unique_ptr<Sink> make_text_summary_sink(std::FILE* out);
// The JSON document (docs/OUTPUT.md) written to `path`.
std::unique_ptr<Sink> make_json_file_sink(const std::string& path);
// The time series written to `path`: JSON lines when it ends in .jsonl, else CSV.
std::unique_ptr<Sink> make_timeseries_file_sink(const std::string& path);
// The self-contained HTML report (docs/REPORT.md) written to `path`.
std::unique_ptr<Sink> make_html_report_sink(const std::string& path);
// JUnit XML (one test case per threshold and per check) written to `path`.
std::unique_ptr<Sink> make_junit_sink(const std::string& path);

class DashboardServer;
// The live dashboard: the summary so far pushed to `server` once a second, the final one at
// the end, then served for up to `linger` (Ctrl-C ends it), saying so on the console.
std::unique_ptr<Sink> make_dashboard_sink(std::unique_ptr<DashboardServer> server,
                                          std::chrono::milliseconds linger, Console& console);

}  // namespace pelt
