// InfluxDB line protocol: escaping, one point, and the points made from a time-series tick.
#include "outputs/influx_line.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "results/histogram.h"

using namespace pelt;
using nlohmann::json;

TEST_CASE("influx escaping: measurements") {
  CHECK(influx_escape_measurement("pelt_run") == "pelt_run");
  CHECK(influx_escape_measurement("a b,c=d") == "a\\ b\\,c=d");
  CHECK(influx_escape_measurement("two\nlines") == "two\\ lines");
}

TEST_CASE("influx escaping: tag keys, tag values and field keys") {
  CHECK(influx_escape_key("/api/users/{id}") == "/api/users/{id}");
  CHECK(influx_escape_key("a b") == "a\\ b");
  CHECK(influx_escape_key("a,b") == "a\\,b");
  CHECK(influx_escape_key("a=b") == "a\\=b");
  CHECK(influx_escape_key("say \"hi\"") == "say\\ \"hi\"");
  CHECK(influx_escape_key("line\nbreak\r") == "line\\ break\\ ");
  CHECK(influx_escape_key("héllo ✓") == "héllo\\ ✓");
  // A lone backslash is literal in every InfluxDB version; where it would read as an escape it
  // becomes '/'.
  CHECK(influx_escape_key("C:\\temp") == "C:\\temp");
  CHECK(influx_escape_key("end\\") == "end/");
  CHECK(influx_escape_key("a\\\\b") == "a/\\b");
  CHECK(influx_escape_key("a\\ b") == "a/\\ b");
  CHECK(influx_escape_key("a\\,b") == "a/\\,b");
}

TEST_CASE("influx point: sorted tags, typed fields, empty tags and non-finite floats left out") {
  InfluxPoint p("pelt_request");
  p.tag("scenario", "checkout").tag("name", "GET /cart").tag("empty", "").tag("method", "GET");
  p.field_int("requests", 12).field_float("latency_p95", 12.5).field_float("nan", NAN);
  p.field_float("inf", INFINITY).field_float("whole", 3.0).field_int("neg", -4);
  std::string out;
  REQUIRE(p.write(out, 1765000000123));
  CHECK(out ==
        "pelt_request,method=GET,name=GET\\ /cart,scenario=checkout "
        "requests=12i,latency_p95=12.5,whole=3,neg=-4i 1765000000123\n");
  InfluxPoint empty("m");
  empty.tag("a", "b").field_float("x", NAN);
  std::string none;
  CHECK_FALSE(empty.write(none, 1));
  CHECK(none.empty());
}

