#include "engine/runner.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <latch>
#include <memory>
#include <thread>

#include "config/config_identity.h"
#include "config/executors.h"
#include "engine/capacity_controller.h"
#include "engine/done_sink.h"
#include "engine/executors.h"
#include "engine/fleet_run.h"
#include "engine/fleet_start.h"
#include "engine/prepare.h"
#include "engine/signals.h"
#include "engine/worker.h"
#include "observe/observer.h"
#include "outputs/outputs_sink.h"
#include "results/metrics.h"
#include "results/dashboard_server.h"
#include "results/redact.h"
#include "results/report.h"
#include "results/sink.h"
#include "results/summary.h"
#include "util/units.h"
#include "wire/tls.h"
#include "wire/url.h"

namespace pelt {
namespace {

std::string make_run_id() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf) + "-" + std::to_string(getpid());
}

// Opens enough file descriptors for every VU, or says why it cannot.
bool ensure_fd_limit(uint64_t vus, std::string& error) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return true;
  const uint64_t need = vus + 64;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need) return true;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    error = std::to_string(vus) + " connections need about " + std::to_string(need) +
            " file descriptors, but this process may open at most " + std::to_string(rl.rlim_max) +
            " (hard limit): lower -c/VUs to " + std::to_string(rl.rlim_max > 64 ? rl.rlim_max - 64 : 0) +
            " or raise the hard limit (ulimit -Hn, /etc/security/limits.conf, or LimitNOFILE= for a service)";
    return false;
  }
  rlimit raised = rl;
  raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::max<rlim_t>(need, rl.rlim_cur);
  if (raised.rlim_max != RLIM_INFINITY && raised.rlim_cur > raised.rlim_max) raised.rlim_cur = raised.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    error = "cannot raise the open-file limit to " + std::to_string(need) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Local ports: one address pair can hold about as many connections as the ephemeral range.
bool check_port_range(uint64_t vus, size_t sources, std::string& error) {
  FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (!f) return true;
  unsigned lo = 0, hi = 0;
  const int n = std::fscanf(f, "%u %u", &lo, &hi);
  std::fclose(f);
  if (n != 2 || hi < lo) return true;
  const uint64_t ports = static_cast<uint64_t>(hi - lo + 1) * std::max<size_t>(1, sources);
  if (vus > ports) {
    error = std::to_string(vus) + " connections to one address need more local ports than the " +
            std::to_string(ports) + " available (net.ipv4.ip_local_port_range " + std::to_string(lo) +
            "-" + std::to_string(hi) + (sources > 1 ? " per --source address" : "") +
            "): spread them with --source 127.0.0.2,127.0.0.3,... or widen the range";
    return false;
  }
  return true;
}

// The stage layout of a plan, for the report.
std::vector<StageInfo> stage_infos(const ExecutorPlan& plan) {
  std::vector<StageInfo> stages;
  for (size_t i = 0; i < plan.stage_count(); ++i) {
    StageInfo info;
    info.target = plan.stage_target(i);
    info.start = plan.stage_start(i);
    info.length = (i + 1 < plan.stage_count() ? plan.stage_start(i + 1) : plan.duration()) - info.start;
    stages.push_back(info);
  }
  return stages;
}

double seconds_since(uint64_t t0_ns) {
  return static_cast<double>(uv_hrtime() - t0_ns) / 1e9;
}

// Outputs must be written this long after a stop, whatever state the workers are in.
constexpr double kStopGraceSeconds = 2.0;

class Run {
 public:
  Run(RunOptions& options, SignalWatcher& signals)
      : opt_(options), signals_(signals), redactor_(Redactor::for_run(options.config, options.env)),
        console_(stderr) {}
  // A worker did not stop in time: its thread still runs, so the process must end without
  // waiting for it (after every output is written).
  bool abandoned_workers() const { return abandoned_; }

  int prepare();
  void start();
  void monitor();
  int finish();

