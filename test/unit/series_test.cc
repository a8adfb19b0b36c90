// The per-second time series: the compact histogram's accuracy and exact merges, the worker's
// open second, and the coarsening that bounds memory for long runs.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "results/histogram.h"
#include "results/recorder.h"
#include "results/series.h"
#include "results/series_recorder.h"

namespace {

using pelt::SeriesHistogram;
using pelt::TimeSeries;

constexpr uint64_t kSecond = 1'000'000'000;

}  // namespace

TEST_CASE("series histogram: buckets cover every value and midpoints are within 0.8%", "[series]") {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 127, 128, 129, 255, 256, 1000, 20'000, 123'456,
                     999'999'999, SeriesHistogram::kMaxValue}) {
    const uint32_t i = SeriesHistogram::index(v);
    CHECK(i < SeriesHistogram::kBuckets);
    CHECK(SeriesHistogram::lower(i) <= v);
    const double mid = static_cast<double>(SeriesHistogram::midpoint(i));
    CHECK(std::abs(mid - static_cast<double>(v)) <= 0.008 * static_cast<double>(v) + 0.5);
  }
  // Consecutive buckets tile the values.
  for (uint32_t i = 1; i < SeriesHistogram::kBuckets; ++i) {
    CHECK(SeriesHistogram::lower(i) > SeriesHistogram::lower(i - 1));
    CHECK(SeriesHistogram::index(SeriesHistogram::lower(i)) == i);
    CHECK(SeriesHistogram::index(SeriesHistogram::lower(i) - 1) == i - 1);
  }
}

TEST_CASE("series histogram: percentiles track the full histogram, merges are exact", "[series]") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(20'000.0), 0.8);
  pelt::Histogram full;
  SeriesHistogram a, b;
  pelt::SecondHistogram dense;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t v = static_cast<uint64_t>(latency(rng));
    full.record(v);
    if (i % 2) {
      a.record_n(v, 1);
    } else {
      dense.record(v);
    }
  }
  dense.drain_into(b);
  CHECK(dense.empty());
  SeriesHistogram merged = a;
  merged.merge(b);
  CHECK(merged.count() == full.count());
  CHECK(merged.min() == full.min());
  CHECK(merged.max() == full.max());
  CHECK(merged.mean() == Approx(full.mean()));
  for (double p : {1.0, 50.0, 90.0, 95.0, 99.0, 99.9}) {
    INFO("p" << p);
    CHECK(static_cast<double>(merged.percentile(p)) ==
          Approx(static_cast<double>(full.percentile(p))).epsilon(0.012));
  }
  // The text form carries it exactly.
  SeriesHistogram back;
  std::string error;
  REQUIRE(SeriesHistogram::decode(merged.encode(), back, error));
  CHECK(back.encode() == merged.encode());
  CHECK(back.percentile(95) == merged.percentile(95));
  // ...and a full Histogram reads it too (the h1 form is shared).
  pelt::Histogram h;
  REQUIRE(pelt::Histogram::decode(merged.encode(), h, error));
  CHECK(h.count() == merged.count());
  CHECK_FALSE(SeriesHistogram::decode("h1 2 5 1 0 6 26 5:2", back, error));
  CHECK_FALSE(SeriesHistogram::decode("h2 1", back, error));
}

