// Per-worker statistics. Each Worker owns one WorkerStats and is the only thread that writes it
// during the run, always through its Recorder (results/recorder.h). The main thread merges
// copies the workers publish twice a second, and the final figures after the workers joined.
// What each figure means to a reader (thresholds, summaries, Prometheus) is defined once, in
// the metric catalogue (results/catalogue.h).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "results/histogram.h"

namespace pelt {

// Why a request or a connection failed: wrk's five error buckets.
enum class ErrorKind : uint8_t {
  kConnect,  // connect() failed, or the TLS handshake failed
  kRead,     // read error, parse error, premature close
  kWrite,    // write error
  kTimeout,  // no response within the timeout
  kStatus,   // a response with status >= 400
};

// wrk's five error buckets, kept for the wrk-compatible summary and Lua done().
struct ErrorCounts {
  uint64_t connect = 0;  // connect() failed, or the TLS handshake failed
  uint64_t read = 0;     // read error, parse error, premature close
  uint64_t write = 0;    // write error
  uint64_t timeout = 0;  // requests without a response within --timeout
  uint64_t status = 0;   // responses with status >= 400

  uint64_t& operator[](ErrorKind kind);
  void merge(const ErrorCounts& o);
  uint64_t socket_total() const { return connect + read + write + timeout; }
};

// Every request sent ends in exactly one of these (in_flight is filled at the end).
struct Ledger {
  uint64_t sent = 0;       // requests written to a socket
  uint64_t completed = 0;  // a full response arrived (any status)
  uint64_t failed = 0;     // the connection broke before the response completed
  uint64_t timed_out = 0;  // no response within the timeout
  uint64_t in_flight = 0;  // still waiting when the run ended, or cut with their iteration

  void merge(const Ledger& o);
  bool balanced() const { return sent == completed + failed + timed_out + in_flight; }
  // Requests that ended: answered, broken or timed out (k6's http_reqs).
  uint64_t ended() const { return completed + failed + timed_out; }
};

// How the requests of one scope (a stage, a request name) ended.
struct RequestCounts {
  uint64_t responses = 0;         // complete responses, any status
  uint64_t failed_responses = 0;  // of those, status >= 400
  uint64_t no_response = 0;       // requests that broke or timed out without a response

  void merge(const RequestCounts& o);
  uint64_t ended() const { return responses + no_response; }        // http_reqs
  uint64_t failed() const { return failed_responses + no_response; }  // http_req_failed
};

// Pass/fail counts of one named check (pelt.check).
struct CheckCount {
  uint64_t passes = 0;  // checks that held
  uint64_t fails = 0;   // checks that did not

  void merge(const CheckCount& o);
};

// Figures for one stage of one scenario.
struct StageStats {
  RequestCounts requests;           // requests that ended in this stage
  uint64_t dropped_iterations = 0;  // arrivals that found no free VU
  Histogram latency;                // request duration, microseconds

  void merge(const StageStats& o);
};

// The request timings a sub-metric can split.
enum class RequestTrend : uint8_t {
  kDuration,   // http_req_duration
  kWaiting,    // http_req_waiting
  kBlocked,    // http_req_blocked
  kReceiving,  // http_req_receiving
};

// A request timing kept per request name only because a [thresholds] key asks for it (k6's
// sub-metrics): http_req_duration by status or by expected response, the other timings under
// any request filter.
struct RequestSplit {
  RequestTrend trend = RequestTrend::kDuration;  // which timing
  int status = -1;                               // only responses with this status code; -1 = any
  int expected = -1;  // 1: only status < 400 (k6's expected_response:true), 0: only >= 400, -1: any

  // The key of its figures in NameStats::splits.
  uint32_t key() const {
    return static_cast<uint32_t>(trend) << 16 | static_cast<uint32_t>(status + 1) << 2 |
           static_cast<uint32_t>(expected + 1);
  }
  bool matches(int code) const {
    return (status < 0 || code == status) && (expected < 0 || (code < 400) == (expected == 1));
  }
  bool operator==(const RequestSplit&) const = default;
};

// Tags a script attaches to a request (pelt.tag, or a tags table request() returns): pairs
// sorted by key, each key once.
using TagSet = std::vector<std::pair<std::string, std::string>>;

// A tag as the request path sees it, before it is copied (key, value).
using TagView = std::pair<std::string_view, std::string_view>;

// Where a request's figures are kept: its name and the tags its script attached. Converts from
// a plain name (no tags), so names["home"] reads as before.
struct NameKey {
  std::string name;  // request name (pelt.name / route template)
  TagSet tags;       // per-request tags, sorted by key; empty for most requests