 private:
  // Merged, redacted snapshot of the workers' figures.
  std::unique_ptr<WorkerStats> merged_snapshot();
  // Moves the seconds the workers closed into the time series (request names redacted).
  void collect_seconds();
  // Once a second: thresholds (abort_on_fail) and the live outputs.
  void tick(double elapsed);
  // capacity-search: the controller, for a scenario whose rate is decided as it runs.
  void poll_capacity_search(double elapsed);
  void report_capacity_search(RunReport& report);
  // [observe]: the server's side of each stage, from Prometheus.
  int prepare_observe();
  void begin_observe();

  RunOptions& opt_;
  SignalWatcher& signals_;                  // SIGINT and SIGTERM
  Redactor redactor_;                       // the one redaction policy of every output
  Console console_;                         // stderr: progress line and notices
  RunInfo info_;                            // what the report says was asked for
  Url url_;                                 // the target
  std::vector<ExecutorPlan> plans_;         // by scenario index, built once
  std::vector<RequestSplit> request_splits_;  // sub-metrics the workers keep per request name
  PreparedRun prepared_;                    // Lua states and per-worker setups
  // The workers' start latches: a worker may still be inside go.wait() after start() returns,
  // so they live as long as the workers (declared before them, destroyed after them).
  std::unique_ptr<std::latch> ready_, go_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Sink>> sinks_;  // every output, in the order they run
  TimeSeries timeseries_;                   // the run second by second
  uint64_t t0_ns_ = 0;                      // the run's start, monotonic ns
  std::atomic<uint64_t> start_ns_{0};       // t0_ns_, for the workers (read after `go`)
  bool interrupted_ = false;                // stopped by a signal
  double stop_deadline_ = 0;                // run time by which the outputs must be written
  bool abandoned_ = false;                  // a worker was left running
  bool aborted_ = false;                    // stopped by an abort_on_fail threshold
  std::string abort_reason_;                // which threshold
  std::unique_ptr<ControlServer> control_;  // --paused: waits for POST /start
  std::vector<uint64_t> closed_seconds_;    // by worker: run seconds it has closed so far
  uint64_t waiting_now_ = 0;                // requests in flight at the last tick
  std::unique_ptr<CapacityController> capacity_;  // the capacity-search scenario's, if any
  std::unique_ptr<Observer> observer_;      // [observe] / --observe-prometheus, if any
};

