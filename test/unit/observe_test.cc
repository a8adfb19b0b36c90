// [observe]: the table in scenario files, the ready-made queries, thresholds on observe.LABEL,
// and how figures read and judge.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"
#include "observe/observe_config.h"
#include "results/observe_results.h"

namespace {

constexpr const char* kHead = R"([target]
url = "http://10.1.2.3:8080/"
[scenarios.a]
executor = "constant-vus"
duration = "5s"
)";

std::string load(const std::string& text, pelt::RunConfig* out = nullptr) {
  pelt::RunConfig config;
  std::string error;
  const bool ok = pelt::load_run_config(text, "t.toml", ".", {{"ZONE", "eu"}}, config, error);
  CHECK(ok == error.empty());
  if (out) *out = config;
  return error;
}

}  // namespace

TEST_CASE("observe: the table, its defaults and queries of one's own", "[observe]") {
  pelt::RunConfig c;
  REQUIRE(load(std::string(kHead) + R"X(
[observe]
prometheus = "http://127.0.0.1:9090"
defaults = ["node-exporter", "cadvisor"]
container = "api-.*"
rate_window = "1m"
query_delay = "10s"
cpu = { query = 'avg(x{zone="${ZONE}",host="${TARGET_HOST}"})', unit = "%" }
queue = { query = "sum(queue_depth)" }
[thresholds]
"observe.cpu" = ["max<90"]
"observe.container_memory" = ["avg<2e9"]
)X",
               &c) == "");
  const pelt::ObserveConfig& o = c.observe;
  CHECK(o.enabled);
  CHECK(o.prometheus == "http://127.0.0.1:9090");
  CHECK(o.defaults == std::vector<std::string>{"node-exporter", "cadvisor"});
  CHECK(o.rate_window == std::chrono::minutes(1));
  CHECK(o.query_delay == std::chrono::seconds(10));
  REQUIRE(o.queries.size() == 2);
  CHECK(o.queries[0].query ==
        "avg(x{zone=\"eu\",host=\"${TARGET_HOST}\"})");  // -e values now, the host later
  CHECK(o.queries[0].origin == "t.toml:13:7");
  CHECK(o.queries[1].unit == "");
  const auto q = pelt::resolve_observe_queries(o, "10.1.2.3");
  std::vector<std::string> labels;
  for (const auto& x : q) labels.push_back(x.label);
  // One's own cpu replaces node-exporter's, in its place.
  CHECK(labels == std::vector<std::string>{"cpu", "memory_used", "load1", "net_rx", "net_tx",
                                           "container_cpu", "container_memory", "queue"});
  CHECK(q[0].query == "avg(x{zone=\"eu\",host=\"10.1.2.3\"})");
  CHECK(q[1].query ==
        "sum(node_memory_MemTotal_bytes{instance=~\"10\\\\.1\\\\.2\\\\.3(:[0-9]+)?\"} - "
        "node_memory_MemAvailable_bytes{instance=~\"10\\\\.1\\\\.2\\\\.3(:[0-9]+)?\"})");
  CHECK(q[3].query ==
        "sum(rate(node_network_receive_bytes_total{device!=\"lo\",instance=~\"10\\\\.1\\\\.2\\\\.3("
        ":[0-9]+)?\"}[60s]))");
  CHECK(q[5].query == "sum(rate(container_cpu_usage_seconds_total{name=~\"api-.*\"}[60s]))");
  REQUIRE(c.thresholds.size() == 2);
  CHECK(c.thresholds[0].metric == "observe.cpu");
}

TEST_CASE("observe: node-exporter's queries by default, the instance as given", "[observe]") {
  pelt::ObserveConfig o;
  o.enabled = true;
  CHECK(pelt::observe_labels(o) ==
        std::vector<std::string>{"cpu", "memory_used", "load1", "net_rx", "net_tx"});
  o.instance = "db-1:9100";
  o.rate_window = std::chrono::milliseconds(1500);
  const auto q = pelt::resolve_observe_queries(o, "ignored");
  CHECK(q[0].query ==
        "1 - avg(rate(node_cpu_seconds_total{mode=\"idle\",instance=~\"db-1:9100\"}[1500ms]))");
  CHECK(q[0].unit == "%");
  CHECK(q[0].origin == "node-exporter defaults");
  // An IPv6 target: the brackets go, the colons stay literal.
  CHECK(pelt::resolve_observe_queries(pelt::ObserveConfig{}, "[::1]")[2].query ==
        "avg(node_load1{instance=~\"::1(:[0-9]+)?\"})");
  // Queries of one's own and no `defaults`: only those.
  pelt::ObserveConfig own;
  own.queries.push_back({"rps", "sum(rate(x[1m]))", "", "t"});
  CHECK(pelt::observe_labels(own) == std::vector<std::string>{"rps"});
}

