// pelt compare's logic: --fail-if rules, labels, the bootstrap's noise, and comparisons of
// synthetic summaries whose per-second series are known.
#include "results/compare.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "results/compare_noise.h"
#include "results/series.h"

using nlohmann::json;

namespace {

// A summary of `seconds` seconds at `rps` requests a second whose latencies are drawn around
// `ms` (spread `jitter` ms), `failed` failed a second.
json summary(const std::string& target, int seconds, int rps, double ms, double jitter, int failed,
             uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, jitter);
  json t = json::array(), width = json::array(), requests = json::array(), fails = json::array(),
       hist = json::array();
  pelt::SeriesHistogram all;
  for (int s = 0; s < seconds; ++s) {
    pelt::SeriesHistogram h;
    for (int i = 0; i < rps; ++i) {
      const double v = std::max(0.1, ms + noise(rng));
      h.record_n(static_cast<uint64_t>(v * 1000), 1);
    }
    all.merge(h);
    t.push_back(s);
    width.push_back(1);
    requests.push_back(rps);
    fails.push_back(failed);
    hist.push_back(h.encode());
  }
  const auto p = [&](double q) { return static_cast<double>(all.percentile(q)) / 1000.0; };
  json doc;
  doc["schema"] = "pelt.summary/v2";
  doc["target"] = target;
  doc["duration_seconds"] = seconds;
  doc["metrics"] = {
      {"http_reqs", {{"count", rps * seconds}, {"rate", static_cast<double>(rps)}}},
      {"http_req_duration",
       {{"med", p(50)}, {"p90", p(90)}, {"p95", p(95)}, {"p99", p(99)}, {"max", p(100)}}},
      {"http_req_failed", {{"rate", static_cast<double>(failed) / rps}}}};
  doc["timeseries"] = {{"t", t},
                       {"width", width},
                       {"series", json::array({{{"scope", "run"},
                                                {"requests", requests},
                                                {"failed", fails},
                                                {"latency_histogram_us", hist}}})}};
  doc["scenarios"] = json::array({{{"name", "s"},
                                   {"start_seconds", 0},
                                   {"stages", json::array({{{"index", 0},
                                                            {"target", 10},
                                                            {"target_unit", "vus"},
                                                            {"start_seconds", 0},
                                                            {"ran_seconds", seconds / 2},
                                                            {"rps", rps},
                                                            {"p50_ms", p(50)},
                                                            {"p95_ms", p(95)},
                                                            {"p99_ms", p(99)},
                                                            {"error_rate", 0.0}},
                                                           {{"index", 1},
                                                            {"target", 20},
                                                            {"target_unit", "vus"},
                                                            {"start_seconds", seconds / 2},
                                                            {"ran_seconds", seconds - seconds / 2},
                                                            {"rps", rps},
                                                            {"p50_ms", p(50)},
                                                            {"p95_ms", p(95)},
                                                            {"p99_ms", p(99)},
                                                            {"error_rate", 0.0}}})}}});
  return doc;
}

const pelt::CompareRow& row(const pelt::Comparison& c, const std::string& section,
                            const std::string& metric) {
  for (const auto& s : c.sections) {
    if (s.title != section) continue;
    for (const auto& r : s.rows) {
      if (r.metric == metric) return r;
    }
  }
  FAIL("no row " << section << " / " << metric);
  throw 0;
}

}  // namespace

TEST_CASE("compare: --fail-if rules", "[compare]") {
  pelt::FailIf f;
  std::string error;
  REQUIRE(pelt::parse_fail_if("p(95) > +10%", f, error));
  CHECK(f.metric == pelt::CompareMetric::kP95);
  CHECK(f.greater);
  CHECK_FALSE(f.or_equal);
  CHECK(f.tolerance == Approx(0.10));
  CHECK(f.unit == pelt::FailIf::Unit::kPercent);
  REQUIRE(pelt::parse_fail_if("req/s<-5%", f, error));
  CHECK(f.metric == pelt::CompareMetric::kRps);
  CHECK_FALSE(f.greater);
  CHECK(f.tolerance == Approx(-0.05));
  REQUIRE(pelt::parse_fail_if("error_rate >= 0.5pp", f, error));
  CHECK(f.or_equal);
  CHECK(f.unit == pelt::FailIf::Unit::kPoints);
  CHECK(f.tolerance == Approx(0.005));
  REQUIRE(pelt::parse_fail_if("p(99) > +20ms", f, error));
  CHECK(f.unit == pelt::FailIf::Unit::kMs);
  CHECK(f.tolerance == 20);

  CHECK_FALSE(pelt::parse_fail_if("p(95) +10%", f, error));
  CHECK(error ==
        "--fail-if \"p(95) +10%\": expected METRIC OP CHANGE, e.g. \"p(95) > +10%\" or \"req/s < "
        "-5%\"");
  CHECK_FALSE(pelt::parse_fail_if("p(97) > 10%", f, error));
  CHECK(error ==
        "--fail-if \"p(97) > 10%\": unknown figure \"p(97)\"; use req/s, p(50), p(90), p(95), "
        "p(99), max or error_rate");
  CHECK_FALSE(pelt::parse_fail_if("p(95) > ten%", f, error));
  CHECK(error.find("expected a change such as +10%") != std::string::npos);
  CHECK_FALSE(pelt::parse_fail_if("req/s < -5ms", f, error));
  CHECK(error == "--fail-if \"req/s < -5ms\": the change needs a unit: % (relative)");
  CHECK_FALSE(pelt::parse_fail_if("p(95) > 10", f, error));
  CHECK(error ==
        "--fail-if \"p(95) > 10\": the change needs a unit: % (relative), or ms (absolute)");
}

