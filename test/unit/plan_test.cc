// Executor math at fake instants: every executor, k6's examples, the arrival schedule.
#include "engine/executors.h"
#include "engine/plan.h"
#include "engine/segment.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace std::chrono_literals;
using pelt::ExecutorKind;
using pelt::ExecutorPlan;

// The plan pelt builds for a scenario.
ExecutorPlan plan_of(const pelt::ScenarioConfig& scenario) {
  return ExecutorPlan(pelt::plan_spec(scenario));
}
using pelt::ScenarioConfig;
using pelt::StageSpec;
using std::chrono::microseconds;

namespace {

ScenarioConfig scenario(ExecutorKind kind) {
  ScenarioConfig s;
  s.name = "test";
  s.executor = kind;
  return s;
}

ScenarioConfig ramping_vus(uint32_t start, std::vector<StageSpec> stages) {
  ScenarioConfig s = scenario(ExecutorKind::kRampingVus);
  s.start_vus = start;
  s.stages = std::move(stages);
  return s;
}

ScenarioConfig ramping_rate(double start_rate, std::vector<StageSpec> stages,
                            microseconds time_unit = 1s) {
  ScenarioConfig s = scenario(ExecutorKind::kRampingArrivalRate);
  s.start_rate = start_rate;
  s.stages = std::move(stages);
  s.time_unit = time_unit;
  s.pre_allocated_vus = 10;
  s.max_vus = 50;
  return s;
}

ScenarioConfig constant_rate(double rate, microseconds time_unit, microseconds duration) {
  ScenarioConfig s = scenario(ExecutorKind::kConstantArrivalRate);
  s.rate = rate;
  s.time_unit = time_unit;
  s.duration = duration;
  return s;
}

// Every iteration's due time, in order, until the plan says there are no more.
std::vector<microseconds> schedule(const ExecutorPlan& plan, uint64_t limit = 1000000) {
  std::vector<microseconds> out;
  for (uint64_t n = 0; n < limit; ++n) {
    auto at = plan.arrival_time(n);
    if (!at) break;
    out.push_back(*at);
  }
  return out;
}

// Iterations due in [from, to).
size_t due_between(const std::vector<microseconds>& times, microseconds from, microseconds to) {
  size_t count = 0;
  for (microseconds t : times) count += (t >= from && t < to) ? 1 : 0;
  return count;
}

// arrival_time(n) is the first whole microsecond at which the integral reaches n.
void check_schedule_consistent(const ExecutorPlan& plan) {
  const auto times = schedule(plan);
  REQUIRE(static_cast<double>(times.size()) ==
          Approx(std::ceil(plan.arrivals_until(plan.duration()) - 1e-6)));
  for (size_t n = 0; n < times.size(); ++n) {
    const microseconds at = times[n];
    INFO("n=" << n << " at=" << at.count() << "us");
    REQUIRE(at >= 0us);
    REQUIRE(at < plan.duration());
    if (n > 0) REQUIRE(at >= times[n - 1]);
    REQUIRE(plan.arrivals_until(at) >= static_cast<double>(n) - 1e-6);
    if (at > 0us) REQUIRE(plan.arrivals_until(at - 1us) < static_cast<double>(n) + 1e-6);
  }
}

}  // namespace

TEST_CASE("constant-vus holds its VUs for the duration", "[plan]") {
  ScenarioConfig s = scenario(ExecutorKind::kConstantVus);
  s.vus = 10;
  s.duration = 30s;
  ExecutorPlan plan = plan_of(s);
  CHECK_FALSE(plan.arrival_rate());
  CHECK(plan.stage_count() == 1);
  CHECK(plan.duration() == 30s);
  CHECK(plan.initial_vus() == 10);
  CHECK(plan.max_vus() == 10);
  for (microseconds t : {-5s, 0s, 1s, 15s, 29s, 30s, 40s}) {
    INFO("t=" << t.count());
    CHECK(plan.target_vus(t) == 10);
    CHECK(plan.target_rate(t) == 0);
    CHECK(plan.arrivals_until(t) == 0);
  }
  CHECK(plan.stage_index(29999999us) == 0);
  CHECK(plan.stage_target(0) == 10);
  CHECK(plan.stage_start(0) == 0us);
  CHECK(plan.stage_start(1) == 30s);
  CHECK_FALSE(plan.arrival_time(0).has_value());
}

