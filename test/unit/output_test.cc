// Outputs end to end against a scripted loopback server: the request each store expects
// (path, query, headers, credentials from the environment, body) and the summary figures.
#include "outputs/output.h"

#include <catch2/catch.hpp>
#include <set>

#include "outputs/remote_write.h"
#include "results/metrics.h"
#include "scripted_http_server.h"
#include "src/outputs/proto/remote_write.pb.h"

using namespace pelt;
using nlohmann::json;
using pelt::test::http_reply;
using pelt::test::ScriptedHttpServer;
using pelt::test::SeenRequest;

namespace {

OutputRunInfo run_with_env(std::map<std::string, std::string> env) {
  OutputRunInfo run;
  run.run_id = "run-1";
  run.start_unix_ms = 1765000000000;
  run.version = "9.9.9";
  run.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  run.warn = [](const std::string&) {};
  return run;
}

std::unique_ptr<Output> one_output(const std::string& flag, const OutputRunInfo& run,
                                   std::string& error) {
  error.clear();
  auto configs = parse_out_flags({flag}, error);
  REQUIRE(error.empty());
  auto outs = make_outputs(configs, run, error);
  if (outs.empty()) return nullptr;
  return std::move(outs[0]);
}

json tick_at(int t, int requests) {
  return json{
      {"t", {t}}, {"width", {1}}, {"series", {{{"scope", "run"}, {"requests", {requests}}}}}};
}

}  // namespace

TEST_CASE("influxdb output: v1 write URL, basic auth from the environment, line protocol") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(204); });
  std::string error;
  auto out = one_output(
      "influxdb=" + server.url("/load%20tests?rp=week"),
      run_with_env({{"PELT_INFLUXDB_USERNAME", "writer"}, {"PELT_INFLUXDB_PASSWORD", "pa:ss"}}),
      error);
  REQUIRE(out);
  const auto now = std::chrono::system_clock::now();
  out->on_tick(tick_at(0, 5), {}, now);
  out->on_tick(tick_at(1, 7), {}, now);
  // A coarsened re-send of older buckets is skipped; the newest is written again.
  out->on_final(json{{"t", {0, 1, 2}},
                     {"width", {2, 1, 1}},
                     {"series", {{{"scope", "run"}, {"requests", {12, 8, 3}}}}}},
                {}, now);
  REQUIRE(out->flush(std::chrono::milliseconds(3000)));
  std::string body;
  for (const auto& r : server.requests()) {
    CHECK(r.target == "/write?db=load%20tests&rp=week&precision=ms");
    CHECK(r.header("Authorization") == "Basic d3JpdGVyOnBhOnNz");  // writer:pa:ss
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(r.header("User-Agent") == "pelt/9.9.9");
    body += r.body;
  }
  CHECK(body ==
        "pelt_run,run_id=run-1 requests=5i,rps=5 1765000000000\n"
        "pelt_run,run_id=run-1 requests=7i,rps=7 1765000001000\n"
        "pelt_run,run_id=run-1 requests=8i,rps=8 1765000001000\n"
        "pelt_run,run_id=run-1 requests=3i,rps=3 1765000002000\n");
  const OutputStats s = out->stats();
  CHECK(s.kind == "influxdb");
  CHECK(s.push.points_sent == 4);
  CHECK(s.summary_line() == "influxdb: 4 points sent, 0 dropped");
  CHECK(s.to_json()["dropped"]["total"] == 0);
}

TEST_CASE("influxdb output: v2 org and bucket from URL or environment, token only from it") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(204); });
  std::string error;
  auto out = one_output("influxdb2=" + server.url("/?org=my%20org"),
                        run_with_env({{"PELT_INFLUXDB_BUCKET", "load"},
                                      {"PELT_INFLUXDB_ORG", "ignored: the URL says"},
                                      {"PELT_INFLUXDB_TOKEN", "tok=en"}}),
                        error);
  REQUIRE(out);
  out->on_tick(tick_at(0, 1), {}, std::chrono::system_clock::now());
  REQUIRE(out->flush(std::chrono::milliseconds(3000)));
  const auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/api/v2/write?org=my%20org&bucket=load&precision=ms");
  CHECK(seen[0].header("Authorization") == "Token tok=en");

  CHECK_FALSE(one_output("influxdb2=http://h:8086?org=o&bucket=b", run_with_env({}), error));
  CHECK(error ==
        "--out: influxdb2 needs a token: set PELT_INFLUXDB_TOKEN (never on the command "
        "line)");
  CHECK_FALSE(one_output("influxdb2=http://h:8086?org=o",
                         run_with_env({{"PELT_INFLUXDB_TOKEN", "t"}}), error));
  CHECK(error.find("influxdb2 needs a bucket") != std::string::npos);
  CHECK_FALSE(one_output("influxdb=http://h:8086/db",
                         run_with_env({{"PELT_INFLUXDB_USERNAME", "u"}}), error));
  CHECK(error.find("set both PELT_INFLUXDB_USERNAME and PELT_INFLUXDB_PASSWORD") !=
        std::string::npos);
}

