// pelt merge's logic: the exact figures of a summary read back equal, a fleet's summaries merge
// into the figures of one run (counts summed, histograms merged exactly, series aligned by wall
// clock), thresholds are judged on the fleet, and what does not belong together is refused.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "results/summary.h"
#include "results/summary_merge.h"
#include "results/summary_stats.h"
#include "results/thresholds.h"

namespace {

using nlohmann::json;
using pelt::MergedRun;
using pelt::MergeSource;
using pelt::RunReport;
using pelt::WorkerStats;

// The figures one instance measured: `requests` responses of `latency_us` (plus a few slow ones).
WorkerStats instance_stats(uint64_t requests, uint64_t latency_us, uint64_t slow) {
  WorkerStats s;
  s.scenarios.resize(1);
  s.scenarios[0].stages.resize(2);
  for (uint64_t i = 0; i < requests + slow; ++i) {
    const uint64_t v = i < requests ? latency_us + i % 50 : 900'000;
    s.latency.record(v);
    s.service.record(v);
    auto& stage = s.scenarios[0].stages[i % 2];
    stage.latency.record(v);
    ++stage.requests.responses;
    auto& name = s.scenarios[0].names["/api"];
    name.method = "GET";
    name.latency.record(v);
    ++name.requests.responses;
    ++name.status[200];
    ++s.status[200];
  }
  s.ledger.sent = s.ledger.completed = requests + slow;
  s.scenarios[0].iterations = requests + slow;
  s.scenarios[0].vus_max = 3;
  s.bytes_read = 100 * (requests + slow);
  s.connects = 3;
  s.checks["ok"] = {requests, slow};
  return s;
}

// A RunReport of segment `index` of `count`, starting at start_ms, as pelt run builds it.
struct Instance {
  RunReport report;
  pelt::TimeSeries series;
};

std::unique_ptr<Instance> instance(uint32_t index, uint32_t count, WorkerStats stats,
                                   int64_t start_ms, const std::string& threshold = "p(95)<500") {
  auto in = std::make_unique<Instance>();
  RunReport& r = in->report;
  r.info.version = "test";
  r.info.run_id = "fleet-run";
  r.info.target = "http://127.0.0.1:1/";
  r.info.source = "t.toml";
  r.info.threads = 2;
  r.info.planned_seconds = 4;
  r.info.started_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(start_ms));
  pelt::ScenarioInfo sc;
  sc.name = "load";
  sc.executor = "ramping-arrival-rate";
  sc.arrival_rate = true;
  sc.stages = {{100, std::chrono::seconds(0), std::chrono::seconds(2)},
               {200, std::chrono::seconds(2), std::chrono::seconds(2)}};
  r.info.scenarios.push_back(sc);
  pelt::ThresholdConfig th;
  th.metric = "http_req_duration";
  th.key = "http_req_duration";
  th.expression = threshold;
  std::string error;
  size_t pos = 0;
  REQUIRE(pelt::parse_threshold(th.expression, th.parsed, error, pos));
  r.info.thresholds.push_back(th);
  r.info.fleet.instance = "pod-" + std::to_string(index);
  r.info.fleet.segment_count = count;
  r.info.fleet.segments = {index};
  r.info.fleet.instances = {r.info.fleet.instance};
  r.info.fleet.scenario_sha256 = std::string(64, 'a');
  r.stats = std::move(stats);
  r.elapsed_seconds = 4;
  r.ended_at = r.info.started_at + std::chrono::seconds(4);
  r.index_scenarios();
  r.thresholds = pelt::evaluate_thresholds(r.info, r.stats, r.elapsed_seconds);
  for (const auto& o : r.thresholds) r.thresholds_ok = r.thresholds_ok && o.result.ok;
  // Four seconds, each with the run's and the scenario's series.
  for (uint64_t sec = 0; sec < 4; ++sec) {
    pelt::ClosedSecond second;
    second.index = sec;
    pelt::SeriesPoint p;
    p.requests = 10 + index;
    p.latency.record_n(1000 + 100 * index, p.requests);
    p.vus = 1;
    p.target_rate = 50;
    second.series.push_back({pelt::SeriesKey{}, p});
    second.series.push_back({pelt::SeriesKey{pelt::SeriesScope::kScenario, 0, "", ""}, p});
    in->series.add(second);
  }
  r.timeseries = &in->series;
  return in;
}

