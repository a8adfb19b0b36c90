// capacity-search, its pure parts: the live rate schedule, the search's state machine, a
// window of the time series read as a run, and the verdict on a probe.
#include "results/capacity.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "engine/capacity_search.h"
#include "engine/rate_schedule.h"
#include "results/catalogue.h"
#include "results/probe_window.h"

using pelt::CapacitySearch;
using pelt::ProbeVerdict;

namespace {

constexpr uint64_t kMs = 1'000'000;  // ns

pelt::ThresholdConfig threshold(const std::string& metric, const std::string& text) {
  pelt::ThresholdConfig t;
  t.metric = metric;
  t.key = metric;
  t.expression = text;
  std::string error;
  size_t pos = 0;
  REQUIRE(pelt::parse_threshold(text, t.parsed, error, pos));
  return t;
}

// Probes the search asks for until it is done, against a server that sustains `capacity`.
std::vector<double> search_against(pelt::SearchParams p, double capacity, CapacitySearch& s) {
  std::vector<double> probed;
  while (!s.done() && probed.size() < 100) {
    probed.push_back(s.next_rate());
    s.record(s.next_rate() <= capacity ? ProbeVerdict::kPass : ProbeVerdict::kObjectives);
  }
  (void)p;
  return probed;
}

}  // namespace

TEST_CASE("rate schedule: arrivals follow each segment, pauses and the end", "[capacity]") {
  pelt::RateSchedule s;
  CHECK_FALSE(s.view().due_ns(0).has_value());  // nothing scheduled yet
  s.set_rate(0, 10);
  auto v = s.view();
  CHECK(v.due_ns(0) == 0u);
  CHECK(v.due_ns(1) == 100 * kMs);
  CHECK(v.due_ns(9) == 900 * kMs);
  // 20/s from 1.05 s: arrivals 0..10 of the first segment (due up to 1.0 s) stay.
  s.set_rate(1050 * kMs, 20);
  v = s.view();
  CHECK(v.segments.back().first_arrival == 11);
  CHECK(v.due_ns(10) == 1000 * kMs);
  CHECK(v.due_ns(11) == 1050 * kMs);
  CHECK(v.due_ns(12) == 1100 * kMs);
  CHECK(v.rate_at(1049 * kMs) == 10);
  CHECK(v.rate_at(1050 * kMs) == 20);
  // A pause from 2 s: 19 more arrivals (1.05 .. 1.95 s), then none.
  s.set_rate(2000 * kMs, 0);
  v = s.view();
  CHECK(v.segments.back().first_arrival == 30);
  CHECK(v.due_ns(29) == 1950 * kMs);
  CHECK_FALSE(v.due_ns(30).has_value());
  CHECK(v.rate_at(2500 * kMs) == 0);
  // Resumed at 5/s from 3 s, ended at 3.5 s.
  s.set_rate(3000 * kMs, 5);
  s.end(3500 * kMs);
  v = s.view();
  CHECK(v.due_ns(30) == 3000 * kMs);
  CHECK(v.due_ns(32) == 3400 * kMs);
  CHECK_FALSE(v.due_ns(33).has_value());
  CHECK(v.rate_at(3600 * kMs) == 0);
  // Every edit moved the version the workers watch.
  CHECK(s.version() == v.version);
  CHECK(v.version == 5);
}

TEST_CASE("rate schedule: a new rate at the same instant replaces the last one", "[capacity]") {
  pelt::RateSchedule s;
  s.set_rate(1000 * kMs, 10);
  s.set_rate(1000 * kMs, 40);
  const auto v = s.view();
  REQUIRE(v.segments.size() == 1);
  CHECK(v.due_ns(1) == 1025 * kMs);
}

TEST_CASE("search: raise by step_factor, then bisect to the precision", "[capacity]") {
  pelt::SearchParams p{10, 1000, 2, 0.05};
  CapacitySearch s(p);
  const std::vector<double> probed = search_against(p, 77, s);
  REQUIRE(s.done());
  REQUIRE(probed.size() >= 5);
  CHECK(probed[0] == 10);
  CHECK(probed[1] == 20);
  CHECK(probed[2] == 40);
  CHECK(probed[3] == 80);  // the first failure
  CHECK(probed[4] == Approx(std::sqrt(40.0 * 80)));
  REQUIRE(s.passing());
  REQUIRE(s.failing());
  CHECK(*s.passing() <= 77);
  CHECK(*s.failing() > 77);
  CHECK(*s.failing() - *s.passing() <= 0.05 * *s.passing());
  CHECK(*s.passing() >= 77 * 0.95);
  CHECK(s.failing_verdict() == ProbeVerdict::kObjectives);
  CHECK(probed.size() <= pelt::max_probes(p));
}

