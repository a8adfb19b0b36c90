// Executors and VUs on fake time: the real ClosedLoopExecutor / OpenLoopExecutor, Vu,
// Connection and HTTP/1.1 session, over a FakeTransport whose simulated server answers after a
// set delay. Nothing sleeps; each test moves the FakeClock and checks what the engine did.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <tuple>

#include "executor_sim.h"

namespace {

using namespace std::chrono_literals;
using pelt::ExecutorKind;
using pelt::ScenarioConfig;
using pelt::test::kMs;
using pelt::test::Sim;

ScenarioConfig constant_vus(uint32_t vus, std::chrono::microseconds duration,
                            std::chrono::microseconds graceful_stop) {
  ScenarioConfig c;
  c.name = "s";
  c.executor = ExecutorKind::kConstantVus;
  c.vus = vus;
  c.duration = duration;
  c.graceful_stop = graceful_stop;
  return c;
}

// constant-arrival-rate: `rate` per second for `duration`, with `vus` VUs (pre-allocated = max).
ScenarioConfig arrival_rate(double rate, std::chrono::microseconds duration, uint32_t vus,
                            std::chrono::microseconds graceful_stop) {
  ScenarioConfig c;
  c.name = "open";
  c.executor = ExecutorKind::kConstantArrivalRate;
  c.rate = rate;
  c.time_unit = 1s;
  c.duration = duration;
  c.pre_allocated_vus = vus;
  c.max_vus = vus;
  c.graceful_stop = graceful_stop;
  return c;
}

void check_ledger(const pelt::WorkerStats& s) {
  INFO("sent " << s.ledger.sent << " completed " << s.ledger.completed << " failed " << s.ledger.failed
                << " timed out " << s.ledger.timed_out << " in flight " << s.ledger.in_flight);
  CHECK(s.ledger.balanced());
}

}  // namespace

