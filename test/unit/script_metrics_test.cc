// Custom metrics from Lua (pelt.counter, pelt.gauge, pelt.rate, pelt.trend): what :add records
// through the Recorder, what thresholds, the summary figures and /metrics read from it.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "lua/script.h"
#include "results/catalogue.h"
#include "results/metrics.h"
#include "results/recorder.h"
#include "results/report.h"
#include "results/thresholds.h"

namespace pelt {
namespace {

// A thread state running `text`, init() done; created from a temporary file.
std::unique_ptr<Script> load_script(const std::string& text, ThreadHandle& handle,
                                    std::string* error_out = nullptr) {
  ScriptOptions o;
  o.path = "/tmp/pelt_script_metrics_test_" + std::to_string(getpid()) + ".lua";
  {
    std::ofstream f(o.path);
    f << text;
  }
  o.scheme = "http";
  o.host = "127.0.0.1";
  o.port = "8080";
  std::string error;
  auto s = Script::create(o, error);
  unlink(o.path.c_str());
  if (error_out) {
    *error_out = error;
    return s;
  }
  INFO(error);
  REQUIRE(s != nullptr);
  handle.state = s.get();
  REQUIRE(s->init(handle, {"http://x/"}, error));
  return s;
}

void run_request(Script& s) {
  std::string_view view;
  const bool ok = s.request(view);
  INFO(s.last_error());
  REQUIRE(ok);
}

ThresholdResult evaluate(const WorkerStats& stats, const std::vector<CustomMetricInfo>& custom,
                         const std::string& metric, const std::string& expression,
                         std::map<std::string, std::string> tags = {}) {
  static const std::vector<std::string> names = {"s"};
  ThresholdInputs in;
  in.stats = &stats;
  in.scenario_names = &names;
  in.custom = &custom;
  in.elapsed_seconds = 2;
  ThresholdConfig th;
  th.metric = metric;
  th.tags = std::move(tags);
  th.expression = expression;
  std::string error;
  size_t pos = 0;
  REQUIRE(parse_threshold(expression, th.parsed, error, pos));
  return evaluate_threshold(th, in, ThresholdPhase::kEnd);
}

const char* kScript = R"(
local hits = pelt.counter("hits")
local depth = pelt.gauge("depth")
local ok = pelt.rate("ok")
local wait = pelt.trend("wait", true)
local size = pelt.trend("size")
local n = 0
function request()
  n = n + 1
  hits:add(1)
  hits:add(0.5, { kind = n % 2 == 0 and "even" or "odd" })
  depth:add(n)
  ok:add(n % 4 ~= 0)
  wait:add(n * 10)                 -- 10, 20 ... 100 ms
  size:add(n * 1.5, { big = n > 5 })
  return wrk.format(nil, "/")
end
)";

}  // namespace

TEST_CASE("custom metrics: every kind records through the worker's Recorder", "[custom]") {
  ThreadHandle handle;
  auto s = load_script(kScript, handle);
  REQUIRE(s->custom_metrics().size() == 5);
  CHECK(s->custom_metrics()[3].name == "wait");
  CHECK(s->custom_metrics()[3].kind == CustomKind::kTrend);
  CHECK(s->custom_metrics()[3].is_time);
  CHECK_FALSE(s->custom_metrics()[4].is_time);

  run_request(*s);  // before binding (the top level, init()): not kept
  WorkerStats stats;
  stats.scenarios.resize(1);
  Recorder recorder(stats);
  s->bind_recorder(&recorder, 0);
  for (int i = 0; i < 10; ++i) run_request(*s);
  const auto& custom = stats.scenarios[0].custom;
  REQUIRE(custom.count(NameKey("hits")) == 1);
  CHECK(custom.at(NameKey("hits")).sum == Approx(10));
  CHECK(custom.at(NameKey("hits", {{"kind", "odd"}})).sum == Approx(2.5));
  CHECK(custom.at(NameKey("depth")).last == Approx(11));  // n went on from the first request
  CHECK(custom.at(NameKey("ok")).samples == 10);
  CHECK(custom.at(NameKey("size", {{"big", "true"}})).samples == 6);  // n = 6 ... 11
  CHECK(custom.at(NameKey("size", {{"big", "false"}})).samples == 4);

  // Thresholds read them with the aggregations of their kind, k6's numbers included.
  const std::vector<CustomMetricInfo> defs = s->custom_metrics();
  CHECK(evaluate(stats, defs, "hits", "count==15").ok);
  CHECK(evaluate(stats, defs, "hits", "count==2.5", {{"kind", "odd"}}).ok);
  CHECK(evaluate(stats, defs, "hits", "rate==7.5").ok);
  CHECK(evaluate(stats, defs, "depth", "value==11").ok);
  CHECK(evaluate(stats, defs, "depth", "min==2").ok);
  CHECK(evaluate(stats, defs, "ok", "rate<0.9").observed == Approx(0.8));  // n = 4, 8 false
  ThresholdResult r = evaluate(stats, defs, "wait", "med<1000");
  CHECK(r.observed == Approx(65));  // 20 ... 110 ms: k6 interpolates the median
  CHECK(r.text == "med=65.00ms");
  CHECK(evaluate(stats, defs, "wait", "p(95)<1s").observed == Approx(105.5));
  r = evaluate(stats, defs, "size", "max<100");
  CHECK(r.observed == Approx(16.5));
  CHECK(r.text == "max=16.5");
  CHECK(evaluate(stats, defs, "size", "avg<100", {{"big", "true"}}).observed == Approx(12.75));
  // A tag value nobody used: no samples, and the warning names the values seen.
  r = evaluate(stats, defs, "hits", "count<1", {{"kind", "evn"}});
  CHECK(r.ok);
  CHECK(r.warning == "selected no samples: no sample has kind = \"evn\" (values: even, odd)");
  // A metric without any value: k6's rule at the end, and a warning.
  WorkerStats empty;
  empty.scenarios.resize(1);
  r = evaluate(empty, defs, "wait", "p(95)>1");
  CHECK_FALSE(r.ok);
  CHECK(r.text == "p(95)=0.00ms, no data");
  CHECK(r.warning == "selected no samples");
  CHECK(evaluate(empty, defs, "ok", "rate>0.5").ok);
  // An aggregation the kind does not have cannot pass.
  r = evaluate(stats, defs, "ok", "p(95)<1");
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::Contains("supports only rate"));
}

