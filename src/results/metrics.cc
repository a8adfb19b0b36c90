#include "results/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "results/redact.h"
#include "util/units.h"

namespace pelt {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr size_t kMaxLabelBytes = 200;  // longer label values are cut
constexpr auto kScrapeGrace = std::chrono::milliseconds(150);  // lets the last response finish
constexpr auto kStopPoll = std::chrono::milliseconds(50);      // linger notices a stop this fast
constexpr int kServerThreads = 8;        // connections the endpoint serves at once
constexpr int kRequestTimeoutMs = 2000;  // a client that sends no complete request is dropped

const std::vector<double> kDefaultBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,    30,   60};
const std::vector<double> kSendLagBuckets = {
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Replaces bytes that are not valid UTF-8 with '?' (so a scrape is never rejected) and
// control characters with spaces.
std::string valid_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= in.size();
    for (size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    if (ok && n == 1 && (c < 0x20 || c == 0x7f)) {
      out += ' ';  // control characters become spaces
      ++i;
    } else if (ok) {
      out.append(in, i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// A label value Prometheus accepts: valid UTF-8, at most kMaxLabelBytes bytes.
std::string label_text(std::string value) {
  value = valid_utf8(value);
  if (value.size() > kMaxLabelBytes) {
    size_t cut = kMaxLabelBytes;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
    value.resize(cut);
  }
  return value;
}

// The target URL as a label: no user:password, no query string or fragment.
std::string target_label(const std::string& url) {
  return url.substr(0, url.find_first_of("?#"));
}

std::string status_label(int status) {
  return std::to_string(status);
}

// Label hygiene shared by every family: the run's redaction policy, label text rules, then
// the per-label cap. Kept across updates by the server so a value admitted once stays admitted.
class LabelFolder {
 public:
  explicit LabelFolder(const MetricsOptions& options)
      : max_(options.max_label_values), redactor_(options.redactor) {}

  std::string clean(const std::string& value) {
    auto it = cleaned_.find(value);
    if (it != cleaned_.end()) return it->second;
    std::string out = label_text(redactor_ ? redactor_->clean(value) : value);
    if (cleaned_.size() < 10000) cleaned_.emplace(value, out);
    return out;
  }

  // The value to export for `label`: cleaned, or "other" past the cap.
  std::string fold(const std::string& label, const std::string& value) {
    std::string v = clean(value);
    if (v == "other") return v;
    auto& seen = admitted_[label];
    if (seen.count(v) > 0) return v;
    if (seen.size() < max_) {
      seen.insert(v);
      return v;
    }
    if (warned_.insert(label).second) {
      std::cerr << "pelt: metrics: more than " << max_ << " values for label \"" << label
                << "\"; further values are exported as \"other\"\n";
    }
    return "other";
  }

 private:
  size_t max_;                                             // distinct values kept per label
  const Redactor* redactor_;                               // the run's policy, or none
  std::map<std::string, std::string> cleaned_;             // raw value -> redacted value
  std::map<std::string, std::set<std::string>> admitted_;  // label -> values exported as is
  std::set<std::string> warned_;                           // labels already warned about
};

// Collects the series of one family, summing series whose labels fold together.
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, MetricType type, Labels common)
      : common_(std::move(common)) {
    family_.name = std::move(name);
    family_.help = std::move(help);
    family_.type = type;
  }

  void add(Labels labels, double value) {
    ClientMetric& m = at(std::move(labels));
    if (family_.type == MetricType::Counter)
      m.counter.value += value;
    else
      m.gauge.value += value;
  }

  void set(Labels labels, double value) { at(std::move(labels)).gauge.value = value; }

  // Adds a microsecond histogram as seconds with the given bucket bounds.
  void add_histogram(Labels labels, const Histogram& h, const std::vector<double>& bounds) {
    ClientMetric& m = at(std::move(labels));
    auto& out = m.histogram;
    if (out.bucket.empty()) {
      for (double b : bounds) out.bucket.push_back({0, b});
      out.bucket.push_back({0, std::numeric_limits<double>::infinity()});
    }
    const uint64_t total = h.count();
    uint64_t previous = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      const double bound_us = std::floor(bounds[i] * 1e6 + 1e-6);
      uint64_t c =
          bound_us >= 1.8e19 ? total : h.count_at_or_below(static_cast<uint64_t>(bound_us));
      c = std::clamp(c, previous, total);  // cumulative and never above the total
      out.bucket[i].cumulative_count += c;
      previous = c;
    }
    out.bucket.back().cumulative_count += total;
    out.sample_count += total;
    out.sample_sum += h.mean() * static_cast<double>(total) / 1e6;
  }

  // Adds a summary of a histogram of values x 1000 (a custom trend's): quantiles, sum, count
  // in the values' own unit. (Series that fold together keep the first one's quantiles.)
  void add_summary(Labels labels, const Histogram& h) {
    ClientMetric& m = at(std::move(labels));
    auto& out = m.summary;
    if (out.quantile.empty()) {
      for (double q : {0.5, 0.9, 0.95, 0.99})
        out.quantile.push_back({q, h.quantile(q * 100) / 1000});
    }
    out.sample_count += h.count();
    out.sample_sum += h.sum() / 1000;
  }

  MetricType type() const { return family_.type; }

  void emit(std::vector<MetricFamily>& out) {
    if (!family_.metric.empty()) out.push_back(std::move(family_));
  }

 private:
  ClientMetric& at(Labels labels) {
    labels.insert(labels.end(), common_.begin(), common_.end());
    auto [it, inserted] = index_.emplace(labels, family_.metric.size());
    if (inserted) {
      family_.metric.emplace_back();
      family_.metric.back().label = std::move(labels);
    }
    return family_.metric[it->second];
  }

  MetricFamily family_;
  Labels common_;                   // added to every series: run_id, instance
  std::map<Labels, size_t> index_;  // labels -> position in family_.metric
};

std::vector<double> clean_bounds(const std::vector<double>& wanted) {
  std::vector<double> out;
  for (double b : wanted.empty() ? kDefaultBuckets : wanted) {
    if (std::isfinite(b) && b > 0) out.push_back(b);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out.empty() ? kDefaultBuckets : out;
}

std::vector<MetricFamily> build(const MetricsOptions& options, const WorkerStats& s,
                                const std::vector<ThresholdState>& thresholds, LabelFolder& f) {
  const std::string run_id = f.clean(options.run_id);
  Labels common;
  if (!run_id.empty()) common.push_back({"run_id", run_id});
  if (!options.instance.empty()) common.push_back({"instance", f.clean(options.instance)});
  const std::vector<double> bounds = clean_bounds(options.buckets);
  auto family = [&](const char* name, const char* help, MetricType type) {
    return FamilyBuilder(name, help, type, common);
  };
  FamilyBuilder requests =
      family("pelt_http_requests_total",
             "HTTP responses received, by scenario, request name, method and status.",
             MetricType::Counter);
  FamilyBuilder duration =
      family("pelt_http_request_duration_seconds",
             "HTTP request duration in seconds (from the intended send time in open-loop runs).",
             MetricType::Histogram);
  FamilyBuilder failures = family("pelt_http_request_failures_total",
                                  "Failed HTTP requests (status >= 400 or no response), by reason.",
                                  MetricType::Counter);
  FamilyBuilder vus = family("pelt_vus", "Virtual users active.", MetricType::Gauge);
  FamilyBuilder vus_max = family("pelt_vus_max", "Virtual users allocated.", MetricType::Gauge);
  FamilyBuilder target = family(
      "pelt_target",
      "Current target of the scenario: VUs, or iterations per second for arrival-rate executors.",
      MetricType::Gauge);
  FamilyBuilder target_rate =
      family("pelt_target_rate",
             "Current target arrival rate in iterations per second (arrival-rate executors only).",
             MetricType::Gauge);
  FamilyBuilder iterations =
      family("pelt_iterations_total", "Iterations finished.", MetricType::Counter);
  FamilyBuilder dropped =
      family("pelt_dropped_iterations_total",
             "Arrival-rate iterations that could not start (no free VU).", MetricType::Counter);
  FamilyBuilder interrupted =
      family("pelt_interrupted_iterations_total",
             "Iterations cut unfinished when graceful_stop or graceful_ramp_down ran out.",
             MetricType::Counter);
  FamilyBuilder stage =
      family("pelt_stage", "Index of the current stage (0-based).", MetricType::Gauge);
  FamilyBuilder iteration_duration = family(
      "pelt_iteration_duration_seconds",
      "Time an iteration takes in seconds: delay(), its requests and the think time after it.",
      MetricType::Histogram);

  const size_t scenario_count = std::max(s.scenarios.size(), options.scenario_names.size());
  std::vector<std::string> scenario_label(scenario_count);
  for (size_t i = 0; i < scenario_count; ++i) {
    const std::string raw = i < options.scenario_names.size() && !options.scenario_names[i].empty()
                                ? options.scenario_names[i]
                                : (i == 0 ? "default" : "scenario_" + std::to_string(i));
    scenario_label[i] = f.fold("scenario", raw);
  }
  // Labels of scenario i: the scenario, then `more`, then the request's tags (pelt.tag; their
  // values capped like names), then the scenario's tags (a request's own tag wins).
  auto scenario_labels = [&](size_t i, Labels more, const TagSet* request_tags = nullptr) {
    Labels l = {{"scenario", scenario_label[i]}};
    l.insert(l.end(), more.begin(), more.end());
    if (request_tags) {
      for (const auto& [tag, value] : *request_tags) l.push_back({tag, f.fold(tag, value)});
    }
    if (i < options.scenario_tags.size()) {
      for (const auto& [tag, value] : options.scenario_tags[i]) {
        bool own = false;
        for (const auto& [k, v] : request_tags ? *request_tags : TagSet{}) own = own || k == tag;
        if (!own) l.push_back({tag, f.clean(value)});
      }
    }
    return l;
  };
  static const ScenarioStats kEmptyScenario;
  for (size_t i = 0; i < scenario_count; ++i) {
    const ScenarioStats& sc = i < s.scenarios.size() ? s.scenarios[i] : kEmptyScenario;
    for (const auto& [key, ns] : sc.names) {
      const std::string name = f.fold("name", key.name);
      const TagSet* tags = &key.tags;
      const std::string method = f.fold("method", ns.method.empty() ? "GET" : ns.method);
      // Every request that ended, by status; "0" for those that got no response, so the
      // family adds up to http_reqs.
      for (const auto& [code, n] : ns.status) {
        requests.add(scenario_labels(i,
                                     {{"name", name},
                                      {"method", method},
                                      {"status", f.fold("status", status_label(code))}},
                                     tags),
                     static_cast<double>(n));
      }
      if (ns.requests.no_response > 0) {
        requests.add(
            scenario_labels(i, {{"name", name}, {"method", method}, {"status", "0"}}, tags),
            static_cast<double>(ns.requests.no_response));
      }
      duration.add_histogram(scenario_labels(i, {{"name", name}}, tags), ns.latency, bounds);
      // Failed requests by reason: no response (the reasons recorded), or status >= 400.
      for (const auto& [reason, n] : ns.failure_reasons) {
        failures.add(
            scenario_labels(i, {{"name", name}, {"reason", f.fold("reason", reason)}}, tags),
            static_cast<double>(n));
      }
      for (const auto& [code, n] : ns.status) {
        if (code < 400) continue;
        failures.add(
            scenario_labels(
                i, {{"name", name}, {"reason", f.fold("reason", "status " + status_label(code))}},
                tags),
            static_cast<double>(n));
      }
    }
    const Labels l = scenario_labels(i, {});
    vus.add(l, sc.vus);
    vus_max.add(l, sc.vus_max);
    target.add(l, sc.target);
    if (i < options.arrival_rate.size() && options.arrival_rate[i]) target_rate.add(l, sc.target);
    iterations.add(l, static_cast<double>(sc.iterations));
    dropped.add(l, static_cast<double>(sc.dropped_iterations));
    interrupted.add(l, static_cast<double>(sc.interrupted_iterations));
    stage.add(l, sc.stage);
    iteration_duration.add_histogram(l, sc.iteration_duration, bounds);
  }

  FamilyBuilder sent =
      family("pelt_data_sent_bytes_total", "Bytes sent to the target.", MetricType::Counter);
  sent.add({}, static_cast<double>(s.bytes_written));
  FamilyBuilder received =
      family("pelt_data_received_bytes_total", "Bytes received from the target, headers included.",
             MetricType::Counter);
  received.add({}, static_cast<double>(s.bytes_read));

  FamilyBuilder checks =
      family("pelt_checks_total", "Check results by check name and result.", MetricType::Counter);
  for (const auto& [raw, c] : s.checks) {
    const std::string check = f.fold("check", raw);
    checks.add({{"check", check}, {"result", "pass"}}, static_cast<double>(c.passes));
    checks.add({{"check", check}, {"result", "fail"}}, static_cast<double>(c.fails));
  }

  FamilyBuilder threshold_ok = family(
      "pelt_threshold_ok", "1 while the threshold holds, 0 once it is crossed.", MetricType::Gauge);
  std::map<std::string, bool> ok;  // thresholds folding together are ok only if all are
  for (const auto& t : thresholds) {
    auto [it, inserted] = ok.emplace(f.fold("threshold", t.name), t.ok);
    if (!inserted) it->second = it->second && t.ok;
  }
  for (const auto& [name, good] : ok) threshold_ok.set({{"threshold", name}}, good ? 1 : 0);

  FamilyBuilder send_lag =
      family("pelt_send_lag_seconds",
             "How far request sends lagged behind their schedule (open loop), seconds.",
             MetricType::Histogram);
  send_lag.add_histogram({}, s.send_lag, kSendLagBuckets);

  FamilyBuilder run_info =
      family("pelt_run_info", "Always 1; labels describe the run.", MetricType::Gauge);
  const std::string version = f.clean(options.version);
  const std::string target_url = f.clean(target_label(options.target));
  for (size_t i = 0; i < scenario_count; ++i) {
    run_info.set(scenario_labels(i, {{"version", version}, {"target", target_url}}), 1);
  }
  FamilyBuilder errors = family(
      "pelt_errors_total", "Errors in wrk's kinds: connect, read, write, timeout, status (>= 400).",
      MetricType::Counter);
  errors.add({{"kind", "connect"}}, static_cast<double>(s.errors.connect));
  errors.add({{"kind", "read"}}, static_cast<double>(s.errors.read));
  errors.add({{"kind", "write"}}, static_cast<double>(s.errors.write));
  errors.add({{"kind", "timeout"}}, static_cast<double>(s.errors.timeout));
  errors.add({{"kind", "status"}}, static_cast<double>(s.errors.status));

  FamilyBuilder in_flight =
      family("pelt_requests_in_flight", "Requests sent and still waiting for a response.",
             MetricType::Gauge);
  // Only what waits right now: requests cut unanswered (graceful_stop, graceful_ramp_down)
  // stay in the ledger's in_flight but wait for nothing any more.
  in_flight.add({}, static_cast<double>(s.waiting_now));

  std::vector<MetricFamily> out;
  for (FamilyBuilder* b : {&requests,
                           &duration,
                           &failures,
                           &vus,
                           &vus_max,
                           &target,
                           &target_rate,
                           &iterations,
                           &dropped,
                           &interrupted,
                           &iteration_duration,
                           &sent,
                           &received,
                           &checks,
                           &stage,
                           &threshold_ok,
                           &send_lag,
                           &run_info,
                           &errors,
                           &in_flight}) {
    b->emit(out);
  }
  // The scripts' own metrics: pelt_custom_<name>, with the suffix and type of their kind.
  std::map<std::string, FamilyBuilder> custom;
  // A name two metrics would share (a gauge "x_total" beside a counter "x") goes to a family
  // that is not exported: two families of one name would make the whole scrape invalid.
  FamilyBuilder clash("", "", MetricType::Untyped, common);
  for (size_t i = 0; i < s.scenarios.size() && i < scenario_count; ++i) {
    for (const auto& [key, fig] : s.scenarios[i].custom) {
      const Labels l = scenario_labels(i, {}, &key.tags);
      const std::string base = "pelt_custom_" + key.name;
      auto fam = [&](const std::string& name, const char* help, MetricType type) -> FamilyBuilder& {
        auto it = custom.find(name);
        if (it == custom.end()) {
          it = custom
                   .emplace(name, FamilyBuilder(name, std::string(help) + " " + key.name + ".",
                                                type, common))
                   .first;
        }
        return it->second.type() == type ? it->second : clash;
      };
      switch (fig.kind) {
        case CustomKind::kCounter:
          fam(base + "_total", "Sum of the values a script added to its counter",
              MetricType::Counter)
              .add(l, fig.sum);
          break;
        case CustomKind::kGauge:
          fam(base, "Latest value a script set on its gauge", MetricType::Gauge).add(l, fig.last);
          break;
        case CustomKind::kRate: {
          FamilyBuilder& b =
              fam(base + "_total", "Values a script added to its rate, true (not 0) or false",
                  MetricType::Counter);
          Labels t = l, f = l;
          t.push_back({"result", "true"});
          f.push_back({"result", "false"});
          b.add(t, static_cast<double>(fig.nonzero));
          b.add(f, static_cast<double>(fig.samples - fig.nonzero));
          break;
        }
        case CustomKind::kTrend:
          if (!fig.trend) break;
          if (fig.is_time) {
            // (kept in microseconds, as the request durations are)
            fam(base + "_seconds", "Durations in seconds a script added to its trend",
                MetricType::Histogram)
                .add_histogram(l, *fig.trend, bounds);
          } else {
            fam(base, "Values a script added to its trend", MetricType::Summary)
                .add_summary(l, *fig.trend);
          }
          break;
      }
    }
  }
  for (auto& [name, b] : custom) b.emit(out);
  return out;
}

}  // namespace

std::vector<MetricFamily> build_families(const MetricsOptions& options, const WorkerStats& merged,
                                         const std::vector<ThresholdState>& thresholds) {
  LabelFolder folder(options);
  return build(options, merged, thresholds, folder);
}

struct FamilyMaker::State {
  MetricsOptions options;  // as given
  LabelFolder folder;      // kept across snapshots
};

FamilyMaker::FamilyMaker(MetricsOptions options)
    : state_(std::make_unique<State>(State{options, LabelFolder(options)})) {}

FamilyMaker::~FamilyMaker() = default;

std::vector<MetricFamily> FamilyMaker::make(const WorkerStats& merged,
                                            const std::vector<ThresholdState>& thresholds) {
  return build(state_->options, merged, thresholds, state_->folder);
}

bool parse_listen_address(const std::string& listen, std::string& host, uint16_t& port,
                          std::string& error) {
  std::string port_text;
  host = "127.0.0.1";
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      error = "bad metrics address \"" + listen + "\": use [IPv6]:PORT, e.g. [::1]:9464";
      return false;
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      error = "bad metrics address \"" + listen + "\": \"" + host + "\" is not an IPv6 address";
      return false;
    }
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      port_text = listen;
    } else {
      if (colon > 0) host = listen.substr(0, colon);
      port_text = listen.substr(colon + 1);
    }
    if (host == "localhost") host = "127.0.0.1";
    in_addr a4{};
    if (host.find(':') != std::string::npos || inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      error = "bad metrics address \"" + listen +
              "\": use PORT, HOST:PORT with an IPv4 address, or [IPv6]:PORT, e.g. 127.0.0.1:9464";
      return false;
    }
  }
  const bool digits =
      !port_text.empty() && port_text.size() <= 5 &&
      std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoul(port_text) > 65535) {
    error = "bad metrics address \"" + listen + "\": the port must be a number from 0 to 65535";
    return false;
  }
  port = static_cast<uint16_t>(std::stoul(port_text));
  return true;
}

