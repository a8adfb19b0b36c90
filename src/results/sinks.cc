// The console outputs (progress line, text summary) and the JSON file.
#include <unistd.h>

#include <cmath>

#include "results/sink.h"
#include "results/series_json.h"
#include "results/summary.h"
#include "util/atomic_file.h"
#include "util/units.h"

namespace pelt {

Console::Console(std::FILE* out) : out_(out), tty_(isatty(fileno(out)) != 0) {}

void Console::progress(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tty_) {
    std::fprintf(out_, "\r\033[2K%s", line.c_str());
    drew_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void Console::end_progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (drew_) std::fprintf(out_, "\n");
  drew_ = false;
}

void Console::notice(const std::string& text) {
  end_progress();
  std::lock_guard<std::mutex> lock(mutex_);
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

namespace {

class ProgressSink : public Sink {
 public:
  ProgressSink(Console& console, bool quick) : console_(console) {
    // Quick mode prints no progress when stderr is not a terminal (wrk prints none at all).
    enabled_ = console.tty() || !quick;
    every_ = console.tty() ? 1.0 : 10.0;
    next_ = every_;
  }

  void on_tick(const RunReport& snap) override {
    if (!enabled_ || snap.elapsed_seconds < next_) return;
    next_ += every_;
    const WorkerStats& now = snap.stats;
    const double interval = snap.elapsed_seconds - last_at_;
    const double rps = interval > 0 ? static_cast<double>(now.ledger.completed - last_completed_) / interval : 0;
    last_completed_ = now.ledger.completed;
    last_at_ = snap.elapsed_seconds;
    uint32_t vus = 0, vus_max = 0;
    std::string where;
    for (size_t i = 0; i < now.scenarios.size() && i < snap.info.scenarios.size(); ++i) {
      const ScenarioStats& s = now.scenarios[i];
      const ScenarioInfo& info = snap.info.scenarios[i];
      vus += s.vus;
      vus_max += s.vus_max;
      if (!where.empty()) where += ", ";
      where += info.name;
      if (info.stages.size() > 1) {
        where += " stage " + std::to_string(s.stage + 1) + "/" + std::to_string(info.stages.size());
      }
    }
    const Totals t = read_totals(now);
    const double err_pct = t.http_reqs ? 100.0 * static_cast<double>(t.http_failed) / static_cast<double>(t.http_reqs) : 0;
    char line[512];
    std::snprintf(line, sizeof(line), "[%s / %s] %s | vus %u/%u | %.1f req/s | p95 %s | errors %.2f%%",
                  format_duration_short(std::chrono::seconds(std::llround(snap.elapsed_seconds))).c_str(),
                  format_duration_short(std::chrono::seconds(std::llround(snap.info.planned_seconds))).c_str(),
                  where.c_str(), vus, vus_max, rps,
                  format_time_us(static_cast<double>(now.latency.percentile(95))).c_str(), err_pct);
    console_.progress(line);
  }

  bool on_final(const RunReport&, std::string&) override {
    console_.end_progress();
    return true;
  }

 private:
  Console& console_;
  bool enabled_ = true;         // prints at all
  double every_ = 1;            // seconds between lines
  double next_ = 1;             // run time of the next line
  double last_at_ = 0;          // run time of the previous line
  uint64_t last_completed_ = 0; // completed requests at the previous line
};

class TextSummarySink : public Sink {
 public:
  explicit TextSummarySink(std::FILE* out) : out_(out) {}
  void on_start(const RunInfo& info) override {
    if (info.quick) print_wrk_header(out_, info);
  }
  bool on_final(const RunReport& report, std::string&) override {
    if (report.info.quick) {
      print_wrk_summary(out_, report);
    } else {
      print_run_summary(out_, report);
    }
    std::fflush(out_);
    return true;
  }

 private:
  std::FILE* out_;  // stdout
};

class JsonFileSink : public Sink {
 public:
  explicit JsonFileSink(std::string path) : path_(std::move(path)) {}
  bool on_final(const RunReport& report, std::string& error) override {
    return write_summary_json(path_, report, error);
  }

 private:
  std::string path_;  // where the document goes
};

class TimeSeriesFileSink : public Sink {
 public:
  explicit TimeSeriesFileSink(std::string path) : path_(std::move(path)) {}
  bool on_final(const RunReport& report, std::string& error) override {
    const bool json_lines = path_.size() >= 6 && path_.compare(path_.size() - 6, 6, ".jsonl") == 0;
    static const TimeSeries kNone;
    return write_file_atomic(path_, timeseries_file_text(report.timeseries ? *report.timeseries : kNone,
                                                         report.info, json_lines), error);
  }

 private:
  std::string path_;  // where the rows go
};

}  // namespace

std::unique_ptr<Sink> make_timeseries_file_sink(const std::string& path) {
  return std::make_unique<TimeSeriesFileSink>(path);
}

std::unique_ptr<Sink> make_progress_sink(Console& console, bool quick) {
  return std::make_unique<ProgressSink>(console, quick);
}

std::unique_ptr<Sink> make_text_summary_sink(std::FILE* out) {
  return std::make_unique<TextSummarySink>(out);
}

std::unique_ptr<Sink> make_json_file_sink(const std::string& path) {
  return std::make_unique<JsonFileSink>(path);
}

}  // namespace pelt
