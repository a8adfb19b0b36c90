// The Recorder: every figure a worker measures goes through one of its named calls, so the
// ledger, the error buckets, the per-name and per-stage figures, the histograms and the
// per-second time series are updated in one place and cannot drift apart. One Recorder per
// worker thread, owning nothing shared: no lock, no atomic, no allocation on the request path
// (a new request name or error reason allocates once, and so does a histogram for the list of
// its first few thousand samples, freed once it overflows). Calls that end requests take the time
// they happened at, which files them in the right second of the time series.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "results/series_recorder.h"
#include "results/stats.h"

namespace pelt {

// Where the figures of a VU's current request go: its scenario (and so its current stage) and
// its request name. Owned by the VU; it also caches the counter of the last status code seen,
// so a run of equal codes costs no map lookup.
class RequestScope {
 public:
  RequestScope() = default;
  RequestScope(uint32_t scenario_index, ScenarioStats* scenario)
      : index_(scenario_index), scenario_(scenario) {}

  uint32_t scenario_index() const { return index_; }
  ScenarioStats* scenario() const { return scenario_; }
  NameStats* name() const { return name_; }
  SeriesSlot* series() const { return series_; }
  // The current request name's figures; true when the name changed (then set_series()).
  bool set_name(NameStats* name) {
    if (name == name_) return false;
    name_ = name;
    status_code_ = -1;
    status_count_ = nullptr;
    return true;
  }
  // The current request name's open second in the time series.
  void set_series(SeriesSlot* series) { series_ = series; }
  // The counter of responses with this status code under the current name.
  uint64_t& status_counter(int code) {
    if (code != status_code_) {
      status_count_ = &name_->status[code];
      status_code_ = code;
    }
    return *status_count_;
  }
  StageStats& stage() const { return scenario_->stages[scenario_->stage]; }

 private:
  uint32_t index_ = 0;                 // the scenario's index
  ScenarioStats* scenario_ = nullptr;  // the VU's scenario (stage = scenario_->stage)
  NameStats* name_ = nullptr;          // figures of the current request name
  SeriesSlot* series_ = nullptr;       // its open second in the time series
  int status_code_ = -1;               // code whose counter status_count_ points at
  uint64_t* status_count_ = nullptr;   // cached counter inside name_->status (map nodes never move)
};

// The timings of one response, for the sub-metrics (RequestSplit) kept per request name.
struct ResponseTimes {
  uint64_t duration_us = 0;   // http_req_duration
  uint64_t waiting_us = 0;    // http_req_waiting
  uint64_t blocked_us = 0;    // http_req_blocked
  uint64_t receiving_us = 0;  // http_req_receiving
};

class Recorder {
 public:
  explicit Recorder(WorkerStats& stats) : stats_(stats) {}

