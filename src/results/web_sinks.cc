// The outputs made of the summary document: the HTML report, JUnit XML and the live dashboard.
#include "results/dashboard_server.h"
#include "results/html_report.h"
#include "results/junit.h"
#include "results/sink.h"
#include "results/summary.h"
#include "util/atomic_file.h"
#include "util/units.h"

namespace pelt {
namespace {

class HtmlReportSink : public Sink {
 public:
  explicit HtmlReportSink(std::string path) : path_(std::move(path)) {}
  bool on_final(const RunReport& report, std::string& error) override {
    return write_file_atomic(path_, render_report_html(build_summary_json(report)), error);
  }

 private:
  std::string path_;  // where the report goes
};

class JunitSink : public Sink {
 public:
  explicit JunitSink(std::string path) : path_(std::move(path)) {}
  bool on_final(const RunReport& report, std::string& error) override {
    return write_file_atomic(path_, render_junit_xml(build_summary_json(report)), error);
  }

 private:
  std::string path_;  // where the XML goes
};

class DashboardSink : public Sink {
 public:
  DashboardSink(std::unique_ptr<DashboardServer> server, std::chrono::milliseconds linger,
                Console& console)
      : server_(std::move(server)), linger_(linger), console_(console) {}

  void on_tick(const RunReport& live) override { server_->publish(build_summary_json(live)); }

  bool on_final(const RunReport& report, std::string&) override {
    server_->finish(build_summary_json(report));
    return true;
  }

  void linger(const std::function<bool()>& stopped) override {
    if (linger_.count() <= 0) return;
    console_.notice("pelt: run finished; the dashboard stays up on http://" + server_->address() +
                    "/ for " +
                    format_duration_short(std::chrono::duration_cast<std::chrono::microseconds>(linger_)) +
                    " (Ctrl-C ends it)");
    // The server lingers on its own thread; a stop request ends the wait within 100 ms.
    const auto deadline = std::chrono::steady_clock::now() + linger_;
    while (!stopped() && std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      server_->linger(std::min(left, std::chrono::milliseconds(100)));
    }
    server_->stop();
  }

 private:
  std::unique_ptr<DashboardServer> server_;  // serves the page and the ticks
  std::chrono::milliseconds linger_;         // how long to stay up after the run
  Console& console_;                         // for the linger notice
};

}  // namespace

std::unique_ptr<Sink> make_html_report_sink(const std::string& path) {
  return std::make_unique<HtmlReportSink>(path);
}

std::unique_ptr<Sink> make_junit_sink(const std::string& path) {
  return std::make_unique<JunitSink>(path);
}

std::unique_ptr<Sink> make_dashboard_sink(std::unique_ptr<DashboardServer> server,
                                          std::chrono::milliseconds linger, Console& console) {
  return std::make_unique<DashboardSink>(std::move(server), linger, console);
}

}  // namespace pelt