TEST_CASE("custom metrics: mistakes are Lua errors naming them", "[custom]") {
  struct Case {
    const char* code;     // the script
    const char* message;  // part of the error
  };
  const Case cases[] = {
      {"pelt.counter('a'); pelt.trend('a')", "\"a\" is a counter already"},
      {"pelt.trend('t', true); pelt.trend('t')", "\"t\" is a time trend already"},
      {"pelt.gauge('bad-name')", "bad metric name \"bad-name\""},
      {"pelt.rate('http_reqs')", "\"http_reqs\" is a metric of pelt's own"},
      {"pelt.counter('c').add(1)", "call add with a colon"},
      {"pelt.counter('c'):add('x')", "must be a number or a boolean, not string"},
      {"pelt.counter('c'):add(1, { scenario = 'x' })", "tag \"scenario\" is one pelt sets itself"},
      {"pelt.counter('c'):add(1, { name = 'x' })", "tag \"name\" is one pelt sets itself"},
      {"pelt.counter('c'):add(1, { k = {} })", "must be a string, number or boolean"},
  };
  for (const Case& c : cases) {
    INFO(c.code);
    ThreadHandle handle;
    std::string error;
    auto s = load_script(c.code, handle, &error);
    CHECK(s == nullptr);
    CHECK_THAT(error, Catch::Contains(c.message));
  }
  // The same kind again is the same metric.
  ThreadHandle handle;
  auto s = load_script(
      "local a = pelt.counter('c'); local b = pelt.counter('c')\n"
      "assert(tostring(a) == 'pelt.counter(\"c\")')\n",
      handle);
  CHECK(s->custom_metrics().size() == 1);
}

TEST_CASE("custom metrics: the run resolves them, and thresholds must name known ones",
          "[custom]") {
  RunInfo info;
  std::string error;
  const std::vector<CustomMetricInfo> a = {{"wait", CustomKind::kTrend, true},
                                           {"hits", CustomKind::kCounter, false}};
  const std::vector<CustomMetricInfo> b = {{"hits", CustomKind::kCounter, false}};
  ThresholdConfig th;
  th.metric = "wiat";
  th.key = "wiat";
  th.expression = "p(95)<1";
  th.location = "t.toml:9:11";
  size_t pos = 0;
  REQUIRE(parse_threshold(th.expression, th.parsed, error, pos));
  info.thresholds = {th};
  CHECK_FALSE(resolve_custom_metrics({a, b}, info, error));
  CHECK(error ==
        "t.toml:9:11: unknown metric \"wiat\" in [thresholds]: not one of pelt's, and no script "
        "defines it with pelt.counter, pelt.gauge, pelt.rate or pelt.trend (did you mean "
        "\"wait\"?)");
  info.thresholds[0].metric = "hits";
  info.thresholds[0].key = "hits";
  CHECK_FALSE(resolve_custom_metrics({a, b}, info, error));
  CHECK(error ==
        "t.toml:9:11: threshold \"p(95)<1\" for hits: metric 'hits' supports count and "
        "rate (per second), not p(95)");
  info.thresholds[0].metric = "wait";
  info.thresholds[0].tags = {{"name", "x"}};
  CHECK_FALSE(resolve_custom_metrics({a, b}, info, error));
  CHECK_THAT(error, Catch::Contains("cannot be filtered by tag 'name'"));
  info.thresholds[0].tags = {{"kind", "x"}, {"scenario", "s"}};
  REQUIRE(resolve_custom_metrics({a, b}, info, error));
  REQUIRE(info.custom_metrics.size() == 2);
  CHECK(info.custom_metrics[0].name == "hits");  // by name
  const std::vector<CustomMetricInfo> c = {{"hits", CustomKind::kGauge, false}};
  CHECK_FALSE(resolve_custom_metrics({a, c}, info, error));
  CHECK(error == "custom metric \"hits\" is a counter in one script and a gauge in another");
}