int Run::prepare() {
  RunConfig& cfg = opt_.config;
  std::string error;
  if (!parse_url(cfg.target.url, url_, error)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }
  if (cfg.scenarios.empty()) {
    std::fprintf(stderr, "pelt: nothing to run: no scenario\n");
    return kExitUsage;
  }
  const int threads = std::max(1, opt_.threads);
  opt_.threads = threads;

  // TLS settings are checked once here so a bad --cacert is a usage error, not a run failure.
  if (url_.tls()) {
    TlsOptions tls;
    tls.verify = !cfg.target.insecure;
    tls.ca_file = cfg.target.cacert;
    if (!TlsContext::create(tls, error)) {
      std::fprintf(stderr, "pelt: TLS setup failed: %s\n", error.c_str());
      return kExitUsage;
    }
  }

  // What the run is, once.
  info_.run_id = opt_.fleet.run_id.empty() ? make_run_id() : opt_.fleet.run_id;
  info_.version = PELT_VERSION;
  info_.target = redactor_.clean(url_.redacted());
  info_.quick = opt_.quick;
  info_.source = cfg.source;
  info_.command_line = redactor_.clean(opt_.command_line);
  info_.threads = threads;
  info_.connections = opt_.connections;
  info_.duration = opt_.duration;
  info_.rate = opt_.rate;
  info_.latency = opt_.latency;
  info_.thresholds = cfg.thresholds;
  info_.fleet = fleet_info(opt_.fleet, plan_identity(cfg));
  info_.http = std::string(http_version_name(cfg.target.http));
  info_.streams = cfg.target.streams;
  info_.submetrics = cfg.submetrics;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> keys;
  for (const SubmetricConfig& sub : cfg.submetrics) keys.emplace_back(sub.metric, sub.tags);
  request_splits_ = request_splits(keys);
  // Connections: VUs share them in groups of `streams` (each worker opens its own).
  uint64_t total_vus = 0;
  const uint64_t streams = std::max<uint32_t>(cfg.target.streams, 1);
  for (const ScenarioConfig& sc : cfg.scenarios) {
    plans_.emplace_back(plan_spec(sc));
    const ExecutorPlan& plan = plans_.back();
    total_vus += std::min<uint64_t>(plan.max_vus(),
                                    (plan.max_vus() + streams - 1) / streams + threads - 1);
    ScenarioInfo si;
    si.name = sc.name;
    si.executor = std::string(executor_info(sc.executor).name);
    si.arrival_rate = plan.arrival_rate();
    si.tags = sc.tags;
    si.start_time = sc.start_time;
    si.stages = stage_infos(plan);
    info_.scenarios.push_back(std::move(si));
    info_.planned_seconds = std::max(info_.planned_seconds,
                                     static_cast<double>((sc.start_time + plan.duration()).count()) / 1e6);
  }

  int code = kExitUsage;
  if (!prepare_scripts(cfg, url_, threads, opt_.script_args, opt_.env, prepared_, error, code)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return code;
  }
  // The scripts' own metrics (defined at their top level or in init()), then the thresholds.
  std::vector<std::vector<CustomMetricInfo>> custom;
  for (const PreparedScenario& ps : prepared_.scenarios) {
    if (ps.main) custom.push_back(ps.main->custom_metrics());
  }
  for (const auto& worker : prepared_.workers) {
    for (const ScenarioSetup& setup : worker) {
      if (setup.script) custom.push_back(setup.script->custom_metrics());
    }
  }
  if (!resolve_custom_metrics(custom, info_, error)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!ensure_fd_limit(total_vus, error) || !check_port_range(total_vus, opt_.sources.size(), error)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }
  if (const int observe = prepare_observe(); observe != kExitOk) return observe;

  // Outputs, in the order they write at the end.
  if (!opt_.quiet) sinks_.push_back(make_progress_sink(console_, opt_.quick));
  sinks_.push_back(make_text_summary_sink(stdout));
  for (const std::string& path : {opt_.json_path, opt_.summary_json_path}) {
    if (!path.empty()) sinks_.push_back(make_json_file_sink(path));
  }
  if (!opt_.timeseries_path.empty()) sinks_.push_back(make_timeseries_file_sink(opt_.timeseries_path));
  if (!opt_.report_path.empty()) sinks_.push_back(make_html_report_sink(opt_.report_path));
  if (!opt_.junit_path.empty()) sinks_.push_back(make_junit_sink(opt_.junit_path));
  if (opt_.dashboard) {
    auto dash = std::make_unique<DashboardServer>();
    if (!dash->start(opt_.dashboard_listen, error)) {
      std::fprintf(stderr, "pelt: dashboard: %s\n", error.c_str());
      return kExitUsage;
    }
    std::fprintf(stderr, "pelt: live dashboard on http://%s/\n", dash->address().c_str());
    sinks_.push_back(make_dashboard_sink(std::move(dash), opt_.dashboard_linger, console_));
  }
  sinks_.push_back(make_done_hooks_sink(prepared_.scenarios));
  MetricsOptions mo;
  mo.listen = !opt_.metrics_listen.empty() ? opt_.metrics_listen : cfg.metrics.listen;
  mo.buckets = cfg.metrics.buckets;
  mo.version = info_.version;
  mo.run_id = info_.run_id;
  mo.target = info_.target;
  mo.scenario_names = info_.scenario_names();
  mo.scenario_tags = info_.scenario_tags();
  for (const ScenarioInfo& si : info_.scenarios) mo.arrival_rate.push_back(si.arrival_rate);
  mo.redactor = &redactor_;
  mo.instance = info_.fleet.instance;
  // Stores the results are pushed to: [[outputs]], then --out (with --out-label on all).
  std::vector<OutputConfig> outputs = cfg.outputs;
  if (!opt_.outs.empty() || !opt_.out_labels.empty()) {
    std::vector<OutputConfig> flags = parse_out_flags(opt_.outs, error);
    std::map<std::string, std::string> labels;
    if ((!opt_.outs.empty() && flags.empty()) || !parse_out_labels(opt_.out_labels, labels, error)) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
    outputs.insert(outputs.end(), flags.begin(), flags.end());
    add_output_labels(outputs, labels);
  }
  if (!outputs.empty()) {
    auto sink = make_outputs_sink(outputs, mo, !cfg.target.insecure, cfg.target.cacert, console_, error);
    if (!sink) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
    sinks_.push_back(std::move(sink));
  }
  if (!mo.listen.empty()) {
    auto server = MetricsServer::start(mo, error);
    if (!server) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
    std::fprintf(stderr, "pelt: serving metrics on http://%s/metrics\n", server->address().c_str());
    const auto linger = opt_.metrics_linger.count() >= 0
                            ? opt_.metrics_linger
                            : std::chrono::duration_cast<std::chrono::milliseconds>(cfg.metrics.linger);
    sinks_.push_back(make_metrics_sink(std::move(server), linger, console_));
  }

  if (opt_.fleet.paused) {
    const char* token = std::getenv(kControlTokenEnv);
    control_ = ControlServer::start(opt_.fleet.control_listen, token ? token : "", error);
    if (!control_) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  warn_idle_workers(plans_, opt_.fleet.segment, threads, console_);
  for (int w = 0; w < threads; ++w) {
    WorkerOptions wo;
    // This instance's part of the plan, shared between its threads (engine/segment.h).
    wo.segment = Segment::compose(opt_.fleet.segment, {static_cast<uint32_t>(w), static_cast<uint32_t>(threads)});
    wo.prewarm = opt_.fleet.paused || opt_.fleet.start_at.has_value();
    wo.url = url_;
    wo.timeout = cfg.target.timeout;
    wo.tls.verify = !cfg.target.insecure;
    wo.tls.ca_file = cfg.target.cacert;
    wo.http = cfg.target.http;
    wo.streams = cfg.target.streams;
    wo.sources = opt_.sources;
    wo.plans = &plans_;
    wo.request_splits = request_splits_;
    workers_.push_back(std::make_unique<Worker>(wo, std::move(prepared_.workers[static_cast<size_t>(w)])));
  }
  closed_seconds_.assign(workers_.size(), 0);
  capacity_ = start_capacity_controller(cfg, plans_, info_);
  return kExitOk;
}

int Run::prepare_observe() {
  std::string error;
  std::vector<std::string> notes;
  observer_ = open_observer(opt_.config, opt_.observe_prometheus, url_.host, notes, error);
  if (!error.empty()) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }
  for (const std::string& note : notes) console_.notice(note);
  return kExitOk;
}