namespace {

std::string join_host_port(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Tries to bind the address the way the HTTP server will; returns 0 or an errno.
int probe_bind(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  const int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

std::string describe_errno(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address in use";
    case EADDRNOTAVAIL:
      return "address not available on this host";
    case EACCES:
      return "permission denied";
    default:
      return strerror(err);
  }
}

// The registered collectable: hands out the families prepared by update().
class SnapshotCollectable : public prometheus::Collectable {
 public:
  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> copy;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      copy = families_;
      ++scrapes_;
    }
    cv_.notify_all();
    return copy;
  }

  void replace(std::vector<MetricFamily> families) {
    std::lock_guard<std::mutex> lock(mutex_);
    families_ = std::move(families);
  }

  mutable std::mutex mutex_;            // guards families_ and scrapes_
  mutable std::condition_variable cv_;  // signalled after every scrape
  mutable uint64_t scrapes_ = 0;        // Collect() calls so far
  std::vector<MetricFamily> families_;  // what the next scrape returns
};

}  // namespace

struct MetricsServer::Impl {
  MetricsOptions options;                            // as given to start()
  std::string address;                               // "host:port" actually bound
  LabelFolder folder;                                // label state kept across updates
  std::shared_ptr<SnapshotCollectable> collectable;  // registered with the exposer
  std::unique_ptr<prometheus::Exposer> exposer;      // the HTTP server
};

