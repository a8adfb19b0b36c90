// The scenario-file loader's side of capacity-search: its keys, their checks, and a file it
// can search with (the only scenario, objectives a probe's window can judge).
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"
#include "engine/executors.h"

using namespace std::chrono_literals;

namespace {

constexpr const char* kHead = R"([target]
url = "http://127.0.0.1:8080/pool"
)";

constexpr const char* kThresholds = R"(
[thresholds]
http_req_duration = ["p(95)<200"]
)";

std::string scenario(const std::string& extra) {
  return std::string(
             "[scenarios.search]\nexecutor = \"capacity-search\"\nstart_rate = 50\nmax_rate = "
             "5000\n") +
         "hold = \"10s\"\npre_allocated_vus = 20\n" + extra;
}

std::string load_error(const std::string& text, pelt::RunConfig* out = nullptr) {
  pelt::RunConfig config;
  std::string error;
  const bool ok = pelt::load_run_config(text, "t.toml", ".", {}, config, error);
  CHECK(ok == error.empty());
  if (out) *out = config;
  return error;
}

}  // namespace

TEST_CASE("capacity-search: keys, defaults and rates per time_unit", "[config][capacity]") {
  pelt::RunConfig config;
  REQUIRE(
      load_error(std::string(kHead) +
                     scenario("max_vus = 300\nstep_factor = 2\nsettle = \"3s\"\nprecision = 0.1\n"
                              "time_unit = \"1m\"\n") +
                     kThresholds,
                 &config) == "");
  const pelt::ScenarioConfig& s = config.scenarios.at(0);
  CHECK(s.executor == pelt::ExecutorKind::kCapacitySearch);
  CHECK(s.start_rate == 50);
  CHECK(s.max_rate == 5000);
  CHECK(s.step_factor == 2);
  CHECK(s.precision == 0.1);
  CHECK(s.hold == 10s);
  CHECK(s.settle == 3s);
  CHECK(s.max_vus == 300);
  const pelt::PlanSpec plan = pelt::plan_spec(s);
  CHECK(plan.open_loop);
  CHECK(plan.schedule != nullptr);
  CHECK(plan.initial_vus == 20);
  CHECK(plan.max_vus == 300);
  REQUIRE(plan.stages.size() == 1);
  CHECK(plan.stages[0].target == Approx(5000.0 / 60));  // per second

  REQUIRE(load_error(std::string(kHead) + scenario("") + kThresholds, &config) == "");
  CHECK(config.scenarios[0].step_factor == 1.5);
  CHECK(config.scenarios[0].precision == 0.05);
  CHECK(config.scenarios[0].settle == 2s);
}

TEST_CASE("capacity-search: bad values and files it cannot search with", "[config][capacity]") {
  const std::string head(kHead);
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {head +
           "[scenarios.search]\nexecutor = \"capacity-search\"\nstart_rate = 5\nhold = \"5s\"\n"
           "pre_allocated_vus = 1\n" +
           kThresholds,
       "t.toml:3:1: scenario \"search\" (capacity-search) needs max_rate, e.g. max_rate = 5000"},
      {head + scenario("step_factor = 1\n") + kThresholds,
       "t.toml:9:15: scenarios.search.step_factor must be above 1 (and at most 100), got 1"},
      {head + scenario("precision = 5\n") + kThresholds,
       "t.toml:9:13: scenarios.search.precision must be between 0 and 1 (a share: 0.05 = 5%), got "
       "5"},
      {head + scenario("settle = \"1.5s\"\n") + kThresholds,
       "t.toml:9:10: scenarios.search.settle must be a whole number of seconds (probes are judged "
       "on "
       "whole seconds of the time series), e.g. \"10s\""},
      {head +
           "[scenarios.search]\nexecutor = \"capacity-search\"\nstart_rate = 50\nmax_rate = 10\n"
           "hold = \"5s\"\npre_allocated_vus = 1\n" +
           kThresholds,
       "t.toml:6:12: scenarios.search.max_rate (10) must be at least start_rate (50)"},
      {head + scenario(""),
       "t.toml:3:1: scenario \"search\" (capacity-search) needs objectives: add [thresholds], e.g. "
       "http_req_duration = [\"p(95)<200\"] and http_req_failed = [\"rate<0.01\"]"},
      {head + scenario("") +
           "\n[scenarios.other]\nexecutor = \"constant-vus\"\nduration = \"5s\"\n" + kThresholds,
       "t.toml:10:1: scenario \"search\" is a capacity-search: it must be the only scenario of the "
       "file "
       "(any other load would change what it measures)"},
      {head + scenario("") + "\n[thresholds]\nchecks = [\"rate>0.99\"]\n",
       "t.toml:11:10: threshold on checks: capacity-search judges each probe on the per-second "
       "time "
       "series, which does not keep checks; use http_reqs, http_req_duration, http_req_failed, "
       "send_lag, "
       "iterations, dropped_iterations, interrupted_iterations, data_received, data_sent, vus, "
       "vus_max"},
      {head + scenario("") +
           "\n[thresholds]\nhttp_req_failed = [{ threshold = \"rate<0.01\", abort_on_fail = true "
           "}]\n",
       "t.toml:11:19: threshold on http_req_failed: abort_on_fail does not apply to "
       "capacity-search, which "
       "judges its thresholds on each probe and expects some probes to cross them"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(load_error(c.text) == c.error);
  }
}