TEST_CASE("closed loop: VUs iterate back to back until the plan ends", "[executor]") {
  Sim sim(constant_vus(2, 1s, 0s));
  sim.server().response_ns = 10 * kMs;
  sim.run_for(2000ms);
  REQUIRE(sim.executor().done());
  // Each VU connects (0.1 ms) then runs 10 ms iterations for 1 s: about 100 each.
  CHECK(sim.scenario().iterations >= 196);
  CHECK(sim.scenario().iterations <= 200);
  CHECK(sim.stats().ledger.completed == sim.scenario().iterations);
  CHECK(sim.scenario().vus_max == 2);
  CHECK(sim.stats().latency.min() >= 9'900);
  CHECK(sim.stats().latency.max() <= 10'100);
  check_ledger(sim.stats());
}

TEST_CASE("closed loop: graceful_stop lets the last iteration finish, then cuts it", "[executor]") {
  SECTION("the response arrives within graceful_stop") {
    Sim sim(constant_vus(1, 100ms, 500ms));
    sim.server().response_ns = 300 * kMs;
    sim.run_for(2000ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.scenario().iterations == 1);
    CHECK(sim.scenario().interrupted_iterations == 0);
    CHECK(sim.stats().ledger.in_flight == 0);
    check_ledger(sim.stats());
  }
  SECTION("it does not: the iteration is cut at the end of the grace, its request in flight") {
    Sim sim(constant_vus(1, 100ms, 500ms));
    sim.server().answer = false;
    sim.run_for(2000ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.elapsed_ms() == Approx(600).margin(11));
    CHECK(sim.scenario().iterations == 0);
    CHECK(sim.scenario().interrupted_iterations == 1);
    CHECK(sim.stats().ledger.in_flight == 1);
    check_ledger(sim.stats());
  }
}

// ramping-vus: `vus` VUs for `hold`, down to 0 in 10 ms, then 0 for 2 s.
ScenarioConfig ramp_down(uint32_t vus, std::chrono::milliseconds hold,
                         std::chrono::milliseconds grace) {
  ScenarioConfig c;
  c.name = "ramp";
  c.executor = ExecutorKind::kRampingVus;
  c.start_vus = vus;
  c.stages = {{hold, static_cast<double>(vus)}, {10ms, 0}, {2s, 0}};
  c.graceful_ramp_down = grace;
  c.graceful_stop = 0s;
  return c;
}

TEST_CASE("ramping-vus: a ramp-down cuts an iteration once graceful_ramp_down ran out", "[executor]") {
  Sim sim(ramp_down(2, 200ms, 300ms));
  sim.server().answer = false;  // both VUs hang in their first iteration
  sim.run_for(400ms);
  CHECK(sim.scenario().interrupted_iterations == 0);
  sim.run_for(200ms);  // 600 ms: deactivated at ~210 ms, grace over at ~510 ms
  CHECK(sim.scenario().interrupted_iterations == 2);
  CHECK(sim.stats().ledger.in_flight == 2);
  CHECK(sim.scenario().vus_max == 2);
  check_ledger(sim.stats());
}

TEST_CASE("ramping-vus: within graceful_ramp_down the iteration completes", "[executor]") {
  Sim sim(ramp_down(1, 100ms, 1000ms));
  sim.server().response_ns = 300 * kMs;
  sim.run_for(1200ms);
  CHECK(sim.scenario().interrupted_iterations == 0);
  CHECK(sim.scenario().iterations == 1);  // started at 0, answered at 300 ms; no new one
  CHECK(sim.stats().ledger.completed == 1);
  check_ledger(sim.stats());
}

TEST_CASE("per-vu-iterations and shared-iterations end when the quota is used up", "[executor]") {
  // 3 VUs, 4 iterations each (12), or 10 shared: the scenario ends long before max_duration.
  const auto [kind, iterations, expected] =
      GENERATE(std::make_tuple(ExecutorKind::kPerVuIterations, 4, 12),
               std::make_tuple(ExecutorKind::kSharedIterations, 10, 10));
  ScenarioConfig c;
  c.executor = kind;
  c.vus = 3;
  c.iterations = static_cast<uint64_t>(iterations);
  c.max_duration = 10s;
  Sim sim(c);
  sim.run_for(1000ms);
  REQUIRE(sim.executor().done());
  CHECK(sim.scenario().iterations == static_cast<uint64_t>(expected));
  CHECK(sim.stats().ledger.sent == static_cast<uint64_t>(expected));
}

TEST_CASE("open loop: arrivals go to idle VUs on schedule, latency from the schedule", "[executor]") {
  ScenarioConfig c = arrival_rate(100, 1s, 5, 1s);
  Sim sim(c);
  sim.server().response_ns = 5 * kMs;
  sim.run_for(3000ms);
  REQUIRE(sim.executor().done());
  CHECK(sim.scenario().iterations == 100);
  CHECK(sim.scenario().dropped_iterations == 0);
  CHECK(sim.scenario().vus_max == 5);
  // Every request was sent at its due time, but the first, which waited for a connection
  // (0.1 ms), and took the server's 5 ms.
  CHECK(sim.stats().send_lag.max() == 100);
  CHECK(sim.stats().send_lag.percentile(99) == 0);
  CHECK(sim.stats().latency.percentile(50) == Approx(5000).epsilon(0.01));
  check_ledger(sim.stats());
}

TEST_CASE("open loop: arrivals beyond max_vus are dropped, and the plan still ends on time", "[executor]") {
  ScenarioConfig c = arrival_rate(50, 1s, 2, 0s);
  Sim sim(c);
  sim.server().answer = false;  // every VU stays busy with its first request
  sim.run_for(2000ms);
  REQUIRE(sim.executor().done());
  CHECK(sim.elapsed_ms() == Approx(1000).margin(11));
  CHECK(sim.stats().ledger.sent == 2);
  // 50 arrivals: 2 ran, 48 found no VU and none could be opened.
  CHECK(sim.scenario().dropped_iterations == 48);
  CHECK(sim.scenario().interrupted_iterations == 2);
  check_ledger(sim.stats());
}

TEST_CASE("open loop: a late server is measured from the intended send time", "[executor]") {
  ScenarioConfig c = arrival_rate(10, 1s, 1, 5s);
  c.queue_when_busy = true;  // quick mode's -R: arrivals wait for the VU
  Sim sim(c);
  sim.server().response_ns = 250 * kMs;  // one VU, 4 per second: falls behind 10 per second
  sim.run_for(5000ms);
  REQUIRE(sim.executor().done());
  // Sends at 0, 0.25, 0.5 and 0.75 s; the 6 arrivals still waiting when the plan ends at 1 s
  // were never sent: dropped.
  CHECK(sim.scenario().iterations == 4);
  CHECK(sim.scenario().dropped_iterations == 6);
  // Arrival 3 was due at 0.3 s and sent at 0.75 s: 450 ms late, answered 250 ms later.
  CHECK(sim.stats().send_lag.max() == Approx(450'000).epsilon(0.01));
  CHECK(sim.stats().latency.max() == Approx(700'000).epsilon(0.01));
  CHECK(sim.stats().service.max() == Approx(250'000).epsilon(0.01));
  check_ledger(sim.stats());
}

TEST_CASE("requests without an answer time out and the VU goes on", "[executor]") {
  Sim sim(constant_vus(1, 1s, 0s));
  sim.timeout_ns = 200 * kMs;
  sim.server().answer = false;
  sim.run_for(1000ms);
  REQUIRE(sim.executor().done());
  // Timeouts are checked on the 10 ms tick: 200-210 ms each, then a reconnect.
  CHECK(sim.stats().ledger.timed_out == 4);
  CHECK(sim.stats().errors.timeout == 4);
  CHECK(sim.scenario().iterations == 4);
  CHECK(sim.server().connects == 5);
  check_ledger(sim.stats());
}

TEST_CASE("VUs sharing an HTTP/1.1 connection pipeline their requests", "[executor]") {
  Sim sim(constant_vus(4, 1s, 0s), {}, /*streams=*/2);
  sim.server().response_ns = 10 * kMs;
  sim.run_for(2000ms);
  REQUIRE(sim.executor().done());
  // Two connections, two VUs each; every VU still runs 10 ms iterations.
  CHECK(sim.server().connects == 2);
  CHECK(sim.scenario().iterations >= 392);
  CHECK(sim.scenario().iterations <= 400);
  CHECK(sim.stats().ledger.completed == sim.scenario().iterations);
  CHECK(sim.stats().latency.max() <= 10'100);
  check_ledger(sim.stats());
}

TEST_CASE("a timeout on a shared HTTP/1.1 connection times out the pipeline behind it", "[executor]") {
  Sim sim(constant_vus(2, 1s, 0s), {}, /*streams=*/2);
  sim.timeout_ns = 200 * kMs;
  sim.server().answer = false;
  sim.run_for(1000ms);
  REQUIRE(sim.executor().done());
  // Both VUs wait on one connection; the first timeout closes it and takes both requests.
  CHECK(sim.stats().ledger.timed_out == 8);
  CHECK(sim.stats().errors.timeout == 8);
  CHECK(sim.stats().ledger.failed == 0);
  CHECK(sim.server().connects == 5);
  check_ledger(sim.stats());
}

TEST_CASE("open loop: VUs opened on a connection that is ready take arrivals at once", "[executor]") {
  ScenarioConfig c = arrival_rate(100, 1s, 4, 1s);
  Sim sim(c, {}, /*streams=*/4);
  sim.server().response_ns = 5 * kMs;
  sim.run_for(3000ms);
  REQUIRE(sim.executor().done());
  CHECK(sim.scenario().iterations == 100);
  CHECK(sim.scenario().dropped_iterations == 0);
  CHECK(sim.server().connects == 1);
  CHECK(sim.stats().send_lag.percentile(99) == 0);
  check_ledger(sim.stats());
}

TEST_CASE("iteration executors: iterations max_duration left unstarted are dropped, as in k6",
          "[executor]") {
  // 3 VUs, 100 ms iterations, max_duration 450 ms: each VU started its 5th iteration at about
  // 400 ms; graceful_stop 0 cuts those.
  SECTION("per-vu-iterations: 10 each, 5 started, 5 dropped per VU") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kPerVuIterations;
    c.vus = 3;
    c.iterations = 10;
    c.max_duration = 450ms;
    c.graceful_stop = 0s;
    Sim sim(c);
    sim.server().response_ns = 100 * kMs;
    sim.run_for(1000ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.scenario().iterations == 12);
    CHECK(sim.scenario().interrupted_iterations == 3);
    CHECK(sim.scenario().dropped_iterations == 15);
    CHECK(sim.scenario().stages[0].dropped_iterations == 15);
    check_ledger(sim.stats());
  }
  SECTION("shared-iterations: 20 shared, 15 started, 5 dropped") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kSharedIterations;
    c.vus = 3;
    c.iterations = 20;
    c.max_duration = 450ms;
    c.graceful_stop = 1s;  // the iterations in progress finish: still not dropped
    Sim sim(c);
    sim.server().response_ns = 100 * kMs;
    sim.run_for(2000ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.scenario().iterations == 15);
    CHECK(sim.scenario().interrupted_iterations == 0);
    CHECK(sim.scenario().dropped_iterations == 5);
    check_ledger(sim.stats());
  }
  SECTION("every iteration done before max_duration: nothing dropped") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kPerVuIterations;
    c.vus = 2;
    c.iterations = 3;
    c.max_duration = 10s;
    Sim sim(c);
    sim.server().response_ns = 10 * kMs;
    sim.run_for(1000ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.scenario().iterations == 6);
    CHECK(sim.scenario().dropped_iterations == 0);
  }
}

TEST_CASE("ramping-vus: start_vus defaults to 1 and a ramp-down keeps VUs as k6 does",
          "[executor]") {
  SECTION("stages only, 1 -> 0 over 1 s: one VU works the whole second") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kRampingVus;
    c.stages = {{1s, 0}};
    c.graceful_stop = 0s;
    Sim sim(c);
    sim.server().response_ns = 10 * kMs;
    sim.run_for(1500ms);
    REQUIRE(sim.executor().done());
    CHECK(sim.scenario().vus_max == 1);
    CHECK(sim.scenario().iterations >= 98);
    CHECK(sim.scenario().iterations <= 101);
  }
  SECTION("4 -> 0 over 2 s: 4, 3, 2 and 1 VUs half a second each (500 iterations of 10 ms)") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kRampingVus;
    c.start_vus = 4;
    c.stages = {{2s, 0}};
    c.graceful_stop = 0s;
    Sim sim(c);
    sim.server().response_ns = 10 * kMs;
    sim.run_for(3000ms);
    REQUIRE(sim.executor().done());
    // (rounding down would give 3, 2, 1 and 0 VUs: 300 iterations)
    CHECK(sim.scenario().iterations >= 490);
    CHECK(sim.scenario().iterations <= 504);
    check_ledger(sim.stats());
  }
}
