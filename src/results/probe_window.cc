#include "results/probe_window.h"

#include <algorithm>
#include <map>
#include <string>

namespace pelt {
namespace {

// SeriesHistogram -> Histogram through their shared "h1" text form, each bucket carried by its
// representative value (as SeriesHistogram's own percentiles read it), so a window's p95 is
// the time series' p95 of those seconds. count, min, max and the sums stay exact.
Histogram to_histogram(const SeriesHistogram& h) {
  Histogram out;
  if (h.count() == 0) return out;
  const std::string text = h.encode();
  // "h1 count min max overflow sum sum_sq v:c,v:c,...": the buckets follow the 7th space.
  size_t at = 0;
  for (int spaces = 0; spaces < 7 && at != std::string::npos; ++spaces) at = text.find(' ', at + 1);
  if (at == std::string::npos) return out;
  std::string rewritten = text.substr(0, at + 1);
  size_t pos = at + 1;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const size_t colon = text.find(':', pos);
    if (colon == std::string::npos || colon > comma) return out;
    const uint64_t lower = std::stoull(text.substr(pos, colon - pos));
    const uint64_t mid =
        std::clamp(SeriesHistogram::midpoint(SeriesHistogram::index(lower)), h.min(), h.max());
    if (pos > at + 1) rewritten += ',';
    rewritten += std::to_string(mid) + text.substr(colon, comma - colon);
    pos = comma + 1;
  }
  std::string error;
  Histogram::decode(rewritten, out, error);
  return out;
}

// How the requests of a point ended.
RequestCounts counts_of(const SeriesPoint& p) {
  RequestCounts c;
  for (uint64_t n : p.status_class) c.responses += n;
  c.failed_responses = p.errors[static_cast<size_t>(ErrorKind::kStatus)];
  c.no_response = p.requests > c.responses ? p.requests - c.responses : 0;
  return c;
}

// One series summed over the window.
struct Sum {
  SeriesPoint point;  // counts added, gauges of the last bucket
  bool seen = false;  // some bucket had it

  void add(const SeriesPoint& p) {
    if (!seen) {
      point = p;
      seen = true;
    } else {
      point.add_later(p);
    }
  }
};

}  // namespace

const std::vector<std::string_view>& window_metrics() {
  static const std::vector<std::string_view> kAll = {"http_reqs",
                                                     "http_req_duration",
                                                     "http_req_failed",
                                                     "send_lag",
                                                     "iterations",
                                                     "dropped_iterations",
                                                     "interrupted_iterations",
                                                     "data_received",
                                                     "data_sent",
                                                     "vus",
                                                     "vus_max"};
  return kAll;
}

bool window_has_metric(std::string_view metric) {
  const auto& all = window_metrics();
  return std::find(all.begin(), all.end(), metric) != all.end();
}

WorkerStats window_stats(const TimeSeries& series, uint64_t from_s, uint64_t to_s,
                         size_t scenarios) {
  Sum run;
  std::vector<Sum> by_scenario(scenarios);
  std::map<std::pair<uint32_t, std::string>, Sum> by_name;
  std::map<std::pair<uint32_t, std::string>, std::string> methods;
  for (const TimeSeries::Bucket& b : series.buckets()) {
    if (b.start_s < from_s || b.start_s >= to_s) continue;
    for (const auto& [key, point] : b.series) {
      switch (key.scope) {
        case SeriesScope::kRun:
          run.add(point);
          break;
        case SeriesScope::kScenario:
          if (key.scenario < scenarios) by_scenario[key.scenario].add(point);
          break;
        case SeriesScope::kName:
          by_name[{key.scenario, key.name}].add(point);
          methods[{key.scenario, key.name}] = key.method;
          break;
      }
    }
  }

  WorkerStats w;
  const SeriesPoint& r = run.point;
  const RequestCounts rc = counts_of(r);
  w.ledger.completed = rc.responses;
  w.ledger.timed_out = std::min(rc.no_response, r.errors[static_cast<size_t>(ErrorKind::kTimeout)]);
  w.ledger.failed = rc.no_response - w.ledger.timed_out;
  w.ledger.sent = w.ledger.completed + w.ledger.failed + w.ledger.timed_out;
  w.errors.connect = r.errors[static_cast<size_t>(ErrorKind::kConnect)];
  w.errors.read = r.errors[static_cast<size_t>(ErrorKind::kRead)];
  w.errors.write = r.errors[static_cast<size_t>(ErrorKind::kWrite)];
  w.errors.timeout = r.errors[static_cast<size_t>(ErrorKind::kTimeout)];
  w.errors.status = rc.failed_responses;
  w.bytes_read = r.bytes_received;
  w.bytes_written = r.bytes_sent;
  w.latency = to_histogram(r.latency);
  w.send_lag = to_histogram(r.send_lag);

  w.scenarios.resize(scenarios);
  for (size_t i = 0; i < scenarios; ++i) {
    ScenarioStats& sc = w.scenarios[i];
    const SeriesPoint& p = by_scenario[i].point;
    sc.iterations = p.iterations;
    sc.dropped_iterations = p.dropped_iterations;
    sc.interrupted_iterations = p.interrupted_iterations;
    sc.vus = p.vus;
    sc.vus_max = p.vus_max;
    sc.stages.resize(1);
    sc.stages[0].requests = counts_of(p);
    sc.stages[0].dropped_iterations = p.dropped_iterations;
    sc.stages[0].latency = to_histogram(p.latency);
  }
  for (const auto& [key, sum] : by_name) {
    if (key.first >= scenarios) continue;
    NameStats& ns = w.scenarios[key.first].names[key.second];
    ns.method = methods[key];
    ns.requests = counts_of(sum.point);
    ns.latency = to_histogram(sum.point.latency);
    for (const auto& [code, n] : sum.point.status_codes) {
      if (code == 0) continue;  // no response
      ns.status[code] += n;
      if (static_cast<size_t>(code) < w.status.size()) w.status[static_cast<size_t>(code)] += n;
    }
  }
  return w;
}

}  // namespace pelt