std::unique_ptr<MetricsServer> MetricsServer::start(const MetricsOptions& options,
                                                    std::string& error) {
  std::string host;
  uint16_t port = 0;
  if (!parse_listen_address(options.listen, host, port, error)) return nullptr;
  const std::string wanted = join_host_port(host, port);
  if (const int err = probe_bind(host, port); err != 0) {
    error = "cannot listen on " + wanted + ": " + describe_errno(err);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(Impl{options, "", LabelFolder(options), nullptr, nullptr});
  impl->collectable = std::make_shared<SnapshotCollectable>();
  try {
    // Idle or slow clients hold a server thread until their request times out: enough threads,
    // and a short request timeout, keep scrapes served while such clients are connected.
    impl->exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", wanted, "num_threads", std::to_string(kServerThreads),
        "request_timeout_ms", std::to_string(kRequestTimeoutMs)});
    impl->exposer->RegisterCollectable(impl->collectable);
    const std::vector<int> ports = impl->exposer->GetListeningPorts();
    impl->address = join_host_port(host, ports.empty() ? port : ports.front());
  } catch (const std::exception& e) {
    error = "cannot listen on " + wanted + ": ";
    error += host.find(':') != std::string::npos
                 ? "this build's HTTP server has no IPv6 support; use an IPv4 address"
                 : e.what();
    return nullptr;
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(impl)));
  WorkerStats empty;
  empty.scenarios.resize(options.scenario_names.size());
  server->update(empty, {});
  return server;
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  if (impl_ && impl_->exposer) impl_->exposer->RemoveCollectable(impl_->collectable);
}