void Run::begin_observe() {
  if (!observer_) return;
  observer_->begin(std::chrono::duration<double>(info_.started_at.time_since_epoch()).count(),
                   planned_spans(info_));
}

void Run::poll_capacity_search(double elapsed) {
  if (!capacity_ || capacity_->done()) return;
  collect_seconds();
  const uint64_t complete = *std::min_element(closed_seconds_.begin(), closed_seconds_.end());
  for (const std::string& line : capacity_->poll(elapsed, timeseries_, complete, waiting_now_)) {
    if (!opt_.quiet) console_.notice(line);
  }
}

void Run::report_capacity_search(RunReport& report) {
  if (capacity_) capacity_->report(report);
}

void Run::start() {
  info_.started_at = std::chrono::system_clock::now();
  for (auto& sink : sinks_) sink->on_start(info_);
  // The latches live as long as the run: a worker may still be inside go.wait() when this
  // function returns.
  ready_ = std::make_unique<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  go_ = std::make_unique<std::latch>(1);
  for (auto& w : workers_) w->start(*ready_, *go_, start_ns_);
  ready_->wait();
  if (control_ || opt_.fleet.start_at) {
    if (control_) console_.notice("pelt: connected; waiting for POST /start on http://" + control_->address() + "/start");
    std::string why;
    const uint64_t stops = signals_.stops();
    if (!wait_for_fleet_start(opt_.fleet, control_.get(), [&] { return signals_.stops() > stops; }, why)) {
      console_.notice("pelt: " + why + "; not starting");
      interrupted_ = true;
      stop_deadline_ = kStopGraceSeconds;
      for (auto& w : workers_) w->stop();
    }
    control_.reset();
    info_.started_at = std::chrono::system_clock::now();
  }
  t0_ns_ = uv_hrtime();
  start_ns_.store(t0_ns_, std::memory_order_release);
  go_->count_down();
  begin_observe();
}