  NameKey() = default;
  NameKey(std::string n) : name(std::move(n)) {}  // NOLINT: a plain name converts
  NameKey(const char* n) : name(n) {}             // NOLINT: a plain name converts
  NameKey(std::string n, TagSet t) : name(std::move(n)), tags(std::move(t)) {}
  auto operator<=>(const NameKey&) const = default;
  bool operator==(const NameKey&) const = default;
  // "home", or "home {kind=api, tier=gold}" with tags.
  std::string label() const;
  // The tag's value, or null.
  const std::string* tag(std::string_view key) const;
};

// Figures for one request name (pelt.name / route template) within a scenario.
struct NameStats {
  std::string method;                               // method of the first request with this name
  RequestCounts requests;                           // how its requests ended
  std::map<int, uint64_t> status;                   // responses by status code
  std::map<std::string, uint64_t> failure_reasons;  // failures by reason label
  Histogram latency;                                // request duration, microseconds
  std::map<uint32_t, Histogram> splits;  // declared sub-metrics by RequestSplit::key(), us

  void merge(const NameStats& o);
};

// k6's four kinds of custom metric (pelt.counter, pelt.gauge, pelt.rate, pelt.trend).
enum class CustomKind : uint8_t {
  kCounter,  // a sum of the values added
  kGauge,    // the latest value (and the smallest and largest)
  kRate,     // the share of values that were not 0 (true)
  kTrend,    // a distribution of the values
};

// A custom metric as a script defines it.
struct CustomMetricInfo {
  std::string name;                        // e.g. "waiting_time"
  CustomKind kind = CustomKind::kCounter;  // its kind
  bool is_time = false;                    // a trend of durations in milliseconds
};

// Figures of one custom metric under one tag set, on one worker or merged.
struct CustomFigures {
  CustomKind kind = CustomKind::kCounter;  // the metric's kind
  bool is_time = false;                    // a trend of durations in milliseconds
  uint64_t samples = 0;                    // values added
  double sum = 0;                          // their sum (a counter's total)
  uint64_t nonzero = 0;                    // rate: values that were not 0
  double min = 0;                          // smallest value (when samples > 0)
  double max = 0;                          // largest value (when samples > 0)
  double last = 0;                         // gauge: the latest value
  uint64_t last_ns = 0;                    // gauge: when it was set, monotonic ns
  // Trend: the values x 1000 (microseconds for times; 0.001 units otherwise, below 0 as 0),
  // allocated at the first value.
  std::unique_ptr<Histogram> trend;

  CustomFigures() = default;
  CustomFigures(CustomKind k, bool time) : kind(k), is_time(time) {}
  CustomFigures(const CustomFigures& o) { *this = o; }
  CustomFigures& operator=(const CustomFigures& o);
  CustomFigures(CustomFigures&&) = default;
  CustomFigures& operator=(CustomFigures&&) = default;
  // One value at now_ns (read by gauges only).
  void add(double value, uint64_t now_ns) {
    if (value != value) return;  // NaN
    min = samples == 0 || value < min ? value : min;
    max = samples == 0 || value > max ? value : max;
    ++samples;
    sum += value;
    if (kind == CustomKind::kRate && value != 0) ++nonzero;
    if (kind == CustomKind::kGauge) {
      last = value;
      last_ns = now_ns;
    }
    if (kind == CustomKind::kTrend) add_to_trend(value);
  }
  void merge(const CustomFigures& o);

 private:
  void add_to_trend(double value);
};

// Figures for one scenario.
struct ScenarioStats {
  std::vector<StageStats> stages;          // indexed by stage
  // By request name and tags (kMaxNames names, then "other"; kMaxTagValues values per tag key,
  // then "other"; kMaxTagSets tagged entries, then the name without tags).
  std::map<NameKey, NameStats> names;
  std::set<std::string> capped_tags;       // tag keys that reached kMaxTagValues ("" for
                                           // kMaxTagSets)
  uint64_t iterations = 0;                 // iterations (request/response cycles) finished
  uint64_t dropped_iterations = 0;         // arrival-rate iterations that could not start
  uint64_t interrupted_iterations = 0;     // iterations cut unfinished (graceful_stop or
                                           // graceful_ramp_down ran out, or the run stopped)
  uint32_t vus = 0;                        // VUs active at the time of the snapshot
  uint32_t vus_max = 0;                    // VUs allocated at the time of the snapshot
  uint32_t stage = 0;                      // current stage index
  double target = 0;                       // current target: VUs, or requests/s for arrival rate
  Histogram iteration_duration;            // iteration start to end, think time included, us
  // Custom metrics by name (NameKey::name) and tag set (capped as request tags are).
  std::map<NameKey, CustomFigures> custom;