std::string MetricsServer::address() const {
  return impl_->address;
}

void MetricsServer::update(const WorkerStats& merged,
                           const std::vector<ThresholdState>& thresholds) {
  impl_->collectable->replace(build(impl_->options, merged, thresholds, impl_->folder));
}

int MetricsServer::linger(std::chrono::milliseconds linger, int scrapes,
                          const std::function<bool()>& stopped) {
  SnapshotCollectable& c = *impl_->collectable;
  const auto deadline = std::chrono::steady_clock::now() + linger;
  std::unique_lock<std::mutex> lock(c.mutex_);
  const uint64_t start = c.scrapes_;
  const auto wanted = static_cast<uint64_t>(std::max(scrapes, 0));
  // Woken by every scrape; a stop request is noticed within kStopPoll.
  while (c.scrapes_ - start < wanted && !stopped() && std::chrono::steady_clock::now() < deadline) {
    c.cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kStopPoll));
  }
  const int seen = static_cast<int>(c.scrapes_ - start);
  lock.unlock();
  // A scrape is counted when its body is built; give the last one time to be written.
  if (seen > 0) std::this_thread::sleep_for(kScrapeGrace);
  return seen;
}

namespace {

class MetricsSink : public Sink {
 public:
  MetricsSink(std::unique_ptr<MetricsServer> server, std::chrono::milliseconds linger, Console& console)
      : server_(std::move(server)), linger_(linger), console_(console) {}