TEST_CASE("search: a failing start ends it with no rate; max_rate ends it at max_rate",
          "[capacity]") {
  SECTION("the starting rate fails") {
    CapacitySearch s({50, 1000, 1.5, 0.05});
    s.record(ProbeVerdict::kGenerator);
    CHECK(s.done());
    CHECK_FALSE(s.passing());
    CHECK(s.failing() == 50);
    CHECK(s.failing_verdict() == ProbeVerdict::kGenerator);
  }
  SECTION("every probe passes up to max_rate, which is never exceeded") {
    pelt::SearchParams p{100, 1000, 3, 0.05};
    CapacitySearch s(p);
    const std::vector<double> probed = search_against(p, 1e9, s);
    CHECK(probed == std::vector<double>{100, 300, 900, 1000});
    CHECK(s.done());
    CHECK(s.passing() == 1000);
    CHECK_FALSE(s.failing());
  }
}

TEST_CASE("search: the probe count stays within max_probes for any capacity", "[capacity]") {
  for (double capacity : {11.0, 15.0, 33.3, 150.0, 999.0, 5000.0}) {
    pelt::SearchParams p{10, 2000, 1.5, 0.05};
    CapacitySearch s(p);
    const std::vector<double> probed = search_against(p, capacity, s);
    INFO("capacity " << capacity);
    CHECK(s.done());
    CHECK(probed.size() <= pelt::max_probes(p));
    if (capacity < 2000) {
      REQUIRE(s.passing());
      CHECK(*s.passing() <= capacity);
      CHECK(*s.passing() >= capacity / 1.05 - 1e-9);
    }
  }
}

namespace {

// A time series of `seconds` seconds: `per_second` requests a second at latency `ms` ms (one
// name, "/", scenario 0), `failed` of them 500s, and `dropped` dropped arrivals a second.
pelt::TimeSeries make_series(uint64_t seconds, uint64_t per_second, uint64_t ms, uint64_t failed,
                             uint64_t dropped, uint64_t lag_us) {
  pelt::TimeSeries ts;
  for (uint64_t s = 0; s < seconds; ++s) {
    pelt::SeriesPoint name;
    name.requests = per_second;
    name.failed = failed;
    name.errors[static_cast<size_t>(pelt::ErrorKind::kStatus)] = failed;
    name.status_class[1] = per_second - failed;
    name.status_class[4] = failed;
    name.status_codes[200] = per_second - failed;
    if (failed) name.status_codes[500] = failed;
    name.latency.record_n(ms * 1000 + s, per_second);  // later seconds a microsecond slower
    name.send_lag.record_n(lag_us, per_second);
    pelt::SeriesPoint scenario = name;
    scenario.status_codes.clear();
    scenario.dropped_iterations = dropped;
    scenario.iterations = per_second;
    scenario.vus = 3;
    scenario.vus_max = 7;
    pelt::SeriesPoint run = scenario;
    pelt::ClosedSecond c;
    c.index = s;
    c.series.push_back({pelt::SeriesKey{pelt::SeriesScope::kName, 0, "/", "GET"}, name});
    c.series.push_back({pelt::SeriesKey{pelt::SeriesScope::kScenario, 0, "", ""}, scenario});
    c.series.push_back({pelt::SeriesKey{}, run});
    ts.add(std::move(c));
  }
  return ts;
}

}  // namespace