TEST_CASE("prometheus-rw output: headers, bearer token, snappy protobuf of the /metrics series") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(204); });
  std::string error;
  auto configs = parse_out_flags({"prometheus-rw=" + server.url("/api/v1/write")}, error);
  add_output_labels(configs, {{"env", "ci"}});
  auto outs = make_outputs(configs, run_with_env({{"PELT_RW_BEARER_TOKEN", "abc"}}), error);
  REQUIRE(outs.size() == 1);
  MetricsOptions mo;
  mo.run_id = "run-1";
  mo.scenario_names = {"shop"};
  WorkerStats stats;
  stats.scenarios.resize(1);
  stats.scenarios[0].vus = 4;
  const auto families = build_families(mo, stats, {});
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::milliseconds(1765000000000));
  outs[0]->on_tick({}, families, t0);
  outs[0]->on_tick({}, families, t0);  // same millisecond: skipped
  outs[0]->on_tick({}, families, t0 + std::chrono::seconds(1));
  outs[0]->on_final({}, families, t0 + std::chrono::seconds(1));  // same ms: sent 1 ms later
  REQUIRE(outs[0]->flush(std::chrono::milliseconds(3000)));

  const size_t per_tick = expand_families(families, {}).size();
  pelt::remote::WriteRequest all;
  for (const auto& r : server.requests()) {
    CHECK(r.target == "/api/v1/write");
    CHECK(r.header("Content-Encoding") == "snappy");
    CHECK(r.header("Content-Type") == "application/x-protobuf");
    CHECK(r.header("X-Prometheus-Remote-Write-Version") == "0.1.0");
    CHECK(r.header("Authorization") == "Bearer abc");
    std::string raw;
    REQUIRE(snappy_uncompress(r.body, raw));
    pelt::remote::WriteRequest part;
    REQUIRE(part.ParseFromString(raw));
    all.MergeFrom(part);
  }
  REQUIRE(static_cast<size_t>(all.timeseries_size()) == 3 * per_tick);
  bool found_vus = false;
  for (const auto& ts : all.timeseries()) {
    CHECK(ts.labels(0).name() == "__name__");
    std::map<std::string, std::string> l;
    for (const auto& label : ts.labels()) l[label.name()] = label.value();
    CHECK(l["env"] == "ci");
    if (l["__name__"] == "pelt_vus" && ts.samples(0).timestamp() == 1765000001000) {
      found_vus = true;
      CHECK(ts.samples(0).value() == 4);
      CHECK(l["scenario"] == "shop");
      CHECK(l["run_id"] == "run-1");
    }
  }
  CHECK(found_vus);
  std::set<int64_t> stamps;
  for (const auto& ts : all.timeseries()) stamps.insert(ts.samples(0).timestamp());
  CHECK(stamps == std::set<int64_t>{1765000000000, 1765000001000, 1765000001001});
  CHECK(outs[0]->stats().push.points_sent == 3 * per_tick);

  CHECK(make_outputs(configs,
                     run_with_env({{"PELT_RW_BEARER_TOKEN", "a"},
                                   {"PELT_RW_USERNAME", "u"},
                                   {"PELT_RW_PASSWORD", "p"}}),
                     error)
            .empty());
  CHECK(error.find("not both") != std::string::npos);
}

TEST_CASE("output stats: the summary line names the causes of drops and the last error") {
  OutputStats s;
  s.kind = "influxdb";
  s.push.points_sent = 280;
  s.push.dropped_retries = 15;
  s.push.dropped_unsent = 5;
  s.push.last_error = "connect 127.0.0.1:8086: ECONNREFUSED (gave up after 5 attempts)";
  CHECK(s.summary_line() ==
        "influxdb: 280 points sent, 20 dropped (queue full 0, gave up after retries 15, "
        "rejected 0, unsent at the end 5); last error: connect 127.0.0.1:8086: ECONNREFUSED "
        "(gave up after 5 attempts)");
}
