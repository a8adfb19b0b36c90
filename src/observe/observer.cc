#include "observe/observer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace pelt {
namespace {

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One evaluation per step: a few hundred points per span at most, never finer than a second.
double step_for(double span_s) {
  return std::max(1.0, span_s / 250);
}

}  // namespace

Observer::Observer(std::string prometheus, std::vector<ObserveQuery> queries,
                   std::chrono::milliseconds query_delay, std::chrono::milliseconds timeout)
    : queries_(std::move(queries)),
      delay_s_(static_cast<double>(query_delay.count()) / 1000),
      timeout_(timeout),
      api_(std::make_unique<PrometheusApi>(prometheus, timeout)) {
  results_.prometheus = api_->base_url();
  for (const ObserveQuery& q : queries_) results_.queries.push_back({q.label, q.query, q.unit});
  results_.run.assign(queries_.size(), ObserveFigure{});
}

Observer::~Observer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (Job& j : jobs_) j.done = true;
  }
  cv_.notify_all();
  api_->interrupt();
  if (thread_.joinable()) thread_.join();
}

bool Observer::check(std::string& error, std::vector<std::string>& notes) {
  for (const ObserveQuery& q : queries_) {
    const ObserveFigure f = api_->instant(q.query);
    switch (f.status) {
      case ObserveFigure::Status::kUnreachable:
        error = fmt::format(
            "cannot reach Prometheus at {}: {} (check observe.prometheus or --observe-prometheus)",
            api_->base_url(), f.error);
        return false;
      case ObserveFigure::Status::kError:
        error = fmt::format("{}: Prometheus refused the query {} ({}): {}", q.origin, q.label,
                            q.query, f.error);
        return false;
      case ObserveFigure::Status::kNoData:
        notes.push_back(fmt::format(
            "pelt: observe: {} has no data yet ({}); its column will say so if none comes", q.label,
            q.query));
        break;
      case ObserveFigure::Status::kOk:
      case ObserveFigure::Status::kPending:
        break;
    }
  }
  return true;
}

void Observer::begin(double start_unix, std::vector<Span> spans) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    start_unix_ = start_unix;
    for (const Span& s : spans) {
      Job j;
      j.scenario = s.scenario;
      j.stage = s.stage;
      j.from_s = s.from_s;
      j.to_s = s.to_s;
      j.due_unix = start_unix + s.to_s + delay_s_;
      jobs_.push_back(j);
      results_.stages[{s.scenario, s.stage}].assign(queries_.size(), ObserveFigure{});
    }
  }
  thread_ = std::thread([this] { loop(); });
}

void Observer::finish(double elapsed_s, bool at_once) {
  const double now = now_unix();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& j : jobs_) {
      if (j.done) continue;
      if (j.from_s >= elapsed_s) {
        // The stage never began.
        j.done = true;
        for (ObserveFigure& f : results_.stages[{j.scenario, j.stage}]) {
          f.status = ObserveFigure::Status::kNoData;
          f.error = "the stage did not run";
        }
        continue;
      }
      j.to_s = std::min(j.to_s, elapsed_s);
      j.due_unix = at_once ? now : start_unix_ + j.to_s + delay_s_;
    }
    Job run;
    run.run = true;
    run.to_s = elapsed_s;
    run.due_unix = at_once ? now : start_unix_ + elapsed_s + delay_s_;
    jobs_.push_back(run);
    stopping_ = true;
  }
  cv_.notify_all();
  // Bounded: the delay, then each query may take up to its timeout.
  const auto limit = std::chrono::duration<double>(std::max(0.0, (at_once ? 0 : delay_s_)) + 1) +
                     timeout_ * (queries_.size() * 2 + 1);
  std::unique_lock<std::mutex> lock(mu_);
  const bool all = cv_.wait_for(lock, limit, [this] {
    return std::all_of(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.done; });
  });
  if (!all) {
    for (Job& j : jobs_) j.done = true;
    lock.unlock();
    api_->interrupt();
  } else {
    lock.unlock();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Observer::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    Job* next = nullptr;
    for (Job& j : jobs_) {
      if (!j.done && (!next || j.due_unix < next->due_unix)) next = &j;
    }
    if (!next) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    const double wait = next->due_unix - now_unix();
    if (wait > 0) {
      cv_.wait_for(lock, std::chrono::duration<double>(std::min(wait, 1.0)));
      continue;  // jobs may have changed (finish() moves their spans)
    }
    const Job job = *next;
    lock.unlock();
    ask(job);
    lock.lock();
    // (finish() may have given up on it meanwhile; it is done either way.)
    for (Job& j : jobs_) {
      if (j.run == job.run && j.scenario == job.scenario && j.stage == job.stage && !j.done)
        j.done = true;
    }
    cv_.notify_all();
  }
}

void Observer::ask(const Job& job) {
  const double from = start_unix_ + job.from_s;
  const double to = start_unix_ + job.to_s;
  std::vector<ObserveFigure> figures;
  for (const ObserveQuery& q : queries_)
    figures.push_back(api_->range(q.query, from, to, step_for(to - from)));
  std::lock_guard<std::mutex> lock(mu_);
  if (job.run) {
    results_.run = std::move(figures);
  } else {
    results_.stages[{job.scenario, job.stage}] = std::move(figures);
  }
}

ObserveResults Observer::results() const {
  std::lock_guard<std::mutex> lock(mu_);
  return results_;
}

std::unique_ptr<Observer> open_observer(const RunConfig& config, const std::string& flag_url,
                                        const std::string& target_host,
                                        std::vector<std::string>& notes, std::string& error) {
  ObserveConfig oc = config.observe;
  if (!flag_url.empty()) {
    oc.enabled = true;
    oc.prometheus = flag_url;
    if (oc.origin.empty()) oc.origin = "--observe-prometheus";
  }
  if (!oc.enabled) {
    for (const ThresholdConfig& th : config.thresholds) {
      if (!is_observe_metric(th.metric)) continue;
      error =
          fmt::format("{}: threshold on {} needs an [observe] table or --observe-prometheus URL",
                      th.location, th.metric);
      return nullptr;
    }
    return nullptr;
  }
  if (oc.prometheus.empty()) {
    error = oc.origin +
            ": [observe] needs prometheus = \"http://HOST:9090\" (or --observe-prometheus URL)";
    return nullptr;
  }
  auto observer = std::make_unique<Observer>(
      oc.prometheus, resolve_observe_queries(oc, target_host), oc.query_delay, oc.timeout);
  std::string problem;
  if (!observer->check(problem, notes)) {
    error = "observe: " + problem;
    return nullptr;
  }
  return observer;
}

std::vector<Observer::Span> planned_spans(const RunInfo& info) {
  std::vector<Observer::Span> spans;
  for (size_t si = 0; si < info.scenarios.size(); ++si) {
    const ScenarioInfo& sc = info.scenarios[si];
    for (size_t st = 0; st < sc.stages.size(); ++st) {
      const double from = static_cast<double>((sc.start_time + sc.stages[st].start).count()) / 1e6;
      spans.push_back(
          {si, st, from, from + static_cast<double>(sc.stages[st].length.count()) / 1e6});
    }
  }
  return spans;
}

}  // namespace pelt