std::unique_ptr<WorkerStats> Run::merged_snapshot() {
  // Figures are large (histograms): they live on the heap, never on the main thread's stack.
  auto m = std::make_unique<WorkerStats>();
  for (auto& w : workers_) m->merge(w->snapshot());
  redactor_.clean_stats(*m);
  return m;
}

void Run::collect_seconds() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto& w = workers_[i];
    for (ClosedSecond& second : w->take_seconds()) {
      closed_seconds_[i] = std::max(closed_seconds_[i], second.index + 1);
      for (auto& [key, point] : second.series) {
        if (!key.name.empty()) key.name = redactor_.clean(key.name);
      }
      timeseries_.add(std::move(second));
    }
  }
}

void Run::tick(double elapsed) {
  collect_seconds();
  std::unique_ptr<WorkerStats> m = merged_snapshot();
  waiting_now_ = m->waiting_now;
  const std::vector<ThresholdOutcome> thresholds = evaluate_thresholds(info_, *m, elapsed);
  bool abort_now = false;
  for (const ThresholdOutcome& o : thresholds) {
    const ThresholdConfig& th = *o.config;
    if (th.abort_on_fail && !o.result.ok && o.result.has_data && !aborted_ &&
        elapsed * 1e6 >= static_cast<double>(th.delay_abort_eval.count())) {
      aborted_ = abort_now = true;
      abort_reason_ = th.key + " " + th.expression + " crossed (" + o.result.text + ")";
    }
  }
  auto live = std::make_unique<RunReport>();
  live->live = true;
  live->info = info_;
  live->index_scenarios();
  live->stats = std::move(*m);
  live->elapsed_seconds = elapsed;
  live->ended_at = std::chrono::system_clock::now();
  // (the outcomes point into info_'s thresholds, which outlive the live report)
  live->thresholds = thresholds;
  for (const ThresholdOutcome& o : live->thresholds) live->thresholds_ok = live->thresholds_ok && o.result.ok;
  live->interrupted = interrupted_;
  live->aborted = aborted_;
  live->abort_reason = abort_reason_;
  live->timeseries = &timeseries_;
  live->breaking_point = find_breaking_point(*live);
  report_capacity_search(*live);
  if (observer_) live->observe = observer_->results();
  for (auto& sink : sinks_) sink->on_tick(*live);
  if (abort_now) {
    console_.notice("pelt: stopping early: threshold " + abort_reason_);
    for (auto& w : workers_) w->stop();
  }
}