TEST_CASE("series recorder: a second's requests add up in every scope", "[series]") {
  pelt::WorkerStats stats;
  stats.scenarios.resize(2);
  for (auto& s : stats.scenarios) s.stages.resize(1);
  pelt::Recorder rec(stats);
  const uint64_t t0 = 5 * kSecond;
  rec.series().start(t0, 2);
  pelt::RequestScope a(0, &stats.scenarios[0]);
  pelt::NameStats& home = stats.scenarios[0].names["home"];
  a.set_name(&home);
  a.set_series(rec.series_slot(0, "home", "GET"));
  pelt::RequestScope b(1, &stats.scenarios[1]);
  pelt::NameStats& buy = stats.scenarios[1].names["buy"];
  b.set_name(&buy);
  b.set_series(rec.series_slot(1, "buy", "POST"));
  rec.record_response(a, 200, 1000, 1000, t0 + 1);
  rec.record_response(a, 500, 3000, 3000, t0 + 2);
  rec.record_response(b, 201, 2000, 2000, t0 + 3);
  rec.record_failure(b, pelt::ErrorKind::kRead, "premature close", "read: closed", 2, t0 + 4);
  rec.record_response(a, 200, 1000, 1000, t0 + kSecond + 5);  // closes second 0
  rec.series().finish(t0 + kSecond + 6);
  const auto seconds = rec.series().take_closed();
  REQUIRE(seconds.size() == 2);
  CHECK(seconds[0].index == 0);
  CHECK(seconds[1].index == 1);
  TimeSeries ts;
  for (auto s : seconds) ts.add(std::move(s));
  REQUIRE(ts.buckets().size() == 2);
  const auto& first = ts.buckets()[0].series;
  const pelt::SeriesPoint& run = first.at(pelt::SeriesKey{});
  CHECK(run.requests == 5);
  CHECK(run.failed == 3);
  CHECK(run.errors[static_cast<size_t>(pelt::ErrorKind::kRead)] == 1);
  CHECK(run.errors[static_cast<size_t>(pelt::ErrorKind::kStatus)] == 1);
  CHECK(run.latency.count() == 3);
  const pelt::SeriesPoint& buy_point = first.at(pelt::SeriesKey{pelt::SeriesScope::kName, 1, "buy", "POST"});
  CHECK(buy_point.requests == 3);
  CHECK(buy_point.status_codes.at(201) == 1);
  CHECK(buy_point.status_codes.at(0) == 2);
  CHECK(first.at(pelt::SeriesKey{pelt::SeriesScope::kScenario, 0, "", ""}).requests == 2);
  // The per-second requests add up to the run's ended requests.
  uint64_t sum = 0;
  for (const auto& bucket : ts.buckets()) sum += bucket.series.at(pelt::SeriesKey{}).requests;
  CHECK(sum == stats.ledger.ended());
}

TEST_CASE("time series: coarsening bounds memory for a 24 h run", "[series]") {
  // 24 hours of seconds, each with the run, one scenario and 10 request names, latencies spread
  // over two decades: at most kPerLevel buckets of each width, and a stated memory bound.
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> latency(std::log(20'000.0), 1.0);
  TimeSeries ts;
  uint64_t requests = 0;
  constexpr uint64_t kDay = 24 * 3600;
  for (uint64_t s = 0; s < kDay; ++s) {
    pelt::ClosedSecond second;
    second.index = s;
    pelt::SeriesPoint run, scenario;
    for (int n = 0; n < 10; ++n) {
      pelt::SeriesPoint p;
      p.requests = 50;
      for (int k = 0; k < 50; ++k) p.latency.record_n(static_cast<uint64_t>(latency(rng)), 1);
      p.status_codes[200] = 50;
      scenario.add_parallel(p);
      second.series.push_back({pelt::SeriesKey{pelt::SeriesScope::kName, 0, "name" + std::to_string(n), "GET"}, p});
    }
    scenario.vus = 10;
    run.add_parallel(scenario);
    requests += run.requests;
    second.series.push_back({pelt::SeriesKey{pelt::SeriesScope::kScenario, 0, "", ""}, scenario});
    second.series.push_back({pelt::SeriesKey{}, run});
    ts.add(std::move(second));
  }
  std::map<uint64_t, size_t> per_width;
  uint64_t covered = 0, sum = 0;
  for (const auto& b : ts.buckets()) {
    ++per_width[b.width_s];
    covered += b.width_s;
    sum += b.series.at(pelt::SeriesKey{}).requests;
  }
  for (const auto& [width, n] : per_width) CHECK(n <= TimeSeries::kPerLevel);
  CHECK(covered == kDay);          // nothing dropped ...
  CHECK(sum == requests);          // ... every request still counted
  CHECK(ts.buckets().back().width_s == 1);  // the latest seconds keep their resolution
  const size_t bytes = ts.memory_bytes();
  INFO("24 h time series: " << ts.buckets().size() << " buckets, " << bytes / 1024 << " KiB");
  CHECK(bytes < 48u * 1024 * 1024);  // docs/OUTPUT.md states this bound
  CHECK(ts.buckets().size() < 1500);
}
