#include "results/series_decode.h"

#include <cmath>
#include <map>
#include <stdexcept>

namespace pelt {
namespace {

using nlohmann::json;

constexpr const char* kErrorNames[] = {"connect", "read", "write", "timeout", "status"};
constexpr const char* kStatusClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};

uint64_t u64_at(const json& column, size_t i) {
  return column.at(i).get<uint64_t>();
}

double number_at(const json& column, size_t i) {
  const json& v = column.at(i);
  return v.is_null() ? std::nan("") : v.get<double>();
}

void histogram_at(const json& column, size_t i, SeriesHistogram& out) {
  std::string error;
  if (!SeriesHistogram::decode(column.at(i).get<std::string>(), out, error)) {
    throw std::runtime_error("bad histogram: " + error);
  }
}

SeriesKey key_of(const json& s, const std::vector<std::string>& scenario_names) {
  SeriesKey key;
  const std::string scope = s.at("scope").get<std::string>();
  if (scope == "run") return key;
  key.scope = scope == "scenario" ? SeriesScope::kScenario : SeriesScope::kName;
  if (scope != "scenario" && scope != "name")
    throw std::runtime_error("unknown scope \"" + scope + "\"");
  const std::string name = s.at("scenario").get<std::string>();
  size_t i = 0;
  while (i < scenario_names.size() && scenario_names[i] != name) ++i;
  if (i == scenario_names.size()) throw std::runtime_error("unknown scenario \"" + name + "\"");
  key.scenario = static_cast<uint32_t>(i);
  if (key.scope == SeriesScope::kName) {
    key.name = s.at("name").get<std::string>();
    key.method = s.at("method").get<std::string>();
  }
  return key;
}

uint64_t end_of(const TimeSeries::Bucket& b) {
  return b.start_s + b.width_s;
}

}  // namespace

bool timeseries_from_json(const json& ts, const std::vector<std::string>& scenario_names,
                          std::deque<TimeSeries::Bucket>& out, int64_t& start_unix_ms,
                          std::string& error) {
  out.clear();
  try {
    start_unix_ms = ts.at("start_unix_ms").get<int64_t>();
    const json& t = ts.at("t");
    const json& width = ts.at("width");
    for (size_t i = 0; i < t.size(); ++i) {
      TimeSeries::Bucket b;
      b.start_s = u64_at(t, i);
      b.width_s = u64_at(width, i);
      out.push_back(std::move(b));
    }
    for (const json& s : ts.at("series")) {
      const SeriesKey key = key_of(s, scenario_names);
      const bool gauges = key.scope != SeriesScope::kName;
      for (size_t i = 0; i < out.size(); ++i) {
        SeriesPoint p;
        p.requests = u64_at(s.at("requests"), i);
        p.failed = u64_at(s.at("failed"), i);
        for (size_t k = 0; k < SeriesPoint::kErrorKinds; ++k)
          p.errors[k] = u64_at(s.at("errors").at(kErrorNames[k]), i);
        for (size_t k = 0; k < SeriesPoint::kStatusClasses; ++k) {
          p.status_class[k] = u64_at(s.at("status").at(kStatusClasses[k]), i);
        }
        p.bytes_sent = u64_at(s.at("bytes_sent"), i);
        p.bytes_received = u64_at(s.at("bytes_received"), i);
        histogram_at(s.at("latency_histogram_us"), i, p.latency);
        if (!gauges) {
          for (const auto& [code, column] : s.at("status_codes").items()) {
            if (const uint64_t n = u64_at(column, i)) p.status_codes[std::stoi(code)] = n;
          }
        } else {
          p.vus = s.at("vus").at(i).get<uint32_t>();
          p.vus_max = s.at("vus_max").at(i).get<uint32_t>();
          p.target_vus = number_at(s.at("target_vus"), i);
          p.target_rate = number_at(s.at("target_rate"), i);
          p.iterations = u64_at(s.at("iterations"), i);
          p.dropped_iterations = u64_at(s.at("dropped_iterations"), i);
          p.interrupted_iterations = u64_at(s.at("interrupted_iterations"), i);
          if (s.contains("send_lag_histogram_us"))
            histogram_at(s.at("send_lag_histogram_us"), i, p.send_lag);
        }
        // A series without data in a bucket is left out of it, as the recorder does.
        const bool empty = p.requests == 0 && p.iterations == 0 && p.dropped_iterations == 0 &&
                           p.interrupted_iterations == 0 && p.vus == 0 && p.vus_max == 0 &&
                           p.bytes_sent == 0 && p.bytes_received == 0 && std::isnan(p.target_vus) &&
                           std::isnan(p.target_rate);
        if (!empty) out[i].series.emplace(key, std::move(p));
      }
    }
  } catch (const std::exception& e) {
    error = std::string("timeseries: ") + e.what();
    return false;
  }
  return true;
}

void merge_buckets(std::deque<TimeSeries::Bucket>& into, const std::deque<TimeSeries::Bucket>& from,
                   uint64_t offset_s) {
  std::map<uint64_t, TimeSeries::Bucket> by_start;
  for (TimeSeries::Bucket& b : into) by_start.emplace(b.start_s, std::move(b));
  for (const TimeSeries::Bucket& incoming : from) {
    TimeSeries::Bucket b = incoming;
    b.start_s += offset_s;
    // The existing buckets this one overlaps, in time order.
    auto first = by_start.upper_bound(b.start_s);
    if (first != by_start.begin() && end_of(std::prev(first)->second) > b.start_s) --first;
    auto last = first;
    while (last != by_start.end() && last->second.start_s < end_of(b)) ++last;
    if (first != last && std::next(first) == last && first->second.start_s == b.start_s &&
        first->second.width_s == b.width_s) {
      for (const auto& [key, point] : b.series) first->second.series[key].add_parallel(point);
      continue;
    }
    if (first == last) {
      by_start.emplace(b.start_s, std::move(b));
      continue;
    }
    // Different spans: one bucket covering them all.
    TimeSeries::Bucket joined;
    joined.start_s = std::min(b.start_s, first->second.start_s);
    uint64_t end = end_of(b);
    for (auto it = first; it != last; ++it) {
      end = std::max(end, end_of(it->second));
      for (const auto& [key, point] : it->second.series) joined.series[key].add_later(point);
    }
    for (const auto& [key, point] : b.series) joined.series[key].add_parallel(point);
    joined.width_s = end - joined.start_s;
    by_start.erase(first, last);
    by_start.emplace(joined.start_s, std::move(joined));
  }
  into.clear();
  uint64_t next = by_start.empty() ? 0 : by_start.begin()->second.start_s;
  for (auto& [start, b] : by_start) {
    for (; next < start; ++next) {
      TimeSeries::Bucket gap;
      gap.start_s = next;
      into.push_back(std::move(gap));
    }
    next = end_of(b);
    into.push_back(std::move(b));
  }
}

}  // namespace pelt