TEST_CASE("ramping-vus interpolates and rounds down (k6 examples)", "[plan]") {
  SECTION("0 to 10 over 30s is 5 at 15s") {
    ExecutorPlan plan = plan_of(ramping_vus(0, {{30s, 10}}));
    CHECK(plan.target_vus(0s) == 0);
    CHECK(plan.target_vus(2999999us) == 0);
    CHECK(plan.target_vus(3s) == 1);
    CHECK(plan.target_vus(15s) == 5);
    CHECK(plan.target_vus(29999999us) == 9);
    CHECK(plan.target_vus(30s) == 10);
    CHECK(plan.target_vus(60s) == 10);
    CHECK(plan.target_vus(-1s) == 0);
    CHECK(plan.duration() == 30s);
    CHECK(plan.initial_vus() == 0);
    CHECK(plan.max_vus() == 10);
  }
  SECTION("k6's three-stage example: 30s to 20, 1m30s to 10, 20s to 0") {
    ExecutorPlan plan = plan_of(ramping_vus(0, {{30s, 20}, {90s, 10}, {20s, 0}}));
    CHECK(plan.stage_count() == 3);
    CHECK(plan.duration() == 140s);
    CHECK(plan.stage_start(0) == 0s);
    CHECK(plan.stage_start(1) == 30s);
    CHECK(plan.stage_start(2) == 120s);
    CHECK(plan.stage_start(3) == 140s);
    CHECK(plan.stage_target(0) == 20);
    CHECK(plan.stage_target(1) == 10);
    CHECK(plan.stage_target(2) == 0);
    CHECK(plan.stage_target(7) == 0);
    CHECK(plan.target_vus(15s) == 10);
    CHECK(plan.target_vus(30s) == 20);
    CHECK(plan.target_vus(75s) == 15);
    CHECK(plan.target_vus(120s) == 10);
    CHECK(plan.target_vus(130s) == 5);
    CHECK(plan.target_vus(139s) == 1);  // 0.5 on the way down rounds up, as in k6
    CHECK(plan.target_vus(140s) == 0);
    CHECK(plan.stage_index(0s) == 0);
    CHECK(plan.stage_index(29999999us) == 0);
    CHECK(plan.stage_index(30s) == 1);
    CHECK(plan.stage_index(119s) == 1);
    CHECK(plan.stage_index(120s) == 2);
    CHECK(plan.stage_index(500s) == 2);
    CHECK(plan.max_vus() == 20);
  }
  SECTION("ramp down rounds up: a VU leaves when the line reaches the number below it") {
    ExecutorPlan plan = plan_of(ramping_vus(10, {{30s, 0}}));
    CHECK(plan.target_vus(0s) == 10);
    CHECK(plan.target_vus(2999999us) == 10);
    CHECK(plan.target_vus(3s) == 9);
    CHECK(plan.target_vus(15s) == 5);
    CHECK(plan.target_vus(16s) == 5);
    CHECK(plan.target_vus(17999999us) == 5);
    CHECK(plan.target_vus(18s) == 4);
    CHECK(plan.target_vus(29999999us) == 1);
    CHECK(plan.target_vus(30s) == 0);
    CHECK(plan.initial_vus() == 10);
    CHECK(plan.max_vus() == 10);
  }
  SECTION("start_vus is the starting point and a zero-length stage jumps") {
    ExecutorPlan plan = plan_of(ramping_vus(5, {{10s, 5}, {0s, 20}, {10s, 20}, {10s, 0}}));
    CHECK(plan.target_vus(5s) == 5);
    CHECK(plan.target_vus(10s) == 20);
    CHECK(plan.stage_index(10s) == 2);
    CHECK(plan.target_vus(25s) == 10);
    CHECK(plan.duration() == 30s);
    CHECK(plan.max_vus() == 20);
  }
  SECTION("fractional targets round the cap up") {
    ExecutorPlan plan = plan_of(ramping_vus(0, {{10s, 2.5}}));
    CHECK(plan.max_vus() == 3);
    CHECK(plan.target_vus(10s) == 2);
  }
}