TEST_CASE("compare: labels default to the target's host", "[compare]") {
  CHECK(pelt::default_label({{"target", "http://10.0.0.7:8080/api"}}) == "10.0.0.7:8080");
  CHECK(pelt::default_label({{"target", "https://[redacted]@arm.example/"}}) == "arm.example");
  CHECK(pelt::default_label(json::object()) == "");
}

TEST_CASE("compare: the bootstrap's noise", "[compare]") {
  const json a = summary("http://a/", 30, 200, 20, 5, 0, 1);
  const auto seconds = pelt::read_seconds(a, 0, 30);
  REQUIRE(seconds.size() == 30);
  CHECK(pelt::second_stat(seconds, pelt::NoiseStat::kRps) == 200);
  CHECK(*pelt::second_stat(seconds, pelt::NoiseStat::kP50) == Approx(20).epsilon(0.03));
  const auto same = pelt::noise_half_widths(seconds, seconds, 500, 3);
  // Steady requests a second: no noise at all; latency percentiles: some.
  REQUIRE(same[0]);
  CHECK(*same[static_cast<size_t>(pelt::NoiseStat::kRps)] == 0);
  REQUIRE(same[static_cast<size_t>(pelt::NoiseStat::kP95)]);
  CHECK(*same[static_cast<size_t>(pelt::NoiseStat::kP95)] > 0);
  CHECK(*same[static_cast<size_t>(pelt::NoiseStat::kP95)] < 2);
  // The same seed gives the same answer.
  CHECK(pelt::noise_half_widths(seconds, seconds, 500, 3)[4] == same[4]);
  // Too few seconds: unknown.
  const auto short_run = pelt::read_seconds(a, 0, 3);
  CHECK_FALSE(pelt::noise_half_widths(short_run, seconds, 500, 3)[0]);
}

TEST_CASE("compare: a slower host is beyond the noise, a rerun is not", "[compare]") {
  std::vector<pelt::CompareInput> runs = {
      {"x86.json", "x86", summary("http://x86:8080/", 30, 200, 20, 5, 0, 1)},
      {"x86-again.json", "x86 again", summary("http://x86:8080/", 30, 200, 20, 5, 0, 2)},
      {"arm.json", "arm", summary("http://arm:8080/", 30, 200, 30, 5, 2, 3)},
  };
  pelt::CompareOptions o;
  pelt::FailIf f;
  std::string error;
  REQUIRE(pelt::parse_fail_if("p(95) > +10%", f, error));
  o.fail_if.push_back(f);
  const pelt::Comparison c = pelt::compare_runs(runs, o);
  const pelt::CompareRow& p95 = row(c, "whole run", "p(95)");
  REQUIRE(p95.cells.size() == 3);
  INFO("p95 " << *p95.cells[0].value << " " << *p95.cells[1].value << " noise "
              << p95.cells[1].noise.value_or(-1));
  CHECK(p95.cells[0].mark == pelt::NoiseMark::kBaseline);
  CHECK(p95.cells[1].mark == pelt::NoiseMark::kWithin);
  CHECK(p95.cells[2].mark == pelt::NoiseMark::kBeyond);
  CHECK(*p95.cells[2].change == Approx(10.0 / 28.2).margin(0.05));  // p95 about 28 -> 38 ms
  const pelt::CompareRow& errors = row(c, "whole run", "error rate");
  CHECK(*errors.cells[2].diff == Approx(0.01));
  CHECK(errors.cells[2].mark == pelt::NoiseMark::kBeyond);
  // Shared stages get their own sections.
  CHECK(row(c, "stage 2 of s (target 20 VUs)", "p(95)").cells[2].mark == pelt::NoiseMark::kBeyond);
  // The gate fires for arm only.
  REQUIRE(c.fail_if.size() == 2);
  CHECK_FALSE(c.fail_if[0].fired);
  CHECK(c.fail_if[1].fired);
  CHECK(c.fail_if[1].text.find("arm: p(95) +") == 0);
  CHECK(c.failed);
  // The slowest is named.
  REQUIRE(c.rankings.size() == 2);
  CHECK(c.rankings[0].metric == "p(95)");
  CHECK(c.labels[c.rankings[0].worst] == "arm");
  CHECK(c.rankings[0].mark == pelt::NoiseMark::kBeyond);

  const json j = pelt::comparison_json(c, runs, true);
  CHECK(j["schema"] == "pelt.compare/v1");
  CHECK(j["failed"] == true);
  CHECK(j["runs"][2]["label"] == "arm");
  CHECK(j["runs"][2]["series"]["rps"].size() == 30);
  CHECK(j["sections"][0]["rows"][3]["marks"] == json::array({"baseline", "within", "beyond"}));
  CHECK(j["sections"][0]["rows"][3]["ratios"][0] == 1.0);
  CHECK(j["sections"][0]["rows"][3]["ratios"][2].get<double>() == Approx(1 + *p95.cells[2].change));
  CHECK(j["rankings"][0]["worst_label"] == "arm");
}

