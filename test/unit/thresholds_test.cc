// Threshold grammar, metric compatibility and evaluation against hand-built WorkerStats.
#include "results/thresholds.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "results/catalogue.h"
#include "results/recorder.h"
#include "results/stats.h"

using pelt::ThresholdConfig;
using pelt::ThresholdExpr;
using pelt::ThresholdInputs;
using pelt::ThresholdResult;
using Agg = ThresholdExpr::Aggregation;
using Op = ThresholdExpr::Op;

namespace {

ThresholdExpr parse_ok(const std::string& text) {
  ThresholdExpr e;
  std::string error;
  size_t pos = 999;
  INFO("expression: '" << text << "'");
  const bool ok = pelt::parse_threshold(text, e, error, pos);
  INFO("error: " << error << " at " << pos);
  REQUIRE(ok);
  return e;
}

// Parses a bad expression; returns the error position and fills the message.
size_t parse_error(const std::string& text, std::string& error) {
  ThresholdExpr e;
  e.value = 12345;
  size_t pos = 999;
  INFO("expression: '" << text << "'");
  REQUIRE_FALSE(pelt::parse_threshold(text, e, error, pos));
  CHECK(e.value == 12345);  // untouched on failure
  CHECK_FALSE(error.empty());
  return pos;
}

size_t error_pos(const std::string& text) {
  std::string error;
  return parse_error(text, error);
}

}  // namespace

TEST_CASE("threshold grammar: every aggregation and operator", "[thresholds]") {
  struct Case {
    const char* text;
    Agg aggregation;
    double percentile;
    Op op;
    double value;
  };
  const std::vector<Case> cases = {
      {"avg<200", Agg::kAvg, 0, Op::kLt, 200},
      {"min<=1", Agg::kMin, 0, Op::kLe, 1},
      {"max>2", Agg::kMax, 0, Op::kGt, 2},
      {"med>=3", Agg::kMed, 0, Op::kGe, 3},
      {"p(95)<200", Agg::kPercentile, 95, Op::kLt, 200},
      {"p(99.9)<500", Agg::kPercentile, 99.9, Op::kLt, 500},
      {"p(0)>0", Agg::kPercentile, 0, Op::kGt, 0},
      {"p(100)<1", Agg::kPercentile, 100, Op::kLt, 1},
      {"rate<0.01", Agg::kRate, 0, Op::kLt, 0.01},
      {"count>100", Agg::kCount, 0, Op::kGt, 100},
      {"value==10", Agg::kValue, 0, Op::kEq, 10},
      {"value===10", Agg::kValue, 0, Op::kEq, 10},
      {"rate!=0", Agg::kRate, 0, Op::kNe, 0},
      {"  p( 90 ) <=  1.5  ", Agg::kPercentile, 90, Op::kLe, 1.5},
      {"\tavg < 2\t", Agg::kAvg, 0, Op::kLt, 2},
      {"avg<.5", Agg::kAvg, 0, Op::kLt, 0.5},
      {"avg<1e3", Agg::kAvg, 0, Op::kLt, 1000},
      {"count>+5", Agg::kCount, 0, Op::kGt, 5},
      {"value>-1", Agg::kValue, 0, Op::kGt, -1},
  };
  for (const Case& c : cases) {
    const ThresholdExpr e = parse_ok(c.text);
    INFO(c.text);
    CHECK(e.aggregation == c.aggregation);
    CHECK(e.percentile == Approx(c.percentile));
    CHECK(e.op == c.op);
    CHECK(e.value == Approx(c.value));
  }
}

TEST_CASE("threshold grammar: durations default to ms, units convert to ms", "[thresholds]") {
  CHECK(parse_ok("p(95)<2s").value == Approx(2000));
  CHECK(parse_ok("avg<250ms").value == Approx(250));
  CHECK(parse_ok("max<1.5s").value == Approx(1500));
  CHECK(parse_ok("med<100us").value == Approx(0.1));
  CHECK(parse_ok("med<100\xC2\xB5s").value == Approx(0.1));
  CHECK(parse_ok("min>500ns").value == Approx(0.0005));
  CHECK(parse_ok("p(99)<1m").value == Approx(60000));
  CHECK(parse_ok("p(99)<1h").value == Approx(3600000));
  CHECK(parse_ok("p(99)<1m30s").value == Approx(90000));
  CHECK(parse_ok("p(99) < 2 s").value == Approx(2000));
  CHECK(parse_ok("p(99)<2000").value == Approx(2000));
}