MergeSource source(const Instance& in, const std::string& label) {
  return MergeSource{label, pelt::build_summary_json(in.report)};
}

}  // namespace

TEST_CASE("the summary's exact figures read back equal", "[merge]") {
  const WorkerStats s = instance_stats(1000, 2000, 7);
  const json j = pelt::stats_to_json(s);
  WorkerStats back;
  std::string error;
  REQUIRE(pelt::stats_from_json(j, back, error));
  CHECK(pelt::stats_to_json(back) == j);
  CHECK(back.latency.encode() == s.latency.encode());
  CHECK(back.scenarios[0].names.at("/api").latency.count() == 1007);

  json broken = j;
  broken["histograms_us"]["latency"] = "h1 nonsense";
  CHECK_FALSE(pelt::stats_from_json(broken, back, error));
  CHECK(error.find("bad histogram") != std::string::npos);
  broken = j;
  broken.erase("ledger");
  CHECK_FALSE(pelt::stats_from_json(broken, back, error));
  CHECK(error.find("ledger") != std::string::npos);
}

TEST_CASE("the exact figures carry request tags, sub-metric splits, custom metrics and HTTP/2",
          "[merge]") {
  WorkerStats s = instance_stats(1000, 2000, 3);
  pelt::ScenarioStats& sc = s.scenarios[0];
  pelt::NameStats& tagged = sc.names[pelt::NameKey("/api", {{"kind", "read"}, {"tier", "gold"}})];
  tagged.method = "GET";
  tagged.requests.responses = 2;
  tagged.latency.record(1500);
  tagged.latency.record(2500);
  tagged.splits[7].record(1500);
  sc.iteration_duration.record(4000);
  sc.capped_tags.insert("user");
  pelt::CustomFigures trend(pelt::CustomKind::kTrend, true);
  trend.add(12.5, 1);
  trend.add(20, 2);
  sc.custom[pelt::NameKey("wait", {{"kind", "read"}})] = trend;
  pelt::CustomFigures gauge(pelt::CustomKind::kGauge, false);
  gauge.add(3, 5);
  sc.custom[pelt::NameKey("queue")] = gauge;
  s.http2.connections = 4;
  s.http2.streams = 40;
  s.http2.peer_max_concurrent_streams = 100;
  s.blocked.record(30);
  s.receiving.record(40);

  const json j = pelt::stats_to_json(s);
  WorkerStats back;
  std::string error;
  REQUIRE(pelt::stats_from_json(j, back, error));
  CHECK(pelt::stats_to_json(back) == j);
  const pelt::ScenarioStats& b = back.scenarios[0];
  const auto& bt = b.names.at(pelt::NameKey("/api", {{"kind", "read"}, {"tier", "gold"}}));
  CHECK(bt.latency.count() == 2);
  CHECK(bt.splits.at(7).count() == 1);
  CHECK(b.names.at("/api").latency.count() == 1003);  // the untagged entry stays apart
  CHECK(b.iteration_duration.count() == 1);
  CHECK(b.capped_tags == std::set<std::string>{"user"});
  const pelt::CustomFigures& bw = b.custom.at(pelt::NameKey("wait", {{"kind", "read"}}));
  CHECK(bw.kind == pelt::CustomKind::kTrend);
  CHECK(bw.is_time);
  REQUIRE(bw.trend);
  CHECK(bw.trend->count() == 2);
  CHECK(b.custom.at(pelt::NameKey("queue")).last == 3);
  CHECK(back.http2.streams == 40);
  CHECK(back.http2.peer_max_concurrent_streams == 100);
  CHECK(back.blocked.count() == 1);
  CHECK(back.receiving.count() == 1);

  // A summary from before these figures existed still reads (they are empty).
  json old = j;
  old["histograms_us"].erase("blocked");
  old["histograms_us"].erase("receiving");
  old.erase("http2");
  for (json& scj : old["scenarios"]) {
    scj.erase("custom");
    scj.erase("capped_tags");
    scj.erase("iteration_duration_us");
  }
  WorkerStats older;
  REQUIRE(pelt::stats_from_json(old, older, error));
  CHECK(older.scenarios[0].custom.empty());
  CHECK_FALSE(older.http2.used());
}