  // Before the run: the sub-metrics to keep per request name (from the [thresholds] keys).
  void set_request_splits(std::vector<RequestSplit> splits) { splits_ = std::move(splits); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  WorkerStats& stats() { return stats_; }
  SeriesRecorder& series() { return series_; }

  // --- requests ---
  // `requests` requests (a pipelined batch) of `bytes` bytes were written at now_ns; the first
  // was due `lag_us` earlier (0 in closed loop).
  void record_sent(RequestScope& scope, uint32_t requests, uint64_t bytes, uint64_t lag_us,
                   uint64_t now_ns) {
    series_.roll(now_ns);
    stats_.ledger.sent += requests;
    stats_.bytes_written += bytes;
    stats_.send_lag.record(lag_us);
    series_.run_extra().point.bytes_sent += bytes;
    series_.run_extra().used = true;
    if (SeriesSlot* s = scope.series()) {
      s->lag.record(lag_us);
      s->used = true;
    }
  }
  // The first byte of a response arrived `waiting_us` after its request was sent.
  void record_first_byte(uint64_t waiting_us) { stats_.waiting.record(waiting_us); }
  // The `requests` requests just sent had waited `blocked_us` for a usable connection (0 when
  // the connection was ready).
  void record_blocked(uint64_t blocked_us, uint32_t requests) {
    stats_.blocked.record_n(blocked_us, requests);
  }
  // A response took `receiving_us` from its first byte to its last.
  void record_receiving(uint64_t receiving_us) { stats_.receiving.record(receiving_us); }
  // A complete response at now_ns. latency_us: from the intended send (open loop) or the
  // send; service_us: from the actual send.
  void record_response(RequestScope& scope, int status, uint64_t latency_us, uint64_t service_us,
                       uint64_t now_ns) {
    series_.roll(now_ns);
    ++stats_.ledger.completed;
    if (status >= 0 && static_cast<size_t>(status) < stats_.status.size()) ++stats_.status[status];
    // (the run's latency histogram is the merge of the names', made by finish_latency())
    stats_.service.record(service_us);
    NameStats& name = *scope.name();
    ++name.requests.responses;
    name.latency.record(latency_us);
    ++scope.status_counter(status);
    StageStats& stage = scope.stage();
    ++stage.requests.responses;
    stage.latency.record(latency_us);
    const bool failed = status >= 400;
    if (failed) {
      ++stats_.errors.status;
      ++name.requests.failed_responses;
      ++stage.requests.failed_responses;
    }
    if (SeriesSlot* s = scope.series()) {
      s->used = true;
      ++s->point.requests;
      s->point.failed += failed ? 1 : 0;
      s->point.errors[static_cast<size_t>(ErrorKind::kStatus)] += failed ? 1 : 0;
      ++s->point.status_class[status_class(status)];
      s->count_code(status, 1);
      s->latency.record(latency_us);
    }
  }
  // A response's timings for the declared sub-metrics (nothing to do without any).
  void record_splits(RequestScope& scope, int status, const ResponseTimes& t) {
    if (splits_.empty()) return;
    NameStats& name = *scope.name();
    for (const RequestSplit& split : splits_) {
      if (!split.matches(status)) continue;
      const uint64_t us = split.trend == RequestTrend::kDuration  ? t.duration_us
                          : split.trend == RequestTrend::kWaiting ? t.waiting_us
                          : split.trend == RequestTrend::kBlocked ? t.blocked_us
                                                                  : t.receiving_us;
      name.splits[split.key()].record(us);
    }
  }
  // A connection failed at now_ns: counts one error of `kind` under `reason` (with `detail`
  // as a sample) and `requests` requests that will get no response.
  void record_failure(RequestScope& scope, ErrorKind kind, const std::string& reason,
                      const std::string& detail, uint64_t requests, uint64_t now_ns);
  // `requests` requests got no response, lost to a failure another user's record_failure()
  // counted (one connection failure, several VUs on the connection): the ledger and the
  // per-name breakdown, no error count.
  void record_failed_requests(RequestScope& scope, const std::string& reason, uint64_t requests,
                              uint64_t now_ns) {
    series_.roll(now_ns);
    stats_.ledger.failed += requests;
    count_unanswered(scope, reason, requests);
  }
  // `requests` requests got no response within the timeout (noticed at now_ns).
  void record_timeout(RequestScope& scope, uint64_t requests, uint64_t now_ns);

  // --- connections ---
  void record_connect(uint64_t connect_us) {
    ++stats_.connects;
    stats_.connect_time.record(connect_us);
  }
  void record_tls_handshake(uint64_t handshake_us, bool resumed) {
    stats_.tls_time.record(handshake_us);
    ++stats_.tls_handshakes;
    if (resumed) ++stats_.tls_resumed;
  }
  void record_bytes_read(uint64_t bytes, uint64_t now_ns) {
    series_.roll(now_ns);
    stats_.bytes_read += bytes;
    series_.run_extra().point.bytes_received += bytes;
    series_.run_extra().used = true;
  }
  // The connection closed (server's keep-alive timeout, Connection: close) and is reopened.
  void record_reconnect() { ++stats_.reconnects; }
  // Bytes a protocol wrote that record_sent() did not count (HTTP/2 frames).
  void record_bytes_written(uint64_t bytes, uint64_t now_ns) {
    series_.roll(now_ns);
    stats_.bytes_written += bytes;
    series_.run_extra().point.bytes_sent += bytes;
    series_.run_extra().used = true;
  }
  // The HTTP/2 session's own counters (streams, HPACK, GOAWAY ...): no ledger, no series.
  Http2Stats& http2() { return stats_.http2; }

  // --- iterations (scenario: its index) ---
  void record_iteration(uint32_t scenario, uint64_t now_ns);
  // An iteration (delay(), requests and think time) took `duration_us`.
  void record_iteration_duration(uint32_t scenario, uint64_t duration_us) {
    stats_.scenarios[scenario].iteration_duration.record(duration_us);
  }
  // `n` arrivals of an arrival-rate scenario were never started (no VU free in time).
  void record_dropped(uint32_t scenario, uint64_t n, uint64_t now_ns);
  // An iteration was cut unfinished; its `unanswered` requests stay in flight in the ledger.
  void record_interrupted(uint32_t scenario, uint64_t unanswered, uint64_t now_ns);
  void record_script_error(const std::string& message) { stats_.add_script_error(message); }
  // Makes stats().latency, the run's request durations, from the request names' histograms:
  // every response has exactly one name, so the merge is exact and the request path records
  // one histogram less. Call before the figures are read (each snapshot, the end).
  void finish_latency() {
    stats_.latency.reset();
    for (const ScenarioStats& sc : stats_.scenarios) {
      for (const auto& [name, ns] : sc.names) stats_.latency.merge(ns.latency);
    }
  }

  // --- custom metrics (pelt.counter, pelt.gauge, pelt.rate, pelt.trend) ---
  // The figures of custom metric key.name under key.tags in `scenario`, created at the first
  // use; callers keep the pointer (map nodes never move), so an add costs no lookup.
  CustomFigures* custom_figures(uint32_t scenario, NameKey key, CustomKind kind, bool is_time) {
    auto& custom = stats_.scenarios[scenario].custom;
    auto it = custom.find(key);
    if (it == custom.end()) it = custom.emplace(std::move(key), CustomFigures(kind, is_time)).first;
    return &it->second;
  }
  // One value of a custom metric (now_ns: when, read by gauges).
  void record_custom(CustomFigures& figures, double value, uint64_t now_ns) {
    figures.add(value, now_ns);
  }
  // A tag of a custom metric in `scenario` reached its cap on values ("" for tag sets).
  void record_capped_tag(uint32_t scenario, const std::string& tag) {
    stats_.scenarios[scenario].capped_tags.insert(tag);
  }
  // wrk's Req/Sec: one sample of this thread's completed requests per second.
  void record_rate_sample(uint64_t per_second) { stats_.req_per_sec.record(per_second); }

  // The time series slot of a request name (for RequestScope::set_name).
  SeriesSlot* series_slot(uint32_t scenario, const std::string& name, const std::string& method) {
    return series_.started() ? &series_.name(scenario, name, method) : nullptr;
  }

 private:
  // 0..4 for 1xx..5xx, 5 for anything else.
  static size_t status_class(int status) {
    return status >= 100 && status < 600 ? static_cast<size_t>(status / 100 - 1) : 5;
  }
  // Marks `requests` requests of `scope` as ended without a response, under `reason`.
  void count_unanswered(RequestScope& scope, std::string_view reason, uint64_t requests);

  WorkerStats& stats_;      // the worker's figures
  SeriesRecorder series_;   // the open second of the time series
  std::vector<RequestSplit> splits_;  // sub-metrics kept per request name
};

}  // namespace pelt