void Run::monitor() {
  double next_tick = 1.0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bool all = true;
    for (auto& w : workers_) all = all && w->finished();
    if (all) break;
    const double elapsed = seconds_since(t0_ns_);
    if (signals_.stops() > 0 && !interrupted_) {
      interrupted_ = true;
      stop_deadline_ = elapsed + kStopGraceSeconds;
      console_.notice("pelt: interrupted, stopping (Ctrl-C again to quit at once)");
      for (auto& w : workers_) w->stop();
    }
    // Workers that do not stop in time (a script stuck in a loop) do not hold up the outputs.
    if (interrupted_ && elapsed >= stop_deadline_) break;
    if (!interrupted_) poll_capacity_search(elapsed);
    if (elapsed >= next_tick) {
      next_tick += 1.0;
      tick(elapsed);
    }
  }
}

int Run::finish() {
  auto owned = std::make_unique<RunReport>();  // on the heap: the figures are large
  RunReport& report = *owned;
  report.elapsed_seconds = seconds_since(t0_ns_);
  report.ended_at = std::chrono::system_clock::now();
  for (auto& w : workers_) {
    if (!w->finished()) {
      // Still running past the stop's grace: its last published figures stand for it.
      abandoned_ = true;
      report.stats.merge(w->snapshot());
      continue;
    }
    w->join();
    if (!w->fatal_error().empty()) {
      console_.notice("pelt: worker " + w->fatal_error());
      return kExitRunFailed;
    }
    report.stats.merge(w->final_stats());
  }
  if (abandoned_) console_.notice("pelt: a worker did not stop in time; its last figures are reported");
  redactor_.clean_stats(report.stats);
  collect_seconds();
  report.timeseries = &timeseries_;
  report.info = info_;
  report.index_scenarios();
  if (observer_) {
    // The last stage's figures reach Prometheus a little after it ended.
    if (!interrupted_ && !opt_.quiet) console_.notice("pelt: observe: asking Prometheus about the last stage");
    observer_->finish(report.elapsed_seconds, interrupted_);
    report.observe = observer_->results();
  }
  report.thresholds = evaluate_thresholds(report.info, report.stats, report.elapsed_seconds,
                                          ThresholdPhase::kEnd,
                                          report.observe ? &*report.observe : nullptr);
  for (const ThresholdOutcome& o : report.thresholds) report.thresholds_ok = report.thresholds_ok && o.result.ok;
  report.interrupted = interrupted_;
  report.aborted = aborted_;
  report.abort_reason = abort_reason_;
  report.breaking_point = find_breaking_point(report);
  report_capacity_search(report);

  int code = kExitOk;
  for (auto& sink : sinks_) sink->before_final(report);
  for (auto& sink : sinks_) {
    std::string error;
    if (!sink->on_final(report, error)) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      code = kExitRunFailed;
    }
  }
  std::fflush(stdout);
  if (!abandoned_) {
    // Ctrl-C (or SIGTERM) ends a linger at once: the outputs are written already.
    const uint64_t stops_before = signals_.stops();
    const std::function<bool()> stopped = [&] { return signals_.stops() > stops_before; };
    for (auto& sink : sinks_) sink->linger(stopped);
  }
  sinks_.clear();
  if (abandoned_) return code != kExitOk ? code : (report.thresholds_ok ? kExitOk : kExitThresholds);
  workers_.clear();
  if (code != kExitOk) return code;
  return report.thresholds_ok ? kExitOk : kExitThresholds;
}

}  // namespace

int run(RunOptions& options) {
  // Before any thread starts (workers, the metrics and dashboard servers), so that every
  // thread inherits the blocked signals and one watcher takes each signal once.
  SignalWatcher signals;
  Run r(options, signals);
  if (const int code = r.prepare(); code != kExitOk) return code;
  r.start();
  r.monitor();
  const int code = r.finish();
  if (r.abandoned_workers()) {
    // A worker thread still runs (it would be joined forever): leave now, outputs written.
    std::fflush(nullptr);
    _exit(code);
  }
  return code;
}

}  // namespace pelt