TEST_CASE("compare: without time series the noise is unknown", "[compare]") {
  json a = summary("http://a/", 10, 100, 20, 2, 0, 1);
  json b = summary("http://b/", 10, 100, 40, 2, 0, 2);
  a.erase("timeseries");
  const pelt::Comparison c = pelt::compare_runs({{"a.json", "a", a}, {"b.json", "b", b}}, {});
  const pelt::CompareRow& p95 = row(c, "whole run", "p(95)");
  CHECK(p95.cells[1].mark == pelt::NoiseMark::kUnknown);
  CHECK(*p95.cells[1].change ==
        Approx(20.0 / 23.3).margin(0.03));  // p95 of 20±2 ms against 40±2 ms
  CHECK_FALSE(c.failed);
}

TEST_CASE("compare: reruns stay within the noise, a 25% slower host never does", "[compare]") {
  int within = 0, beyond = 0;
  for (uint64_t seed = 10; seed < 30; ++seed) {
    const json base = summary("http://a/", 30, 200, 20, 5, 0, seed);
    const json rerun = summary("http://a/", 30, 200, 20, 5, 0, seed + 100);
    const json slower = summary("http://b/", 30, 200, 25, 5, 0, seed + 200);
    pelt::CompareOptions o;
    o.resamples = 500;
    const pelt::Comparison c =
        pelt::compare_runs({{"a", "a", base}, {"r", "r", rerun}, {"b", "b", slower}}, o);
    const pelt::CompareRow& p95 = row(c, "whole run", "p(95)");
    within += p95.cells[1].mark == pelt::NoiseMark::kWithin ? 1 : 0;
    beyond += p95.cells[2].mark == pelt::NoiseMark::kBeyond ? 1 : 0;
  }
  CHECK(within >= 18);  // of 20: the 95% interval, rounding allowed for
  CHECK(beyond == 20);
}

TEST_CASE("compare: the server's columns, for the run and per stage", "[compare]") {
  json a = summary("http://a/", 10, 100, 20, 2, 0, 1);
  json b = summary("http://b/", 10, 100, 20, 2, 0, 2);
  const auto observe = [](double cpu) {
    return json{{"prometheus", "http://p:9090"},
                {"queries",
                 json::array({{{"label", "cpu"},
                               {"query", "q"},
                               {"unit", "%"},
                               {"run", {{"status", "ok"}, {"avg", cpu}, {"max", cpu + 0.1}}}}})}};
  };
  a["observe"] = observe(0.4);
  b["observe"] = observe(0.6);
  a["scenarios"][0]["stages"][1]["observe"] = {
      {"cpu", {{"status", "ok"}, {"avg", 0.5}, {"max", 0.7}}}};
  b["scenarios"][0]["stages"][1]["observe"] = {
      {"cpu", {{"status", "unreachable"}, {"error", "down"}}}};
  const pelt::Comparison c = pelt::compare_runs({{"a.json", "a", a}, {"b.json", "b", b}}, {});
  const pelt::CompareRow& avg = row(c, "server (observe)", "server cpu avg");
  CHECK(avg.unit == "%");
  CHECK(*avg.cells[0].value == 0.4);
  CHECK(*avg.cells[1].change == Approx(0.5));
  CHECK(pelt::format_compare_value(avg, 0.4) == "40.0%");
  CHECK(*row(c, "server (observe)", "server cpu max").cells[1].value == Approx(0.7));
  const pelt::CompareRow& stage = row(c, "stage 2 of s (target 20 VUs)", "server cpu max");
  CHECK(*stage.cells[0].value == 0.7);
  CHECK_FALSE(stage.cells[1].value);  // unreachable there: no figure
  CHECK(stage.cells[1].mark == pelt::NoiseMark::kUnknown);
}