TEST_CASE("observe: bad tables and thresholds", "[observe]") {
  const std::string head(kHead);
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {head + "[observe]\nprometheus = \"127.0.0.1:9090\"\n",
       "t.toml:7:14: observe.prometheus must be an http:// or https:// URL, got "
       "\"127.0.0.1:9090\""},
      {head + "[observe]\ndefaults = [\"node\"]\n",
       "t.toml:7:13: unknown observe.defaults \"node\": use node-exporter and/or cadvisor"},
      {head + "[observe]\nintervl = \"5s\"\n",
       "t.toml:7:1: unknown key \"intervl\" in [observe]: the settings are prometheus, defaults, "
       "instance, "
       "container, rate_window, query_delay, timeout; a query is a table such as cpu = { query = "
       "'...', unit = \"%\" }"},
      {head + "[observe]\nCPU = { query = \"up\" }\n",
       "t.toml:7:1: bad query label \"CPU\": use lower-case letters, digits and _, not starting "
       "with a digit"},
      {head + "[observe]\ncpu = { unit = \"%\" }\n",
       "t.toml:7:7: observe.cpu needs query = '...' (PromQL)"},
      {head + "[observe]\ncpu = { query = \"up\", units = \"%\" }\n",
       "t.toml:7:23: unknown key \"units\" in observe.cpu (did you mean \"unit\"?); allowed keys: "
       "query, unit"},
      {head + "[thresholds]\n\"observe.cpux\" = [\"max<90\"]\n",
       "t.toml:7:1: unknown query \"cpux\" in observe.cpux (did you mean \"cpu\"?); [observe] has "
       "cpu, memory_used, "
       "load1, net_rx, net_tx"},
      {head + "[thresholds]\n\"observe.cpu\" = [\"p(95)<90\"]\n",
       "t.toml:7:18: threshold \"p(95)<90\" for observe.cpu: a query's figures support avg, min "
       "and max (over the "
       "whole run), e.g. \"max<90\""},
      {head + "[thresholds]\n\"observe.cpu{stage:1}\" = [\"max<90\"]\n",
       "t.toml:7:1: observe.cpu takes no tag filter: it is judged over the whole run"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(load(c.text) == c.error);
  }
}

TEST_CASE("observe: figures as shown and judged", "[observe]") {
  pelt::ObserveResults r;
  r.queries = {{"cpu", "q", "%"}, {"mem", "q", "bytes"}, {"rx", "q", "B/s"}, {"load", "q", ""}};
  pelt::ObserveFigure ok;
  ok.status = pelt::ObserveFigure::Status::kOk;
  ok.avg = 0.42;
  ok.min = 0.1;
  ok.max = 0.97;
  pelt::ObserveFigure down;
  down.status = pelt::ObserveFigure::Status::kUnreachable;
  down.error = "connect 127.0.0.1:9090: ECONNREFUSED";
  CHECK(pelt::observe_cell(r.queries[0], ok) == "42% (97%)");
  CHECK(pelt::observe_cell(r.queries[0], down) == "unreachable");
  CHECK(pelt::observe_value_text(r.queries[1], 1536 * 1024 * 1024.0) == "1.50GB");
  CHECK(pelt::observe_value_text(r.queries[2], 2048) == "2.00KB/s");
  CHECK(pelt::observe_value_text(r.queries[3], 8.123) == "8.12");
  r.stages[{0, 1}] = {ok, down, pelt::ObserveFigure{}, ok};
  CHECK(pelt::observe_stage_text(r, 0, 1) ==
        "server cpu avg 42%, max 97%; mem unreachable; load avg 0.42, max 0.97");
  CHECK(pelt::observe_stage_text(r, 0, 2) == "");
  const auto j = pelt::observe_stage_json(r, 0, 1);
  CHECK(j["cpu"]["avg"] == 0.42);
  CHECK(j["mem"]["status"] == "unreachable");
  CHECK(j["mem"]["error"] == "connect 127.0.0.1:9090: ECONNREFUSED");

  // Thresholds read the whole run's figure; "%" queries in percent.
  r.run = {ok, down, ok, ok};
  pelt::ThresholdConfig t;
  t.metric = "observe.cpu";
  std::string error;
  size_t pos = 0;
  REQUIRE(pelt::parse_threshold("max<90", t.parsed, error, pos));
  pelt::ThresholdResult res = pelt::evaluate_observe_threshold(t, &r);
  CHECK(res.has_data);
  CHECK_FALSE(res.ok);
  CHECK(res.observed == Approx(97));
  CHECK(res.text == "max=97%");
  REQUIRE(pelt::parse_threshold("avg<50", t.parsed, error, pos));
  CHECK(pelt::evaluate_observe_threshold(t, &r).ok);
  t.metric = "observe.mem";
  res = pelt::evaluate_observe_threshold(t, &r);
  CHECK(res.ok);  // no data is not a failure, it says why
  CHECK_FALSE(res.has_data);
  CHECK(res.text == "avg: unreachable");
  CHECK(pelt::evaluate_observe_threshold(t, nullptr).text == "avg: no data");
}