TEST_CASE("threshold grammar: bad input names the position", "[thresholds]") {
  std::string error;
  CHECK(parse_error("p(95<200", error) == 4);
  CHECK_THAT(error, Catch::Contains("')'"));
  CHECK(parse_error("p95<200", error) == 1);
  CHECK_THAT(error, Catch::Contains("'('"));
  CHECK(parse_error("avg<<2", error) == 4);
  CHECK_THAT(error, Catch::Contains("number"));
  CHECK(parse_error("foo<1", error) == 0);
  CHECK_THAT(error, Catch::Contains("unknown aggregation 'foo'"));
  CHECK(parse_error("p(95)<", error) == 6);
  CHECK(parse_error("p(101)<1", error) == 2);
  CHECK_THAT(error, Catch::Contains("between 0 and 100"));
  CHECK(parse_error("p(-1)<1", error) == 2);
  CHECK(parse_error("", error) == 0);
  CHECK_THAT(error, Catch::Contains("empty"));
  CHECK(error_pos("   ") == 3);
  CHECK(error_pos("<200") == 0);
  CHECK(parse_error("avg 200", error) == 4);
  CHECK_THAT(error, Catch::Contains("operator"));
  CHECK(error_pos("avg=1") == 3);
  CHECK(error_pos("avg!1") == 3);
  CHECK(parse_error("avg<200x", error) == 7);
  CHECK_THAT(error, Catch::Contains("unknown unit 'x'"));
  CHECK(parse_error("avg<200 ms x", error) == 11);
  CHECK_THAT(error, Catch::Contains("unexpected 'x'"));
  CHECK(parse_error("rate<1s", error) == 6);
  CHECK_THAT(error, Catch::Contains("duration unit"));
  CHECK(error_pos("avg<inf") == 4);
  CHECK(error_pos("avg<nan") == 4);
  CHECK(error_pos("avg<-") == 4);
  CHECK(parse_error("avg<1e999", error) == 4);
  CHECK_THAT(error, Catch::Contains("out of range"));
  CHECK(error_pos("p()<1") == 2);
  CHECK(error_pos("p(95)") == 5);
  CHECK(error_pos("avg<1m30") == 8);
  CHECK(error_pos("AVG<1") == 0);
  CHECK(error_pos("avg<1 2") == 6);
  CHECK(error_pos("avg<1e305h") == 9);
}

TEST_CASE("describe gives canonical text that parses back to the same expression", "[thresholds]") {
  CHECK(pelt::describe(parse_ok("p(95)<2s")) == "p(95)<2000");
  CHECK(pelt::describe(parse_ok(" p( 99.9 ) <= 500.5 ")) == "p(99.9)<=500.5");
  CHECK(pelt::describe(parse_ok("rate<0.01")) == "rate<0.01");
  CHECK(pelt::describe(parse_ok("count>=100")) == "count>=100");
  CHECK(pelt::describe(parse_ok("value===3")) == "value==3");
  CHECK(pelt::describe(parse_ok("med!=1")) == "med!=1");
  CHECK(pelt::describe(parse_ok("avg>100us")) == "avg>0.1");
  for (const char* text : {"p(95)<2s", "avg<1ns", "max>1.5h", "p(12.345)>=0.001", "count<1e20",
                           "value>-1", "min<1m30s"}) {
    const ThresholdExpr a = parse_ok(text);
    const ThresholdExpr b = parse_ok(pelt::describe(a));
    INFO(text << " -> " << pelt::describe(a));
    CHECK(a.aggregation == b.aggregation);
    CHECK(a.percentile == b.percentile);
    CHECK(a.op == b.op);
    CHECK(a.value == b.value);
  }
}