namespace {

// The latency histogram of the run's first bucket: 1, 3, 20 and 2 ms.
Histogram sample_histogram() {
  Histogram h;
  for (uint64_t us : {1000, 3000, 20000, 2000}) h.record(us);
  return h;
}

// A tick with three buckets: the run, one scenario and one request name.
json sample_tick() {
  const Histogram h = sample_histogram();
  return json{
      {"start_unix_ms", 1765000000000},
      {"t", {10, 11, 12}},
      {"width", {1, 1, 2}},
      {"series",
       {{{"scope", "run"},
         {"requests", {4, 0, 6}},
         {"failed", {1, 0, 0}},
         {"bytes_sent", {400, 0, 600}},
         {"bytes_received", {800, 0, 1200}},
         {"errors", {{"connect", {0, 0, 0}}, {"status", {1, 0, 0}}}},
         {"status", {{"2xx", {3, 0, 6}}, {"5xx", {1, 0, 0}}}},
         {"latency_ms", {{"p95", {99.0, nullptr, 5.5}}}},
         {"latency_histogram_us", {h.encode(), "", ""}},
         {"vus", {5, 5, 4}},
         {"target_vus", {5.0, nullptr, 3.5}},
         {"dropped_iterations", {0, 0, 2}},
         {"send_lag_ms", {{"p99", {0.25, nullptr, nullptr}}}}},
        {{"scope", "scenario"}, {"scenario", "shop"}, {"requests", {4, 0, 6}}, {"vus", {5, 5, 4}}},
        {{"scope", "name"},
         {"scenario", "shop"},
         {"name", "GET /cart"},
         {"method", "GET"},
         {"requests", {4, 0, 6}},
         {"failed", {1, 0, 0}},
         {"status_codes", {{"200", {3, 0, 6}}, {"503", {1, 0, 0}}}}}}}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("influx tick: one point per series and bucket, statuses per name, idle names skipped") {
  InfluxTickOptions o;
  o.run_id = "20261205T230102-42";
  o.tags = {{"env", "ci"}};
  std::string out;
  InfluxTickResult r;
  std::string error;
  REQUIRE(encode_influx_tick(sample_tick(), o, out, r, error));
  const auto lines = lines_of(out);
  // bucket 10: run, scenario, name, 2 statuses; 11: run, scenario; 12: run, scenario, name, 1
  CHECK(r.points == 11);
  CHECK(lines.size() == 11);
  CHECK(r.buckets == 3);
  CHECK(r.last_t == 12);
  // Latency from the bucket's histogram: exact avg/min/max, nearest-rank percentiles.
  const Histogram h = sample_histogram();
  const auto ms = [&](double p) { return fmt::format("{}", h.percentile(p) / 1000.0); };
  CHECK(lines[0] ==
        "pelt_run,env=ci,run_id=20261205T230102-42 requests=4i,failed=1i,bytes_sent=400i,"
        "bytes_received=800i,errors_connect=0i,errors_status=1i,status_2xx=3i,status_5xx=1i,"
        "vus=5i,target_vus=5,dropped_iterations=0i,send_lag_p99=0.25,rps=4,latency_avg=6.5,"
        "latency_min=1,latency_max=20,latency_p50=" +
            ms(50) + ",latency_p90=" + ms(90) + ",latency_p95=" + ms(95) +
            ",latency_p99=" + ms(99) + " 1765000010000");
  CHECK(h.percentile(50) / 1000.0 == Approx(2.0).epsilon(0.002));
  CHECK(h.percentile(95) / 1000.0 == Approx(20.0).epsilon(0.002));
  CHECK(lines[1] ==
        "pelt_scenario,env=ci,run_id=20261205T230102-42,scenario=shop requests=4i,"
        "vus=5i,rps=4 1765000010000");
  CHECK(lines[2] ==
        "pelt_request,env=ci,method=GET,name=GET\\ /cart,run_id=20261205T230102-42,"
        "scenario=shop requests=4i,failed=1i,rps=4 1765000010000");
  CHECK(lines[3] ==
        "pelt_status,env=ci,method=GET,name=GET\\ /cart,run_id=20261205T230102-42,"
        "scenario=shop,status=200 requests=3i,failed=0i,rps=3 1765000010000");
  CHECK(lines[4] ==
        "pelt_status,env=ci,method=GET,name=GET\\ /cart,run_id=20261205T230102-42,"
        "scenario=shop,status=503 requests=1i,failed=1i,rps=1 1765000010000");
  // Bucket 11: nothing happened; the run and scenario still get a point, the name does not.
  CHECK(lines[5].rfind("pelt_run,env=ci,run_id=20261205T230102-42 requests=0i,", 0) == 0);
  CHECK(lines[5].find("latency") == std::string::npos);
  CHECK(lines[5].find(" 1765000011000") != std::string::npos);
  // Bucket 12 is 2 s wide: rps halves; no histogram, so latency comes from latency_ms.
  CHECK(lines[7].find("rps=3,latency_p95=5.5 1765000012000") != std::string::npos);
  CHECK(lines[7].find("target_vus=3.5") != std::string::npos);
}

TEST_CASE("influx tick: min_t skips written buckets; the live-tick wrapper is accepted") {
  InfluxTickOptions o;
  o.min_t = 12;
  std::string out;
  InfluxTickResult r;
  std::string error;
  const json wrapped = {{"summary", json::object()}, {"timeseries", sample_tick()}};
  REQUIRE(encode_influx_tick(wrapped, o, out, r, error));
  CHECK(r.buckets == 1);
  CHECK(r.points == 4);
  for (const std::string& line : lines_of(out)) {
    CHECK(line.substr(line.size() - 14) == " 1765000012000");
    CHECK(line.find("run_id") == std::string::npos);  // no run id given: no tag
  }
}

TEST_CASE("influx tick: start time from the options when the tick has none; bad ticks") {
  json tick = sample_tick();
  tick.erase("start_unix_ms");
  InfluxTickOptions o;
  o.start_unix_ms = 1000;
  std::string out;
  InfluxTickResult r;
  std::string error;
  REQUIRE(encode_influx_tick(tick, o, out, r, error));
  CHECK(out.find(" 11000\n") != std::string::npos);
  CHECK_FALSE(encode_influx_tick(json{{"t", {1}}}, o, out, r, error));
  CHECK(error == "time series tick without \"t\" and \"series\" arrays");
  CHECK_FALSE(encode_influx_tick(json::array(), o, out, r, error));
}