  void merge(const ScenarioStats& o);
};

// What HTTP/2 connections did beyond requests and responses (all zero without HTTP/2).
struct Http2Stats {
  uint64_t connections = 0;          // connections that spoke HTTP/2 (SETTINGS exchanged)
  uint64_t streams = 0;              // requests sent as streams (retries included)
  uint64_t header_bytes_sent = 0;    // request header blocks as HPACK encoded them, bytes
  uint64_t header_fields_sent = 0;   // the same fields uncompressed: name + value bytes
  uint64_t header_bytes_received = 0;   // response header blocks as received, bytes
  uint64_t header_fields_received = 0;  // the same fields decoded: name + value bytes
  uint64_t bytes_sent = 0;           // HTTP/2 frame bytes written (before TLS)
  uint64_t bytes_received = 0;       // HTTP/2 frame bytes read (after TLS)
  uint64_t goaways = 0;              // GOAWAY frames received
  uint64_t retried = 0;              // requests sent again on a new connection: a GOAWAY said
                                     // the server had not processed them
  uint64_t resets_received = 0;      // RST_STREAM frames received from the server
  uint64_t resets_sent = 0;          // RST_STREAM frames sent (timeouts, cut iterations, errors)
  uint64_t queued = 0;               // requests that waited for a stream: the server's
                                     // SETTINGS_MAX_CONCURRENT_STREAMS was reached
  uint64_t flow_control_stalls = 0;  // request DATA frames the server's window cut short
  uint64_t alpn_fallbacks = 0;       // TLS connections --http auto ran over HTTP/1.1 (ALPN)
  // Lowest SETTINGS_MAX_CONCURRENT_STREAMS a server announced; kUnlimited when none did.
  uint64_t peer_max_concurrent_streams = kUnlimited;
  static constexpr uint64_t kUnlimited = UINT64_MAX;

  void merge(const Http2Stats& o);
  bool used() const { return connections > 0 || alpn_fallbacks > 0; }
};

// Http2Stats' counters that add up when figures merge (every field but
// peer_max_concurrent_streams), by their name in the summaries.
struct Http2Counter {
  const char* name;              // key in the JSON documents
  uint64_t Http2Stats::*member;  // the field
};
inline constexpr Http2Counter kHttp2Counters[] = {
    {"connections", &Http2Stats::connections},
    {"streams", &Http2Stats::streams},
    {"header_bytes_sent", &Http2Stats::header_bytes_sent},
    {"header_fields_sent", &Http2Stats::header_fields_sent},
    {"header_bytes_received", &Http2Stats::header_bytes_received},
    {"header_fields_received", &Http2Stats::header_fields_received},
    {"bytes_sent", &Http2Stats::bytes_sent},
    {"bytes_received", &Http2Stats::bytes_received},
    {"goaways", &Http2Stats::goaways},
    {"retried", &Http2Stats::retried},
    {"resets_received", &Http2Stats::resets_received},
    {"resets_sent", &Http2Stats::resets_sent},
    {"queued", &Http2Stats::queued},
    {"flow_control_stalls", &Http2Stats::flow_control_stalls},
    {"alpn_fallbacks", &Http2Stats::alpn_fallbacks},
};

// Everything one worker measures. Merging is associative and commutative except for the sample
// lists, which keep the first few.
struct WorkerStats {
  static constexpr size_t kMaxSamples = 5;   // error messages kept per kind
  static constexpr size_t kMaxNames = 100;   // distinct request names per scenario
  static constexpr size_t kMaxTagValues = 100;  // distinct values per request tag, per scenario
  static constexpr size_t kMaxTagSets = 400;    // tagged (name, tags) entries per scenario
  static constexpr size_t kStatusCodes = 1000;  // status codes counted one by one: 0..999

  Ledger ledger;             // what became of every request sent
  uint64_t waiting_now = 0;  // live snapshots: requests waiting for a response right now
  ErrorCounts errors;        // wrk's error buckets
  std::map<std::string, uint64_t> error_reasons;  // fine breakdown: "connect ECONNREFUSED", "tls: ..."
  std::vector<std::string> error_samples;         // first few full error messages
  uint64_t bytes_read = 0;                        // bytes received, headers included
  uint64_t bytes_written = 0;                     // bytes sent
  uint64_t connects = 0;                          // TCP connections opened
  uint64_t reconnects = 0;                        // reconnects after the server closed
  uint64_t tls_handshakes = 0;                    // TLS handshakes completed
  uint64_t tls_resumed = 0;                       // of those, resumed sessions
  std::array<uint64_t, kStatusCodes> status{};    // responses by status code
  Http2Stats http2;                               // HTTP/2 connections (streams, HPACK, GOAWAY)

  Histogram latency;       // request duration in us: from intended send time in open loop
  Histogram service;       // from actual send to response, us
  Histogram send_lag;      // actual send minus intended send (open loop), us
  Histogram connect_time;  // TCP connect, us
  Histogram tls_time;      // TLS handshake, us
  Histogram waiting;       // send to first response byte, us
  Histogram blocked;       // waiting for a usable connection before the send, per request, us
  Histogram receiving;     // first response byte to the complete response, us
  Histogram req_per_sec;   // per-thread requests/s, sampled every 100 ms (wrk's Req/Sec)

  std::vector<ScenarioStats> scenarios;      // indexed like the plan's scenarios
  std::map<std::string, CheckCount> checks;  // pelt.check results by name
  uint64_t script_errors = 0;                // Lua errors during the run
  std::vector<std::string> script_error_samples;  // first few, with file:line

  void merge(const WorkerStats& o);
  void add_error_reason(const std::string& reason, const std::string& sample);
  void add_script_error(const std::string& message);
  uint64_t non_2xx_3xx() const;  // responses outside 200..399
};

}  // namespace pelt