TEST_CASE("ramping-vus: k6's execution plan example, step by step", "[plan]") {
  // k6's TestRampingVUsConfigExecutionPlanExample (lib/executor/ramping_vus_test.go): start
  // with 4 VUs; 2s to 6, 5s to 1, 4s to 5, 4s to 1, 3s to 4, 2s at 4, a jump to 1, 3s at 1.
  ExecutorPlan plan = plan_of(
      ramping_vus(4, {{2s, 6}, {5s, 1}, {4s, 5}, {4s, 1}, {3s, 4}, {2s, 4}, {0s, 1}, {3s, 1}}));
  // k6's raw steps: the VU count from each offset (seconds) until the next.
  const std::vector<std::pair<int, double>> steps = {
      {0, 4},  {1, 5},  {2, 6},  {3, 5},  {4, 4},  {5, 3},  {6, 2},  {7, 1},  {8, 2},  {9, 3},
      {10, 4}, {11, 5}, {12, 4}, {13, 3}, {14, 2}, {15, 1}, {16, 2}, {17, 3}, {18, 4}, {20, 1}};
  CHECK(plan.duration() == 23s);
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto from = microseconds(std::chrono::seconds(steps[i].first));
    const auto to = i + 1 < steps.size() ? microseconds(std::chrono::seconds(steps[i + 1].first))
                                         : microseconds(23s);
    for (microseconds t : {from, from + (to - from) / 2, to - 1us}) {
      INFO("t=" << t.count() << "us");
      CHECK(plan.target_vus(t) == steps[i].second);
    }
  }
  CHECK(plan.initial_vus() == 4);
  CHECK(plan.max_vus() == 6);
}

TEST_CASE("ramping-vus: 4 -> 0 over 2s keeps 4, 3, 2, 1 VUs half a second each; up is the mirror",
          "[plan]") {
  ExecutorPlan down = plan_of(ramping_vus(4, {{2s, 0}}));
  ExecutorPlan up = plan_of(ramping_vus(0, {{2s, 4}}));
  for (int i = 0; i < 4; ++i) {
    const microseconds start = microseconds(500ms) * i;
    for (microseconds t : {start, start + 250ms, start + 499999us}) {
      INFO("t=" << t.count() << "us");
      CHECK(down.target_vus(t) == 4 - i);
      CHECK(up.target_vus(t) == i);
    }
  }
  CHECK(down.target_vus(2s) == 0);
  CHECK(up.target_vus(2s) == 4);
}

TEST_CASE("iteration executors: fixed VUs until max_duration", "[plan]") {
  for (ExecutorKind kind : {ExecutorKind::kPerVuIterations, ExecutorKind::kSharedIterations}) {
    ScenarioConfig s = scenario(kind);
    s.vus = 4;
    s.iterations = 100;
    ExecutorPlan plan = plan_of(s);
    CHECK_FALSE(plan.arrival_rate());
    CHECK(plan.duration() == 10min);
    CHECK(plan.stage_count() == 1);
    CHECK(plan.initial_vus() == 4);
    CHECK(plan.max_vus() == 4);
    CHECK(plan.target_vus(0s) == 4);
    CHECK(plan.target_vus(9min) == 4);
    CHECK(plan.target_rate(1s) == 0);
    CHECK_FALSE(plan.arrival_time(0).has_value());
  }
}