TEST_CASE("metrics accept only their aggregations", "[thresholds]") {
  const std::map<std::string, std::vector<std::string>> allowed = {
      {"http_req_duration", {"avg", "min", "max", "med", "p(95)"}},
      {"send_lag", {"avg", "min", "max", "med", "p(95)"}},
      {"http_req_connecting", {"avg", "min", "max", "med", "p(95)"}},
      {"http_req_tls_handshaking", {"avg", "min", "max", "med", "p(95)"}},
      {"http_req_waiting", {"avg", "min", "max", "med", "p(95)"}},
      {"http_req_failed", {"rate"}},
      {"checks", {"rate"}},
      {"http_reqs", {"count", "rate"}},
      {"iterations", {"count", "rate"}},
      {"dropped_iterations", {"count", "rate"}},
      {"data_sent", {"count", "rate"}},
      {"data_received", {"count", "rate"}},
      {"vus", {"value", "min", "max"}},
      {"vus_max", {"value", "min", "max"}},
  };
  const std::vector<std::string> all = {"avg",   "min",  "max",   "med",
                                        "p(95)", "rate", "count", "value"};
  for (const auto& [metric, ok_list] : allowed) {
    for (const std::string& agg : all) {
      const ThresholdExpr e = parse_ok(agg + "<1");
      std::string error;
      const bool expected = std::find(ok_list.begin(), ok_list.end(), agg) != ok_list.end();
      INFO(metric << " " << agg);
      CHECK(pelt::check_metric_aggregation(metric, e, error) == expected);
      if (!expected) CHECK_THAT(error, Catch::Contains(metric) && Catch::Contains(agg));
    }
  }
  std::string error;
  CHECK_FALSE(pelt::check_metric_aggregation("foo", parse_ok("avg<1"), error));
  CHECK(error == "unknown metric 'foo'");
}

