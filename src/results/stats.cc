#include "results/stats.h"

#include <algorithm>

namespace pelt {
namespace {

// Appends `sample` unless the list is full or already holds the same text.
void keep_sample(std::vector<std::string>& samples, const std::string& sample) {
  if (sample.empty() || samples.size() >= WorkerStats::kMaxSamples) return;
  if (std::find(samples.begin(), samples.end(), sample) != samples.end()) return;
  samples.push_back(sample);
}

}  // namespace

uint64_t& ErrorCounts::operator[](ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnect:
      return connect;
    case ErrorKind::kRead:
      return read;
    case ErrorKind::kWrite:
      return write;
    case ErrorKind::kTimeout:
      return timeout;
    case ErrorKind::kStatus:
      return status;
  }
  return read;
}

void ErrorCounts::merge(const ErrorCounts& o) {
  connect += o.connect;
  read += o.read;
  write += o.write;
  timeout += o.timeout;
  status += o.status;
}

void Ledger::merge(const Ledger& o) {
  sent += o.sent;
  completed += o.completed;
  failed += o.failed;
  timed_out += o.timed_out;
  in_flight += o.in_flight;
}

void RequestCounts::merge(const RequestCounts& o) {
  responses += o.responses;
  failed_responses += o.failed_responses;
  no_response += o.no_response;
}

void CheckCount::merge(const CheckCount& o) {
  passes += o.passes;
  fails += o.fails;
}

void StageStats::merge(const StageStats& o) {
  requests.merge(o.requests);
  dropped_iterations += o.dropped_iterations;
  latency.merge(o.latency);
}

void NameStats::merge(const NameStats& o) {
  if (method.empty()) method = o.method;
  requests.merge(o.requests);
  for (const auto& [code, n] : o.status) status[code] += n;
  for (const auto& [reason, n] : o.failure_reasons) failure_reasons[reason] += n;
  latency.merge(o.latency);
  for (const auto& [key, h] : o.splits) splits[key].merge(h);
}

CustomFigures& CustomFigures::operator=(const CustomFigures& o) {
  if (this == &o) return *this;
  kind = o.kind;
  is_time = o.is_time;
  samples = o.samples;
  sum = o.sum;
  nonzero = o.nonzero;
  min = o.min;
  max = o.max;
  last = o.last;
  last_ns = o.last_ns;
  trend = o.trend ? std::make_unique<Histogram>(*o.trend) : nullptr;
  return *this;
}

void CustomFigures::add_to_trend(double value) {
  if (!trend) trend = std::make_unique<Histogram>();
  const double scaled = value * 1000;
  trend->record(scaled > 0 ? static_cast<uint64_t>(std::min(scaled + 0.5, 1.8e19)) : 0);
}

void CustomFigures::merge(const CustomFigures& o) {
  if (o.samples == 0) return;
  if (samples == 0) {
    kind = o.kind;
    is_time = o.is_time;
  }
  min = samples == 0 || o.min < min ? o.min : min;
  max = samples == 0 || o.max > max ? o.max : max;
  samples += o.samples;
  sum += o.sum;
  nonzero += o.nonzero;
  if (o.last_ns >= last_ns) {
    last = o.last;  // the latest value wins
    last_ns = o.last_ns;
  }
  if (o.trend) {
    if (!trend) trend = std::make_unique<Histogram>();
    trend->merge(*o.trend);
  }
}

std::string NameKey::label() const {
  if (tags.empty()) return name;
  std::string out = name + " {";
  for (size_t i = 0; i < tags.size(); ++i) {
    out += (i ? ", " : "") + tags[i].first + "=" + tags[i].second;
  }
  return out + "}";
}

const std::string* NameKey::tag(std::string_view key) const {
  for (const auto& [k, v] : tags) {
    if (k == key) return &v;
  }
  return nullptr;
}