TEST_CASE("custom metrics: /metrics families pelt_custom_<name> with their type and unit",
          "[custom][metrics]") {
  WorkerStats s;
  s.scenarios.resize(1);
  auto& custom = s.scenarios[0].custom;
  auto add = [&](NameKey key, CustomKind kind, bool time, std::vector<double> values) {
    auto& f = custom.emplace(std::move(key), CustomFigures(kind, time)).first->second;
    for (double v : values) f.add(v, 1);
  };
  add(NameKey("hits"), CustomKind::kCounter, false, {1, 2.5});
  add(NameKey("hits", {{"kind", "api"}}), CustomKind::kCounter, false, {4});
  add(NameKey("depth"), CustomKind::kGauge, false, {3, 9, 5});
  add(NameKey("ok"), CustomKind::kRate, false, {1, 0, 1});
  add(NameKey("wait"), CustomKind::kTrend, true, {10, 20, 30});
  add(NameKey("size"), CustomKind::kTrend, false, {1, 2, 3, 4});
  add(NameKey("hits_total"), CustomKind::kGauge, false, {1});  // same family name as "hits"
  MetricsOptions o;
  o.scenario_names = {"browse"};
  const auto fams = build_families(o, s, {});
  auto family = [&](const std::string& name) -> const prometheus::MetricFamily* {
    for (const auto& f : fams) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  size_t named = 0;
  for (const auto& f : fams) named += f.name == "pelt_custom_hits_total" ? 1 : 0;
  CHECK(named == 1);  // the clashing gauge is left out: the scrape stays valid
  const auto* hits = family("pelt_custom_hits_total");
  REQUIRE(hits != nullptr);
  CHECK(hits->type == prometheus::MetricType::Counter);
  REQUIRE(hits->metric.size() == 2);
  double total = 0;
  for (const auto& m : hits->metric) total += m.counter.value;
  CHECK(total == Approx(7.5));
  const auto* depth = family("pelt_custom_depth");
  REQUIRE(depth != nullptr);
  CHECK(depth->type == prometheus::MetricType::Gauge);
  CHECK(depth->metric[0].gauge.value == 5);
  const auto* ok = family("pelt_custom_ok_total");
  REQUIRE(ok != nullptr);
  REQUIRE(ok->metric.size() == 2);
  const auto* wait = family("pelt_custom_wait_seconds");
  REQUIRE(wait != nullptr);
  CHECK(wait->type == prometheus::MetricType::Histogram);
  CHECK(wait->metric[0].histogram.sample_count == 3);
  CHECK(wait->metric[0].histogram.sample_sum == Approx(0.06));
  const auto* size = family("pelt_custom_size");
  REQUIRE(size != nullptr);
  CHECK(size->type == prometheus::MetricType::Summary);
  CHECK(size->metric[0].summary.sample_count == 4);
  CHECK(size->metric[0].summary.sample_sum == Approx(10));
  CHECK(size->metric[0].summary.quantile[0].value == Approx(2.5));  // k6's median of 1..4
}

}  // namespace pelt

namespace pelt {

// Not run by default (`pelt_unit "[.bench]"`): the time one request() takes with and without
// a counter and a trend added in it, in this process (no network): the cost of the adds.
TEST_CASE("custom metrics: cost of an add", "[.bench]") {
  const char* bare = "function request() return wrk.format(nil, '/') end\n";
  const char* with_metrics =
      "local c = pelt.counter('c'); local t = pelt.trend('t', true)\n"
      "function request() c:add(1); t:add(12.5); return wrk.format(nil, '/') end\n";
  const char* with_tags =
      "local c = pelt.counter('c'); local t = pelt.trend('t', true)\n"
      "local tags = { kind = 'api' }\n"
      "function request() c:add(1, tags); t:add(12.5, tags); return wrk.format(nil, '/') end\n";
  auto time_per_request = [](const char* text) {
    ThreadHandle handle;
    auto s = load_script(text, handle);
    WorkerStats stats;
    stats.scenarios.resize(1);
    Recorder recorder(stats);
    s->bind_recorder(&recorder, 0);
    constexpr int kWarm = 10000, kRuns = 2000000;
    std::string_view view;
    for (int i = 0; i < kWarm; ++i) s->request(view);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) s->request(view);
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / kRuns;
  };
  double best[3] = {1e18, 1e18, 1e18};
  for (int round = 0; round < 5; ++round) {
    best[0] = std::min(best[0], time_per_request(bare));
    best[1] = std::min(best[1], time_per_request(with_metrics));
    best[2] = std::min(best[2], time_per_request(with_tags));
  }
  std::printf(
      "request() alone %.0f ns; with a counter and a trend added %.0f ns (+%.0f ns); "
      "with a tags table on both %.0f ns (+%.0f ns)\n",
      best[0], best[1], best[1] - best[0], best[2], best[2] - best[0]);
  CHECK(best[1] > 0);
}

}  // namespace pelt