  void on_tick(const RunReport& live) override { server_->update(live.stats, states(live.thresholds)); }

  bool on_final(const RunReport& report, std::string&) override {
    server_->update(report.stats, states(report.thresholds));
    return true;
  }

  void linger(const std::function<bool()>& stopped) override {
    if (linger_.count() <= 0) return;
    console_.notice("pelt: run finished; serving final metrics on http://" + server_->address() +
                    "/metrics for up to " +
                    format_duration_short(std::chrono::duration_cast<std::chrono::microseconds>(linger_)) +
                    " (until scraped twice)");
    const int seen = server_->linger(linger_, 2, stopped);
    console_.notice("pelt: final metrics scraped " + std::to_string(seen) + " time" + (seen == 1 ? "" : "s"));
  }

 private:
  static std::vector<ThresholdState> states(const std::vector<ThresholdOutcome>& outcomes) {
    std::vector<ThresholdState> out;
    for (const ThresholdOutcome& o : outcomes) {
      out.push_back({o.config->key + " " + o.config->expression, o.result.ok});
    }
    return out;
  }

  std::unique_ptr<MetricsServer> server_;  // the endpoint
  std::chrono::milliseconds linger_;       // how long to serve after the run
  Console& console_;                       // for the linger notices
};

}  // namespace

std::unique_ptr<Sink> make_metrics_sink(std::unique_ptr<MetricsServer> server,
                                        std::chrono::milliseconds linger, Console& console) {
  return std::make_unique<MetricsSink>(std::move(server), linger, console);
}

uint64_t MetricsServer::scrape_count() const {
  std::lock_guard<std::mutex> lock(impl_->collectable->mutex_);
  return impl_->collectable->scrapes_;
}

}  // namespace pelt