TEST_CASE("merging a fleet's summaries gives the figures of one run", "[merge]") {
  std::vector<std::unique_ptr<Instance>> fleet;
  WorkerStats all;
  for (uint32_t i = 0; i < 3; ++i) {
    WorkerStats s = instance_stats(300 + i, 1000 + 200 * i, i == 2 ? 40 : 0);
    all.merge(s);
    // The instances start within a few milliseconds of each other.
    fleet.push_back(instance(i, 3, std::move(s), 1'700'000'000'000 + 3 * i));
  }
  std::vector<MergeSource> sources;
  for (uint32_t i = 0; i < 3; ++i)
    sources.push_back(source(*fleet[i], "pod-" + std::to_string(i) + ".json"));
  MergedRun merged;
  std::string error;
  REQUIRE(pelt::merge_summaries(sources, false, merged, error));
  const RunReport& r = *merged.report;
  CHECK(merged.notes.empty());
  CHECK(r.stats.ledger.sent == all.ledger.sent);
  CHECK(r.stats.latency.encode() == all.latency.encode());
  CHECK(r.stats.scenarios[0].stages[1].latency.encode() ==
        all.scenarios[0].stages[1].latency.encode());
  CHECK(r.stats.scenarios[0].names.at("/api").requests.responses ==
        all.scenarios[0].names.at("/api").requests.responses);
  CHECK(r.stats.checks.at("ok").fails == 40);
  CHECK(r.stats.scenarios[0].vus_max == 9);
  CHECK(r.info.threads == 6);
  CHECK(r.elapsed_seconds == Approx(4.006));
  CHECK(r.info.run_id == "fleet-run");
  CHECK(r.info.fleet.merged);
  CHECK(r.info.fleet.segments == std::vector<uint32_t>{0, 1, 2});
  CHECK(r.info.fleet.instances == std::vector<std::string>{"pod-0", "pod-1", "pod-2"});
  // Instance 2 alone crossed p(95)<500 (its slow requests are 12% of its own); the fleet's p95
  // is judged on all samples and holds.
  CHECK_FALSE(sources[2].doc["thresholds_ok"].get<bool>());
  REQUIRE(r.thresholds.size() == 1);
  CHECK(r.thresholds[0].result.observed == Approx(all.latency.percentile(95) / 1000.0));
  CHECK(r.thresholds_ok);
  // The per-second series: the three instances' seconds added (10 + 11 + 12 requests each).
  REQUIRE(r.timeseries != nullptr);
  REQUIRE(r.timeseries->buckets().size() == 4);
  const auto& second = r.timeseries->buckets()[1].series.at(pelt::SeriesKey{});
  CHECK(second.requests == 33);
  CHECK(second.latency.count() == 33);
  CHECK(second.vus == 3);
  CHECK(second.target_rate == Approx(150));
  // The merged summary merges again (it says which segments it holds).
  const json doc = pelt::build_summary_json(r);
  CHECK(doc["fleet"]["segments"] == json({"0/3", "1/3", "2/3"}));
  CHECK(doc["fleet"]["merged"] == true);
  MergedRun again;
  REQUIRE(pelt::merge_summaries({MergeSource{"fleet.json", doc}}, false, again, error));
  CHECK(again.report->stats.latency.encode() == all.latency.encode());
}

TEST_CASE("the fleet's verdict can differ from every instance's", "[merge]") {
  // Each instance has 4% slow requests, under the 5% a p(95) tolerates; the fleet's p(90)
  // threshold holds, a p(97) threshold is crossed on the fleet as on each instance.
  for (const auto& [threshold, ok] :
       {std::pair<std::string, bool>{"p(90)<500", true}, {"p(97)<500", false}}) {
    std::vector<std::unique_ptr<Instance>> fleet;
    std::vector<MergeSource> sources;
    for (uint32_t i = 0; i < 2; ++i) {
      fleet.push_back(instance(i, 2, instance_stats(960, 1000, 40), 1'700'000'000'000, threshold));
      sources.push_back(source(*fleet.back(), std::to_string(i)));
    }
    MergedRun merged;
    std::string error;
    REQUIRE(pelt::merge_summaries(sources, false, merged, error));
    INFO(threshold);
    CHECK(merged.report->thresholds_ok == ok);
  }
}