TEST_CASE("constant-arrival-rate spaces iterations evenly", "[plan]") {
  ScenarioConfig s = constant_rate(10, 1s, 10s);
  s.pre_allocated_vus = 5;
  ExecutorPlan plan = plan_of(s);
  CHECK(plan.arrival_rate());
  CHECK(plan.initial_vus() == 5);
  CHECK(plan.max_vus() == 5);  // max_vus 0 means pre_allocated_vus
  CHECK(plan.target_rate(0s) == Approx(10));
  CHECK(plan.target_rate(9999999us) == Approx(10));
  CHECK(plan.target_rate(10s) == 0);
  CHECK(plan.target_vus(1s) == 0);
  CHECK(plan.stage_target(0) == Approx(10));
  CHECK(plan.arrivals_until(0s) == 0);
  CHECK(plan.arrivals_until(1s) == Approx(10));
  CHECK(plan.arrivals_until(1050ms) == Approx(10.5));
  CHECK(plan.arrivals_until(10s) == Approx(100));
  CHECK(plan.arrivals_until(20s) == Approx(100));
  CHECK(plan.arrival_time(0) == 0us);
  CHECK(plan.arrival_time(1) == 100ms);
  CHECK(plan.arrival_time(3) == 300ms);
  CHECK(plan.arrival_time(37) == 3700ms);
  CHECK(plan.arrival_time(99) == 9900ms);
  CHECK_FALSE(plan.arrival_time(100).has_value());
  CHECK_FALSE(plan.arrival_time(1000000).has_value());
  check_schedule_consistent(plan);

  SECTION("rates are per time_unit") {
    ScenarioConfig m = constant_rate(1000, 1min, 1min);
    m.pre_allocated_vus = 100;
    m.max_vus = 1000;
    ExecutorPlan per_minute = plan_of(m);
    CHECK(per_minute.target_rate(0s) == Approx(1000.0 / 60));
    CHECK(per_minute.max_vus() == 1000);
    CHECK(per_minute.initial_vus() == 100);
    const auto times = schedule(per_minute);
    CHECK(times.size() == 1000);
    CHECK(times[999] < 60s);
    CHECK(due_between(times, 0s, 30s) == 500);
    check_schedule_consistent(per_minute);
  }
}

TEST_CASE("ramping-arrival-rate gives each stage exactly its iterations", "[plan]") {
  SECTION("0 to 10/s over 10s, hold 10s, down to 0 over 10s") {
    ExecutorPlan plan = plan_of(ramping_rate(0, {{10s, 10}, {10s, 10}, {10s, 0}}));
    CHECK(plan.stage_count() == 3);
    CHECK(plan.duration() == 30s);
    CHECK(plan.target_rate(5s) == Approx(5));
    CHECK(plan.target_rate(15s) == Approx(10));
    CHECK(plan.target_rate(25s) == Approx(5));
    CHECK(plan.arrivals_until(5s) == Approx(12.5));
    CHECK(plan.arrivals_until(10s) == Approx(50));
    CHECK(plan.arrivals_until(20s) == Approx(150));
    CHECK(plan.arrivals_until(25s) == Approx(187.5));
    CHECK(plan.arrivals_until(30s) == Approx(200));
    const auto times = schedule(plan);
    CHECK(times.size() == 200);
    CHECK(due_between(times, 0s, 10s) == 50);
    CHECK(due_between(times, 10s, 20s) == 100);
    CHECK(due_between(times, 20s, 30s) == 50);
    // A quadratic ramp: iteration n of the first stage is due at sqrt(2n) seconds.
    CHECK(times[0] == 0us);
    CHECK(times[2] == 2s);
    CHECK(times[18] == 6s);
    CHECK(times[50] == 10s);
    CHECK(times[51] == 10100ms);
    check_schedule_consistent(plan);
  }
  SECTION("per-minute rates (1/s to 10/s over a minute)") {
    ExecutorPlan plan = plan_of(ramping_rate(60, {{1min, 600}}, 1min));
    CHECK(plan.target_rate(0s) == Approx(1));
    CHECK(plan.target_rate(30s) == Approx(5.5));
    CHECK(plan.arrivals_until(30s) == Approx(97.5));
    CHECK(plan.arrivals_until(60s) == Approx(330));
    CHECK(schedule(plan).size() == 330);
    check_schedule_consistent(plan);
  }
  SECTION("spike: 10/s for 10s, up to 500/s within 5s, hold 30s, down to 10/s in 10s") {
    ExecutorPlan plan = plan_of(ramping_rate(10, {{10s, 10}, {5s, 500}, {30s, 500}, {10s, 10}}));
    const auto times = schedule(plan);
    CHECK(times.size() == 100 + 1275 + 15000 + 2550);
    CHECK(due_between(times, 0s, 10s) == 100);
    CHECK(due_between(times, 10s, 15s) == 1275);
    CHECK(due_between(times, 15s, 45s) == 15000);
    CHECK(due_between(times, 45s, 55s) == 2550);
    CHECK(plan.stage_index(12s) == 1);
    CHECK(plan.target_rate(12500ms) == Approx(255));
    check_schedule_consistent(plan);
  }
  SECTION("a silent stage delays the first iteration") {
    ExecutorPlan plan = plan_of(ramping_rate(0, {{5s, 0}, {10s, 10}}));
    CHECK(plan.arrivals_until(5s) == 0);
    CHECK(plan.arrival_time(0) == 5s);
    CHECK(plan.arrival_time(2) == 7s);
    CHECK(schedule(plan).size() == 50);
    check_schedule_consistent(plan);
  }
  SECTION("no rate at all schedules nothing") {
    ExecutorPlan plan = plan_of(ramping_rate(0, {{10s, 0}}));
    CHECK(plan.arrivals_until(10s) == 0);
    CHECK_FALSE(plan.arrival_time(0).has_value());
  }
  SECTION("fractional totals: the last partial iteration is not scheduled") {
    ExecutorPlan plan = plan_of(ramping_rate(0, {{3s, 1}}));  // 1.5 iterations
    CHECK(plan.arrival_time(0) == 0us);
    CHECK(plan.arrival_time(1).has_value());
    CHECK(std::abs((*plan.arrival_time(1) - 2449490us).count()) <= 1);  // sqrt(6) s
    CHECK_FALSE(plan.arrival_time(2).has_value());
    check_schedule_consistent(plan);
  }
}