TEST_CASE("metrics accept only their tag filters", "[thresholds]") {
  using Tags = std::map<std::string, std::string>;
  std::string error;
  CHECK(pelt::check_threshold_tags("http_req_duration", {}, error));
  CHECK(pelt::check_threshold_tags("http_req_duration", Tags{{"name", "issue"}}, error));
  CHECK(pelt::check_threshold_tags(
      "http_req_duration", Tags{{"scenario", "a"}, {"name", "x"}, {"method", "GET"}}, error));
  CHECK(pelt::check_threshold_tags("http_req_duration", Tags{{"scenario", "a"}, {"stage", "2"}},
                                   error));
  CHECK_FALSE(pelt::check_threshold_tags("http_req_duration", Tags{{"stage", "x"}}, error));
  CHECK_THAT(error, Catch::Contains("stage"));
  CHECK_FALSE(pelt::check_threshold_tags("http_req_duration",
                                         Tags{{"stage", "1"}, {"name", "issue"}}, error));
  CHECK(pelt::check_threshold_tags("http_req_duration", Tags{{"status", "200"}}, error));
  CHECK(
      pelt::check_threshold_tags("http_req_duration", Tags{{"expected_response", "true"}}, error));
  CHECK_FALSE(
      pelt::check_threshold_tags("http_req_duration", Tags{{"expected_response", "yes"}}, error));
  CHECK(error == "expected_response must be true or false, not 'yes'");
  CHECK_FALSE(pelt::check_threshold_tags(
      "http_req_duration", Tags{{"expected_response", "true"}, {"stage", "0"}}, error));
  CHECK(pelt::check_threshold_tags("http_req_waiting", Tags{{"name", "x"}, {"status", "200"}},
                                   error));
  CHECK_FALSE(pelt::check_threshold_tags("http_req_waiting", Tags{{"stage", "1"}}, error));
  CHECK(error == "metric 'http_req_waiting' cannot be filtered by tag 'stage'");
  CHECK(pelt::check_threshold_tags("http_req_failed", Tags{{"status", "0"}}, error));
  CHECK(pelt::check_threshold_tags("http_reqs", Tags{{"status", "500"}}, error));
  CHECK(pelt::check_threshold_tags("http_reqs", Tags{{"status", "999"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("http_reqs", Tags{{"status", "1000"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("http_reqs", Tags{{"status", "2xx"}}, error));
  CHECK(pelt::check_threshold_tags("checks", Tags{{"check", "status ok"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("checks", Tags{{"scenario", "a"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("http_req_failed", Tags{{"check", "a"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("send_lag", Tags{{"scenario", "a"}}, error));
  CHECK(pelt::check_threshold_tags("dropped_iterations", Tags{{"stage", "0"}}, error));
  CHECK(pelt::check_threshold_tags("vus", Tags{{"scenario", "a"}}, error));
  // Any other tag is one of the scenarios' own tags (the loader checks that some scenario has
  // it): it filters like scenario does.
  CHECK(pelt::check_threshold_tags("vus", Tags{{"team", "a"}}, error));
  CHECK(pelt::check_threshold_tags("http_req_duration", Tags{{"team", "a"}, {"stage", "1"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("data_sent", Tags{{"team", "a"}}, error));
  CHECK(error == "metric 'data_sent' cannot be filtered by tag 'team'");
  CHECK_FALSE(pelt::check_threshold_tags("checks", Tags{{"team", "a"}}, error));
  CHECK_FALSE(pelt::check_threshold_tags("nope", {}, error));
}

namespace {

void record_n(pelt::Histogram& h, uint64_t value_us, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) h.record(value_us);
}

// Two scenarios: "browse" (home: 10 x GET 200 in 10 ms; issue: POST, 2 x 201 and 2 x 500 in
// 200 ms plus one request without a response) and "buy" (issue: 6 x POST 201 in 50 ms).
pelt::WorkerStats sample_stats() {
  pelt::WorkerStats st;
  st.scenarios.resize(2);
  pelt::ScenarioStats& browse = st.scenarios[0];
  pelt::ScenarioStats& buy = st.scenarios[1];

  pelt::NameStats& home = browse.names["home"];
  home.method = "GET";
  home.requests = {10, 0, 0};
  home.status[200] = 10;
  record_n(home.latency, 10000, 10);
  pelt::NameStats& browse_issue = browse.names["issue"];
  browse_issue.method = "POST";
  browse_issue.requests = {4, 2, 1};
  browse_issue.status[201] = 2;
  browse_issue.status[500] = 2;
  record_n(browse_issue.latency, 200000, 4);
  pelt::NameStats& buy_issue = buy.names["issue"];
  buy_issue.method = "POST";
  buy_issue.requests = {6, 0, 0};
  buy_issue.status[201] = 6;
  record_n(buy_issue.latency, 50000, 6);

  browse.stages.resize(2);
  browse.stages[0].requests = {10, 0, 0};
  browse.stages[0].latency.merge(home.latency);
  browse.stages[1].requests = {4, 2, 1};
  browse.stages[1].latency.merge(browse_issue.latency);
  buy.stages.resize(1);
  buy.stages[0].requests = {6, 0, 0};
  buy.stages[0].dropped_iterations = 7;
  buy.stages[0].latency.merge(buy_issue.latency);

  browse.iterations = 14;
  buy.iterations = 6;
  buy.dropped_iterations = 7;
  browse.vus = 3;
  browse.vus_max = 10;
  buy.vus = 5;
  buy.vus_max = 20;

  st.ledger.sent = 21;
  st.ledger.completed = 20;
  st.ledger.failed = 1;
  st.status[200] = 10;
  st.status[201] = 8;
  st.status[500] = 2;
  st.errors.status = 2;
  st.latency.merge(home.latency);
  st.latency.merge(browse_issue.latency);
  st.latency.merge(buy_issue.latency);
  st.checks["status ok"] = {18, 2};
  st.checks["body"] = {5, 0};
  st.bytes_written = 1000;
  st.bytes_read = 5000;
  record_n(st.send_lag, 3000, 5);
  record_n(st.connect_time, 400, 2);
  record_n(st.tls_time, 7000, 2);
  record_n(st.waiting, 9000, 20);
  return st;
}

class Evaluator {
 public:
  Evaluator() : stats_(sample_stats()) {
    in_.stats = &stats_;
    in_.scenario_names = &names_;
    in_.scenario_tags = &tags_;
    in_.elapsed_seconds = 10;
  }
  ThresholdResult operator()(const std::string& metric, const std::string& expression,
                             std::map<std::string, std::string> tags = {}) const {
    ThresholdConfig th;
    th.metric = metric;
    th.tags = std::move(tags);
    th.expression = expression;
    th.parsed = parse_ok(expression);
    return pelt::evaluate_threshold(th, in_);
  }
  ThresholdInputs& inputs() { return in_; }

 private:
  pelt::WorkerStats stats_;
  std::vector<std::string> names_ = {"browse", "buy"};
  std::vector<std::map<std::string, std::string>> tags_ = {{{"team", "web"}, {"tier", "free"}},
                                                           {{"team", "shop"}}};
  ThresholdInputs in_;
};

}  // namespace

TEST_CASE("evaluation: request durations with every filter", "[thresholds]") {
  Evaluator eval;
  ThresholdResult r = eval("http_req_duration", "avg<100");
  CHECK(r.has_data);
  CHECK(r.ok);
  CHECK(r.observed == Approx(60));
  CHECK(r.text == "avg=60.00ms");
  r = eval("http_req_duration", "p(95)<150");
  CHECK_FALSE(r.ok);
  CHECK(r.observed == Approx(200).epsilon(0.01));
  CHECK_THAT(r.text, Catch::StartsWith("p(95)=") && Catch::EndsWith("ms"));
  // 20 samples (10 x 10 ms, 6 x 50 ms, 4 x 200 ms): k6's median lies halfway between the 10th
  // and the 11th sample.
  CHECK(eval("http_req_duration", "med<1s").observed == Approx(30));
  CHECK(eval("http_req_duration", "min<1s").observed == Approx(10).epsilon(0.01));
  CHECK(eval("http_req_duration", "max<1s").observed == Approx(200).epsilon(0.01));

  CHECK(eval("http_req_duration", "avg<1", {{"name", "issue"}}).observed == Approx(110));
  CHECK(eval("http_req_duration", "avg<1", {{"name", "issue"}, {"scenario", "buy"}}).observed ==
        Approx(50));
  CHECK(eval("http_req_duration", "avg<1", {{"scenario", "browse"}}).observed ==
        Approx(900.0 / 14));
  CHECK(eval("http_req_duration", "avg<1", {{"method", "GET"}}).observed == Approx(10));
  CHECK(eval("http_req_duration", "avg<1", {{"stage", "1"}}).observed == Approx(200));
  CHECK(eval("http_req_duration", "avg<1", {{"stage", "0"}}).observed == Approx(25));
  CHECK(eval("http_req_duration", "avg<1", {{"stage", "0"}, {"scenario", "buy"}}).observed ==
        Approx(50));

  // The scenarios' own tags select scenarios, alone or with other filters.
  CHECK(eval("http_req_duration", "avg<1", {{"team", "shop"}}).observed == Approx(50));
  CHECK(eval("http_req_duration", "avg<1", {{"team", "web"}}).observed == Approx(900.0 / 14));
  CHECK(eval("http_req_duration", "avg<1", {{"team", "web"}, {"tier", "free"}, {"name", "issue"}})
            .observed == Approx(200));
  CHECK(eval("http_req_duration", "avg<1", {{"team", "web"}, {"stage", "1"}}).observed ==
        Approx(200));
  CHECK(eval("http_reqs", "count<1", {{"team", "shop"}}).observed == Approx(6));
  CHECK(eval("vus", "value<1", {{"team", "shop"}}).observed == Approx(5));

  // Filters that match nothing: no data, which passes.
  for (const auto& tags :
       std::vector<std::map<std::string, std::string>>{{{"team", "nope"}},
                                                       {{"tier", "free"}, {"team", "shop"}},
                                                       {{"tier", "free"}, {"scenario", "buy"}},
                                                       {{"scenario", "nope"}},
                                                       {{"name", "nope"}},
                                                       {{"stage", "5"}},
                                                       {{"name", "home"}, {"scenario", "buy"}}}) {
    r = eval("http_req_duration", "p(95)<1", tags);
    CHECK_FALSE(r.has_data);
    CHECK(r.ok);
    CHECK(r.text == "p(95): no data");
  }
}

TEST_CASE("evaluation: other duration metrics", "[thresholds]") {
  Evaluator eval;
  CHECK(eval("send_lag", "avg<1").observed == Approx(3));
  CHECK(eval("http_req_connecting", "max<1").observed == Approx(0.4));
  CHECK(eval("http_req_tls_handshaking", "p(99)<1").observed == Approx(7).epsilon(0.01));
  CHECK(eval("http_req_waiting", "avg<10").ok);
  CHECK_FALSE(eval("http_req_waiting", "avg<9").ok);
}

TEST_CASE("evaluation: failure and check rates", "[thresholds]") {
  Evaluator eval;
  ThresholdResult r = eval("http_req_failed", "rate<0.1");
  CHECK(r.has_data);
  CHECK(r.observed == Approx(3.0 / 21));
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::StartsWith("rate=14.29%"));
  CHECK(eval("http_req_failed", "rate<0.5").ok);
  CHECK(eval("http_req_failed", "rate<1", {{"name", "issue"}}).observed == Approx(3.0 / 11));
  CHECK(eval("http_req_failed", "rate<1", {{"name", "home"}}).observed == 0);
  CHECK(eval("http_req_failed", "rate<1", {{"scenario", "browse"}}).observed == Approx(3.0 / 15));
  // Stage 1 ended 5 requests: 4 responses (2 with status 500) and one without a response.
  CHECK(eval("http_req_failed", "rate<1", {{"stage", "1"}}).observed == Approx(3.0 / 5));
  CHECK(eval("checks", "rate>0.9").observed == Approx(23.0 / 25));
  CHECK(eval("checks", "rate>0.9").ok);
  CHECK(eval("checks", "rate==1", {{"check", "body"}}).ok);
  CHECK_FALSE(eval("checks", "rate>0.95", {{"check", "status ok"}}).ok);
  r = eval("checks", "rate>0.9", {{"check", "missing"}});
  CHECK_FALSE(r.has_data);
  CHECK(r.ok);
}

TEST_CASE("evaluation: counters, per-second rates and gauges", "[thresholds]") {
  Evaluator eval;
  CHECK(eval("http_reqs", "count==21").ok);
  CHECK(eval("http_reqs", "count==21").text == "count=21");
  CHECK(eval("http_reqs", "rate>2").observed == Approx(2.1));
  CHECK(eval("http_reqs", "rate>2").text == "rate=2.10/s");
  CHECK(eval("http_reqs", "count==2", {{"status", "500"}}).ok);
  CHECK(eval("http_reqs", "count==8", {{"status", "201"}, {"name", "issue"}}).ok);
  CHECK(eval("http_reqs", "count==2", {{"status", "201"}, {"scenario", "browse"}}).ok);
  CHECK(eval("http_reqs", "count==6", {{"scenario", "buy"}}).ok);
  CHECK(eval("http_reqs", "count==15", {{"scenario", "browse"}}).ok);
  CHECK(eval("http_reqs", "count==16", {{"stage", "0"}}).ok);
  CHECK(eval("iterations", "count==20").ok);
  CHECK(eval("iterations", "count==14", {{"scenario", "browse"}}).ok);
  CHECK(eval("iterations", "rate==2").ok);
  CHECK(eval("dropped_iterations", "count==7").ok);
  CHECK(eval("dropped_iterations", "count==7", {{"stage", "0"}}).ok);
  CHECK(eval("dropped_iterations", "count==0", {{"scenario", "browse"}}).ok);
  CHECK(eval("data_sent", "count==1000").ok);
  CHECK(eval("data_received", "rate==500").ok);
  CHECK(eval("vus", "value==8").ok);
  CHECK(eval("vus", "value==8").text == "value=8");
  CHECK(eval("vus", "max<6", {{"scenario", "buy"}}).ok);
  CHECK(eval("vus_max", "max==30").ok);
  CHECK(eval("vus_max", "min>=20", {{"scenario", "buy"}}).ok);

  // Every operator against count = 21.
  CHECK_FALSE(eval("http_reqs", "count<21").ok);
  CHECK(eval("http_reqs", "count<=21").ok);
  CHECK(eval("http_reqs", "count>20").ok);
  CHECK_FALSE(eval("http_reqs", "count>=22").ok);
  CHECK_FALSE(eval("http_reqs", "count!=21").ok);
  CHECK(eval("http_reqs", "count!=20").ok);

  // No elapsed time yet: a per-second rate has no data.
  eval.inputs().elapsed_seconds = 0;
  ThresholdResult r = eval("http_reqs", "rate>1");
  CHECK_FALSE(r.has_data);
  CHECK(r.ok);
}

TEST_CASE("evaluation: empty stats, missing inputs and unsupported filters", "[thresholds]") {
  pelt::WorkerStats empty;
  ThresholdInputs in;
  in.stats = &empty;
  in.elapsed_seconds = 1;
  ThresholdConfig th;
  th.metric = "http_req_duration";
  th.parsed = parse_ok("p(95)<1");
  ThresholdResult r = pelt::evaluate_threshold(th, in);
  CHECK_FALSE(r.has_data);
  CHECK(r.ok);
  th.metric = "http_req_failed";
  th.parsed = parse_ok("rate<0.01");
  CHECK_FALSE(pelt::evaluate_threshold(th, in).has_data);
  th.metric = "vus";
  th.parsed = parse_ok("value>0");
  CHECK_FALSE(pelt::evaluate_threshold(th, in).has_data);
  // A count of zero is a measurement: "at least one iteration" fails.
  th.metric = "iterations";
  th.parsed = parse_ok("count>0");
  r = pelt::evaluate_threshold(th, in);
  CHECK(r.has_data);
  CHECK_FALSE(r.ok);
  CHECK(r.text == "count=0");
  // A scenario filter without scenario names selects nothing.
  th.tags = {{"scenario", "a"}};
  CHECK_FALSE(pelt::evaluate_threshold(th, in).has_data);

  ThresholdInputs none;
  th.tags.clear();
  CHECK_FALSE(pelt::evaluate_threshold(th, none).has_data);
  CHECK(pelt::evaluate_threshold(th, none).ok);

  // Combinations pelt cannot compute never pass silently.
  Evaluator eval;
  r = eval("http_req_waiting", "p(95)<100000", {{"stage", "1"}});
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.has_data);
  CHECK_THAT(r.text, Catch::Contains("stage"));
  CHECK_FALSE(eval("checks", "rate>0", {{"scenario", "browse"}}).ok);
  CHECK_FALSE(eval("http_req_failed", "count>0").ok);
}

TEST_CASE("no samples: live the threshold holds; at the end k6's rule applies, with a warning",
          "[thresholds]") {
  Evaluator eval;
  auto at_end = [&](const std::string& metric, const std::string& expression,
                    std::map<std::string, std::string> tags = {}) {
    ThresholdConfig th;
    th.metric = metric;
    th.tags = std::move(tags);
    th.expression = expression;
    th.parsed = parse_ok(expression);
    return pelt::evaluate_threshold(th, eval.inputs(), pelt::ThresholdPhase::kEnd);
  };
  // A typo in a tag value: live it holds, unnoticed; at the end a trend without samples reads 0
  // (so p(95)>100 fails and p(95)<100 holds), and both say why.
  ThresholdResult live = eval("http_req_duration", "p(95)>100", {{"name", "chekout"}});
  CHECK(live.ok);
  CHECK_FALSE(live.has_data);
  CHECK(live.warning.empty());
  ThresholdResult r = at_end("http_req_duration", "p(95)>100", {{"name", "chekout"}});
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.has_data);
  CHECK(r.observed == 0);
  CHECK(r.text == "p(95)=0.00ms, no data");
  CHECK(r.warning == "selected no samples: no request is named \"chekout\" (names: home, issue)");
  r = at_end("http_req_duration", "p(95)<100", {{"name", "chekout"}});
  CHECK(r.ok);
  CHECK_FALSE(r.warning.empty());
  // A rate without samples holds.
  r = at_end("http_req_failed", "rate<0.01", {{"scenario", "nope"}});
  CHECK(r.ok);
  CHECK(r.text == "rate: no data");
  CHECK(r.warning == "selected no samples: no scenario is named \"nope\" (scenarios: browse, buy)");
  r = at_end("checks", "rate>0.99", {{"check", "stauts ok"}});
  CHECK(r.ok);
  CHECK(r.warning ==
        "selected no samples: no check is named \"stauts ok\" (checks: body, status ok)");
  // A counter counts 0: "count<10" holds, "count>0" fails; the typo is named either way.
  r = at_end("http_reqs", "count<10", {{"name", "chekout"}});
  CHECK(r.ok);
  CHECK(r.has_data);
  CHECK(r.warning == "selected no samples: no request is named \"chekout\" (names: home, issue)");
  r = at_end("iterations", "count>0", {{"scenario", "nope"}});
  CHECK_FALSE(r.ok);
  CHECK(r.text == "count=0");
  // ... but no status 404 is often the point: a counter by status warns about nothing.
  r = at_end("http_reqs", "count<1", {{"status", "404"}});
  CHECK(r.ok);
  CHECK(r.warning.empty());
  // A scenario tag value nobody has is named with the values seen.
  r = at_end("http_req_duration", "p(95)<100", {{"team", "wbe"}});
  CHECK(r.warning == "selected no samples: no sample has team = \"wbe\" (values: shop, web)");
  // Filters that each match something, but not together: no samples, no hint.
  r = at_end("http_req_duration", "avg<1", {{"name", "home"}, {"scenario", "buy"}});
  CHECK(r.warning == "selected no samples");
  CHECK(r.ok);  // avg reads 0
  // Everything selected something: no warning.
  for (const char* metric : {"http_req_duration", "http_reqs"}) {
    INFO(metric);
    r = at_end(metric, metric == std::string("http_reqs") ? "count>0" : "p(95)>0",
               {{"name", "issue"}});
    CHECK(r.has_data);
    CHECK(r.warning.empty());
  }
}

TEST_CASE("expected_response and status split the request timings, as k6's sub-metrics do",
          "[thresholds]") {
  using pelt::RequestSplit;
  using pelt::RequestTrend;
  // The splits the [thresholds] keys ask for, each once.
  const auto splits = pelt::request_splits({
      {"http_req_duration", {{"expected_response", "true"}}},
      {"http_req_duration", {{"status", "200"}}},
      {"http_req_duration", {{"name", "home"}}},  // kept anyway: no split
      {"http_req_duration", {{"expected_response", "true"}, {"name", "home"}}},  // the same
      {"http_req_waiting", {{"name", "home"}}},
      {"http_req_blocked", {{"expected_response", "false"}}},
      {"http_reqs", {{"expected_response", "true"}}},  // counted anyway
      {"http_req_receiving", {}},                      // kept anyway
  });
  REQUIRE(splits.size() == 4);
  CHECK(splits[0] == RequestSplit{RequestTrend::kDuration, -1, 1});
  CHECK(splits[1] == RequestSplit{RequestTrend::kDuration, 200, -1});
  CHECK(splits[2] == RequestSplit{RequestTrend::kWaiting, -1, -1});
  CHECK(splits[3] == RequestSplit{RequestTrend::kBlocked, -1, 0});

  // Ten responses of 10, 20 ... 100 ms: 200 for the fast half, 500 for the slow one; two more
  // requests got no response.
  pelt::WorkerStats stats;
  stats.scenarios.resize(1);
  stats.scenarios[0].stages.resize(1);
  pelt::Recorder recorder(stats);
  recorder.set_request_splits(splits);
  pelt::RequestScope scope(0, &stats.scenarios[0]);
  scope.set_name(&stats.scenarios[0].names["home"]);
  for (uint64_t i = 1; i <= 10; ++i) {
    const int status = i <= 5 ? 200 : 500;
    pelt::ResponseTimes t;
    t.duration_us = i * 10000;
    t.waiting_us = i * 1000;
    t.blocked_us = i;
    recorder.record_sent(scope, 1, 100, 0, i);
    recorder.record_response(scope, status, t.duration_us, t.duration_us, i);
    recorder.record_splits(scope, status, t);
  }
  recorder.record_sent(scope, 2, 200, 0, 20);
  recorder.record_failure(scope, pelt::ErrorKind::kRead, "read EOF", "eof", 2, 20);
  recorder.finish_latency();  // (the run's latency comes from the names', as at a snapshot)

  std::vector<std::string> names = {"s"};
  pelt::ThresholdInputs in;
  in.stats = &stats;
  in.scenario_names = &names;
  in.elapsed_seconds = 1;
  auto eval = [&](const std::string& metric, const std::string& expression,
                  std::map<std::string, std::string> tags = {}) {
    ThresholdConfig th;
    th.metric = metric;
    th.tags = std::move(tags);
    th.expression = expression;
    th.parsed = parse_ok(expression);
    return pelt::evaluate_threshold(th, in, pelt::ThresholdPhase::kEnd);
  };
  // k6: the median of 10 ... 100 ms is 55 ms; of the expected half (10 ... 50 ms) 30 ms.
  CHECK(eval("http_req_duration", "med<1").observed == Approx(55));
  CHECK(eval("http_req_duration", "med<1", {{"expected_response", "true"}}).observed == Approx(30));
  CHECK(eval("http_req_duration", "max<1", {{"expected_response", "true"}}).observed == Approx(50));
  CHECK(eval("http_req_duration", "p(95)<1", {{"status", "200"}}).observed == Approx(48));
  // Not kept: no samples, and the end-of-run rule with a warning.
  ThresholdResult r = eval("http_req_duration", "p(95)<1", {{"status", "500"}});
  CHECK_FALSE(r.has_data);
  CHECK(r.warning == "selected no samples");
  CHECK(eval("http_req_waiting", "avg<1", {{"name", "home"}}).observed == Approx(5.5));
  CHECK(eval("http_req_blocked", "min<1", {{"expected_response", "false"}}).observed ==
        Approx(0.006));
  CHECK(eval("http_req_sending", "max<1", {{"status", "200"}}).text == "max=0.00ms");
  // Counters and rates by expected response and status (status 0: no response).
  CHECK(eval("http_reqs", "count==5", {{"expected_response", "true"}}).ok);
  CHECK(eval("http_reqs", "count==7", {{"expected_response", "false"}}).ok);
  CHECK(eval("http_reqs", "count==2", {{"status", "0"}}).ok);
  CHECK(eval("http_reqs", "count==2", {{"status", "0"}, {"name", "home"}}).ok);
  CHECK(eval("http_reqs", "count==0", {{"status", "500"}, {"expected_response", "true"}}).ok);
  CHECK(eval("http_req_failed", "rate==0", {{"expected_response", "true"}}).ok);
  CHECK(eval("http_req_failed", "rate==1", {{"status", "500"}}).ok);
  CHECK(eval("http_req_failed", "rate==0", {{"status", "200"}}).ok);
  CHECK(eval("http_req_failed", "rate<1").observed == Approx(7.0 / 12));
}