TEST_CASE("merge refuses what does not belong together and names missing segments", "[merge]") {
  std::vector<std::unique_ptr<Instance>> fleet;
  for (uint32_t i = 0; i < 3; ++i)
    fleet.push_back(instance(i, 3, instance_stats(10, 1000, 0), 1'700'000'000'000));
  MergedRun merged;
  std::string error;
  SECTION("a missing segment") {
    CHECK_FALSE(pelt::merge_summaries({source(*fleet[0], "a"), source(*fleet[2], "c")}, false,
                                      merged, error));
    CHECK(error.rfind("missing segment 1/3", 0) == 0);
    REQUIRE(pelt::merge_summaries({source(*fleet[0], "a"), source(*fleet[2], "c")}, true, merged,
                                  error));
    REQUIRE(merged.notes.size() == 1);
    CHECK(merged.notes[0].find("missing segment 1/3") != std::string::npos);
    CHECK(merged.report->info.fleet.missing == std::vector<uint32_t>{1});
    const json doc = pelt::build_summary_json(*merged.report);
    CHECK(doc["fleet"]["partial"] == true);
    CHECK(doc["fleet"]["missing_segments"] == json({"1/3"}));
  }
  SECTION("two missing") {
    CHECK_FALSE(pelt::merge_summaries({source(*fleet[1], "b")}, false, merged, error));
    CHECK(error.rfind("missing segments 0/3, 2/3", 0) == 0);
  }
  SECTION("overlapping segments") {
    CHECK_FALSE(pelt::merge_summaries(
        {source(*fleet[0], "a"), source(*fleet[0], "a2"), source(*fleet[1], "b")}, false, merged,
        error));
    CHECK(error == "a and a2 both hold segment 0/3 (overlapping segments)");
  }
  SECTION("different plans") {
    fleet[1]->report.info.fleet.scenario_sha256 = std::string(64, 'b');
    CHECK_FALSE(pelt::merge_summaries({source(*fleet[0], "a"), source(*fleet[1], "b")}, true,
                                      merged, error));
    CHECK(error.find("ran different scenario files") != std::string::npos);
  }
  SECTION("different schema versions") {
    MergeSource b = source(*fleet[1], "b");
    b.doc["schema"] = "pelt.summary/v1";
    CHECK_FALSE(pelt::merge_summaries({source(*fleet[0], "a"), b}, true, merged, error));
    CHECK(error.find("b: schema \"pelt.summary/v1\" cannot be merged") == 0);
  }
  SECTION("a different split") {
    auto other = instance(1, 4, instance_stats(10, 1000, 0), 1'700'000'000'000);
    CHECK_FALSE(
        pelt::merge_summaries({source(*fleet[0], "a"), source(*other, "b")}, true, merged, error));
    CHECK(error.find("segments of different splits") != std::string::npos);
  }
}

TEST_CASE("series of instances that started a second apart are aligned by wall clock", "[merge]") {
  auto a = instance(0, 2, instance_stats(10, 1000, 0), 1'700'000'000'000);
  auto b = instance(1, 2, instance_stats(10, 1000, 0), 1'700'000'001'000);
  MergedRun merged;
  std::string error;
  REQUIRE(pelt::merge_summaries({source(*a, "a"), source(*b, "b")}, false, merged, error));
  const auto& buckets = merged.report->timeseries->buckets();
  REQUIRE(buckets.size() == 5);
  auto requests = [&](size_t i) { return buckets[i].series.at(pelt::SeriesKey{}).requests; };
  CHECK(requests(0) == 10);
  CHECK(requests(1) == 21);
  CHECK(requests(3) == 21);
  CHECK(requests(4) == 11);
  CHECK(merged.report->elapsed_seconds == Approx(5));
}