TEST_CASE("arrivals_until and arrival_time agree at many instants", "[plan]") {
  ExecutorPlan plan = plan_of(ramping_rate(3, {{7s, 40}, {0s, 5}, {11s, 5}, {13s, 90}, {9s, 0}}));
  const auto times = schedule(plan);
  for (int64_t ms = 0; ms <= 41000; ms += 250) {
    const microseconds t = std::chrono::milliseconds(ms);
    const double a = plan.arrivals_until(t);
    const size_t due = due_between(times, 0us, t);
    INFO("t=" << ms << "ms arrivals_until=" << a << " due=" << due);
    CHECK(static_cast<double>(due) >= a - 1e-6);
    CHECK(static_cast<double>(due) <= a + 1);
  }
  check_schedule_consistent(plan);
}

TEST_CASE("Segment::share splits work with the remainder to the first parts", "[plan]") {
  CHECK(pelt::Segment{0, 3}.share32(10) == 4);
  CHECK(pelt::Segment{1, 3}.share32(10) == 3);
  CHECK(pelt::Segment{2, 3}.share32(10) == 3);
  CHECK(pelt::Segment{0, 4}.share32(2) == 1);
  CHECK(pelt::Segment{1, 4}.share32(2) == 1);
  CHECK(pelt::Segment{2, 4}.share32(2) == 0);
  CHECK(pelt::Segment{3, 4}.share32(2) == 0);
  CHECK(pelt::Segment{0, 0}.share32(5) == 0);
  CHECK(pelt::Segment{2, 2}.share32(5) == 0);
  CHECK(pelt::Segment{0, 3}.share32(0) == 0);
  CHECK(pelt::Segment{0, 1}.share32(std::numeric_limits<uint64_t>::max()) ==
        std::numeric_limits<uint32_t>::max());
  for (uint64_t n = 0; n < 40; ++n) {
    for (uint32_t workers = 1; workers < 9; ++workers) {
      uint64_t total = 0;
      for (uint32_t w = 0; w < workers; ++w) {
        const uint32_t share = pelt::Segment{w, workers}.share32(n);
        CHECK(share <= pelt::Segment{0, workers}.share32(n));
        CHECK(share + 1 >= pelt::Segment{0, workers}.share32(n));
        total += share;
      }
      CHECK(total == n);
    }
  }
}