TEST_CASE("window: the seconds of a window read as a run", "[capacity]") {
  const pelt::TimeSeries ts = make_series(10, 100, 20, 5, 2, 300);
  const pelt::WorkerStats w = pelt::window_stats(ts, 3, 7, 1);
  const pelt::Totals t = pelt::read_totals(w);
  CHECK(t.http_reqs == 400);
  CHECK(t.http_failed == 20);
  CHECK(t.dropped == 8);
  CHECK(t.iterations == 400);
  CHECK(w.status[200] == 380);
  CHECK(w.status[500] == 20);
  CHECK(w.scenarios[0].names.at("/").requests.ended() == 400);
  CHECK(w.scenarios[0].stages[0].requests.failed() == 20);
  CHECK(w.scenarios[0].vus_max == 7);
  // Latency from seconds 3..6 only: 20.003 .. 20.006 ms, within the series' 0.8%.
  CHECK(w.latency.count() == 400);
  CHECK(w.latency.min() == 20'003);
  CHECK(w.latency.max() == 20'006);
  CHECK(static_cast<double>(w.latency.percentile(95)) == Approx(20'006).epsilon(0.008));
  CHECK(w.send_lag.percentile(50) == 300);
  // Seconds outside the series: an empty window.
  CHECK(pelt::read_totals(pelt::window_stats(ts, 20, 25, 1)).http_reqs == 0);
}

TEST_CASE("window: only metrics the series keeps can be judged", "[capacity]") {
  CHECK(pelt::window_has_metric("http_req_duration"));
  CHECK(pelt::window_has_metric("http_req_failed"));
  CHECK(pelt::window_has_metric("dropped_iterations"));
  CHECK_FALSE(pelt::window_has_metric("checks"));
  CHECK_FALSE(pelt::window_has_metric("http_req_waiting"));
}

namespace {

pelt::ProbeResult judge(const pelt::TimeSeries& ts, double rate,
                        const std::vector<pelt::ThresholdConfig>& th) {
  static const std::vector<std::string> names = {"search"};
  static const std::vector<std::map<std::string, std::string>> tags = {{}};
  pelt::ProbeJudgeInput in;
  in.thresholds = &th;
  in.scenario_names = &names;
  in.scenario_tags = &tags;
  in.max_vus = 7;
  return pelt::judge_probe(pelt::window_stats(ts, 2, 6, 1), 4, rate, in);
}

}  // namespace

TEST_CASE("probe verdict: objectives, then the generator's limits", "[capacity]") {
  const std::vector<pelt::ThresholdConfig> th = {threshold("http_req_duration", "p(95)<200"),
                                                 threshold("http_req_failed", "rate<0.01")};
  CHECK(pelt::send_lag_limit_ms(th) == 50);
  CHECK(pelt::send_lag_limit_ms({threshold("http_req_duration", "p(99)<20")}) == 10);
  CHECK(pelt::send_lag_limit_ms({threshold("http_req_failed", "rate<0.01")}) == 50);

  SECTION("everything holds") {
    const pelt::ProbeResult p = judge(make_series(8, 100, 20, 0, 0, 100), 100, th);
    CHECK(p.verdict == ProbeVerdict::kPass);
    CHECK(p.requests == 400);
    CHECK(p.rps == 100);
    CHECK(p.p95_ms == Approx(20).epsilon(0.01));
    REQUIRE(p.objectives.size() == 2);
    CHECK(p.objectives[0].result.ok);
    CHECK(pelt::objective_text(p.objectives[0], true) == "p95 20.0 ms < 200 ms");
    CHECK(pelt::objective_text(p.objectives[1], true) == "errors 0.00% < 1%");
  }
  SECTION("latency crosses its objective") {
    const pelt::ProbeResult p = judge(make_series(8, 100, 300, 0, 0, 100), 100, th);
    CHECK(p.verdict == ProbeVerdict::kObjectives);
    CHECK(p.reason == "p95 300 ms");
  }
  SECTION("errors cross theirs") {
    const pelt::ProbeResult p = judge(make_series(8, 100, 20, 5, 0, 100), 100, th);
    CHECK(p.verdict == ProbeVerdict::kObjectives);
    CHECK(p.reason == "errors 5.00%");
    CHECK(p.error_rate == Approx(0.05));
  }
  SECTION("sends lagging is the generator's limit, even when latency crossed too") {
    const pelt::ProbeResult p = judge(make_series(8, 100, 300, 0, 0, 80'000), 100, th);
    CHECK(p.verdict == ProbeVerdict::kGenerator);
    CHECK(p.reason.find("send lag p50 80.0 ms > 50.0 ms") == 0);
  }
  SECTION("dropped arrivals are the generator's limit when the objectives held") {
    const pelt::ProbeResult p = judge(make_series(8, 100, 20, 0, 3, 100), 103, th);
    CHECK(p.verdict == ProbeVerdict::kGenerator);
    CHECK(p.dropped == 12);
    INFO(p.reason);
    CHECK(p.reason.find("12 of 412 arrivals dropped: all 7 VUs were busy") == 0);
  }
  SECTION("a window without requests fails") {
    const pelt::ProbeResult p = judge(make_series(1, 100, 20, 0, 0, 100), 100, th);
    CHECK(p.verdict == ProbeVerdict::kObjectives);
    CHECK(p.reason == "no request ended in the window");
  }
}

TEST_CASE("capacity headline and JSON", "[capacity]") {
  const std::vector<pelt::ThresholdConfig> th = {threshold("http_req_duration", "p(95)<200"),
                                                 threshold("http_req_failed", "rate<0.01")};
  pelt::CapacityResult c;
  c.scenario = "search";
  c.start_rate = 100;
  c.complete = true;
  pelt::ProbeResult good = judge(make_series(8, 1840, 180, 0, 0, 100), 1840, th);
  pelt::ProbeResult bad = judge(make_series(8, 1960, 410, 0, 0, 100), 1960, th);
  good.index = 0;
  bad.index = 1;
  c.probes = {good, bad};
  c.max_sustainable_rate = 1840;
  c.first_failing_rate = 1960;
  c.best_probe = 0;
  c.failing_probe = 1;
  c.limited_by = "objectives";
  CHECK(pelt::capacity_headline(c) ==
        "maximum sustainable rate: 1,840 req/s (p95 180 ms < 200 ms, errors 0.00% < 1%); first "
        "failing: "
        "1,960 req/s (p95 410 ms)");
  const nlohmann::json j = pelt::capacity_json(c);
  CHECK(j["max_sustainable_rate"] == 1840.0);
  CHECK(j["first_failing_rate"] == 1960.0);
  CHECK(j["limited_by"] == "objectives");
  REQUIRE(j["probes"].size() == 2);
  CHECK(j["probes"][1]["verdict"] == "objectives");
  CHECK(j["probes"][1]["ok"] == false);

  c.max_sustainable_rate.reset();
  c.best_probe.reset();
  c.probes = {bad};
  c.failing_probe = 0;
  c.first_failing_rate = 1960;
  c.start_rate = 1960;
  CHECK(pelt::capacity_headline(c).find(
            "maximum sustainable rate: none, even the starting rate 1,960 req/s failed") == 0);
  CHECK(pelt::capacity_json(c)["max_sustainable_rate"].is_null());
}

TEST_CASE("probe verdict: a failure known before the window is over", "[capacity]") {
  const std::vector<pelt::ThresholdConfig> th = {threshold("http_req_duration", "p(95)<200"),
                                                 threshold("http_req_failed", "rate<0.01")};
  static const std::vector<std::string> names = {"search"};
  static const std::vector<std::map<std::string, std::string>> tags = {{}};
  pelt::ProbeJudgeInput in;
  in.thresholds = &th;
  in.scenario_names = &names;
  in.scenario_tags = &tags;
  // Two seconds of a 10 s hold at 100/s: up to 1,100 requests in the window, 55 may be slow.
  const auto partial = [](uint64_t ms, uint64_t failed, uint64_t dropped) {
    return pelt::window_stats(make_series(2, 100, ms, failed, dropped, 100), 0, 2, 1);
  };
  CHECK_FALSE(pelt::certain_failure(partial(20, 0, 0), 100, 10, in));
  CHECK(pelt::certain_failure(partial(300, 0, 0), 100, 10, in));       // 200 slow already
  CHECK_FALSE(pelt::certain_failure(partial(20, 5, 0), 100, 10, in));  // 10 failed of 11 allowed
  CHECK(pelt::certain_failure(partial(20, 6, 0), 100, 10, in));        // 12 failed
  CHECK_FALSE(pelt::certain_failure(partial(20, 0, 0), 100, 10, in));
  CHECK(pelt::certain_failure(partial(20, 0, 1), 100, 10, in));  // 2 dropped > 0.1% of 1,100
  // A tagged objective waits for the whole window.
  pelt::ThresholdConfig named = threshold("http_req_duration", "p(95)<200");
  named.tags = {{"name", "/"}};
  const std::vector<pelt::ThresholdConfig> only_named = {named};
  in.thresholds = &only_named;
  CHECK_FALSE(pelt::certain_failure(partial(300, 0, 0), 100, 10, in));
}