void ScenarioStats::merge(const ScenarioStats& o) {
  if (stages.size() < o.stages.size()) stages.resize(o.stages.size());
  for (size_t i = 0; i < o.stages.size(); ++i) stages[i].merge(o.stages[i]);
  // Past the caps, names this side has not seen fold into "other", and tag sets into their
  // name without tags (as the workers fold them).
  std::set<std::string_view> seen_names;
  size_t tagged = 0;
  for (const auto& [key, stats] : names) {
    seen_names.insert(key.name);
    tagged += key.tags.empty() ? 0 : 1;
  }
  for (const auto& [key, stats] : o.names) {
    auto it = names.find(key);
    if (it == names.end()) {
      NameKey folded = key;
      if (!seen_names.count(key.name) && seen_names.size() >= WorkerStats::kMaxNames) {
        folded = NameKey("other");
      } else if (!key.tags.empty() && tagged >= WorkerStats::kMaxTagSets) {
        folded = NameKey(key.name);
        capped_tags.insert("");
      }
      it = names.try_emplace(std::move(folded)).first;
      if (!it->first.tags.empty()) ++tagged;
      seen_names.insert(it->first.name);
    }
    it->second.merge(stats);
  }
  capped_tags.insert(o.capped_tags.begin(), o.capped_tags.end());
  for (const auto& [key, figures] : o.custom) {
    auto it = custom.find(key);
    if (it == custom.end())
      it = custom.emplace(key, CustomFigures(figures.kind, figures.is_time)).first;
    it->second.merge(figures);
  }
  iterations += o.iterations;
  dropped_iterations += o.dropped_iterations;
  interrupted_iterations += o.interrupted_iterations;
  vus += o.vus;          // each worker reports its share
  vus_max += o.vus_max;  // likewise
  stage = std::max(stage, o.stage);
  target += o.target;  // each worker drives its share of the target
  iteration_duration.merge(o.iteration_duration);
}

void Http2Stats::merge(const Http2Stats& o) {
  for (const Http2Counter& c : kHttp2Counters) this->*c.member += o.*c.member;
  peer_max_concurrent_streams = std::min(peer_max_concurrent_streams, o.peer_max_concurrent_streams);
}

void WorkerStats::merge(const WorkerStats& o) {
  ledger.merge(o.ledger);
  waiting_now += o.waiting_now;
  errors.merge(o.errors);
  for (const auto& [reason, n] : o.error_reasons) error_reasons[reason] += n;
  for (const auto& sample : o.error_samples) keep_sample(error_samples, sample);
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  connects += o.connects;
  reconnects += o.reconnects;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
  for (size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  http2.merge(o.http2);

  latency.merge(o.latency);
  service.merge(o.service);
  send_lag.merge(o.send_lag);
  connect_time.merge(o.connect_time);
  tls_time.merge(o.tls_time);
  waiting.merge(o.waiting);
  blocked.merge(o.blocked);
  receiving.merge(o.receiving);
  req_per_sec.merge(o.req_per_sec);

  if (scenarios.size() < o.scenarios.size()) scenarios.resize(o.scenarios.size());
  for (size_t i = 0; i < o.scenarios.size(); ++i) scenarios[i].merge(o.scenarios[i]);
  for (const auto& [name, c] : o.checks) checks[name].merge(c);
  script_errors += o.script_errors;
  for (const auto& sample : o.script_error_samples) keep_sample(script_error_samples, sample);
}

void WorkerStats::add_error_reason(const std::string& reason, const std::string& sample) {
  ++error_reasons[reason];
  keep_sample(error_samples, sample);
}

void WorkerStats::add_script_error(const std::string& message) {
  ++script_errors;
  keep_sample(script_error_samples, message);
}

uint64_t WorkerStats::non_2xx_3xx() const {
  uint64_t n = 0;
  for (size_t code = 0; code < status.size(); ++code) {
    if (code < 200 || code > 399) n += status[code];
  }
  return n;
}

}  // namespace pelt
