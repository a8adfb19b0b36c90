// Execution segments: N instances (--segment I/N), each with its own thread count, together run
// exactly the single-instance plan. Pure functions first (every stage, N from 1 to 64, sums
// exact), then the real executors on fake time.
#include "engine/segment.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "engine/executors.h"
#include "engine/fleet.h"
#include "engine/plan.h"
#include "executor_sim.h"

namespace {

using namespace std::chrono_literals;
using pelt::ExecutorKind;
using pelt::ExecutorPlan;
using pelt::ScenarioConfig;
using pelt::Segment;
using std::chrono::microseconds;

// Thread counts per instance: the same for all, or different from instance to instance.
enum class Threads { kOne, kThree, kMixed };

uint32_t threads_of(Threads layout, uint32_t instance) {
  switch (layout) {
    case Threads::kOne:
      return 1;
    case Threads::kThree:
      return 3;
    case Threads::kMixed:
      return 1 + instance % 4;
  }
  return 1;
}

// Every worker's segment of a fleet of n instances.
std::vector<Segment> fleet(uint32_t n, Threads layout) {
  std::vector<Segment> parts;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t t = threads_of(layout, i);
    for (uint32_t w = 0; w < t; ++w) parts.push_back(Segment::compose({i, n}, {w, t}));
  }
  return parts;
}

// The workers of instance i of n.
std::vector<Segment> instance_parts(uint32_t i, uint32_t n, Threads layout) {
  std::vector<Segment> parts;
  const uint32_t t = threads_of(layout, i);
  for (uint32_t w = 0; w < t; ++w) parts.push_back(Segment::compose({i, n}, {w, t}));
  return parts;
}

ScenarioConfig ramping_vus() {
  ScenarioConfig s;
  s.executor = ExecutorKind::kRampingVus;
  s.start_vus = 3;
  s.stages = {{10s, 37}, {7s, 5}, {3s, 64}, {2s, 64}, {5s, 0}};
  return s;
}

ScenarioConfig ramping_rate() {
  ScenarioConfig s;
  s.executor = ExecutorKind::kRampingArrivalRate;
  s.start_rate = 5;
  s.stages = {{4s, 60}, {3s, 60}, {2s, 7}, {3s, 0}};
  s.pre_allocated_vus = 10;
  s.max_vus = 100;
  return s;
}

// The global arrival schedule of a plan.
std::vector<microseconds> schedule(const ExecutorPlan& plan) {
  std::vector<microseconds> out;
  for (uint64_t n = 0;; ++n) {
    auto at = plan.arrival_time(n);
    if (!at) break;
    out.push_back(*at);
  }
  return out;
}

}  // namespace

TEST_CASE("parse_segment reads I/N and refuses what is not a segment", "[segment]") {
  Segment s;
  std::string error;
  REQUIRE(pelt::parse_segment("0/1", s, error));
  CHECK(s == Segment{0, 1});
  REQUIRE(pelt::parse_segment("3/4", s, error));
  CHECK(s == Segment{3, 4});
  CHECK(s.text() == "3/4");
  for (const char* bad :
       {"", "4/4", "5/4", "1/0", "-1/4", "1", "1/", "/4", "a/4", "1/4x", "1/100001"}) {
    INFO(bad);
    error.clear();
    CHECK_FALSE(pelt::parse_segment(bad, s, error));
    CHECK(error.find("segment") != std::string::npos);
  }
}

TEST_CASE("composed segments take every item exactly once, whatever the thread counts",
          "[segment]") {
  for (Threads layout : {Threads::kOne, Threads::kThree, Threads::kMixed}) {
    for (uint32_t n = 1; n <= 64; ++n) {
      INFO("N=" << n << " layout=" << static_cast<int>(layout));
      const std::vector<Segment> parts = fleet(n, layout);
      for (uint64_t k = 0; k < 12ull * n + 7; ++k) {
        int owners = 0;
        for (const Segment& p : parts) owners += p.takes(k) ? 1 : 0;
        REQUIRE(owners == 1);
      }
      const uint64_t big_n = n;
      for (uint64_t total : {uint64_t{0}, uint64_t{1}, uint64_t{2}, big_n - 1, big_n, big_n + 1,
                             7 * big_n + 3, uint64_t{1000}, uint64_t{12345}}) {
        uint64_t sum = 0;
        for (const Segment& p : parts) sum += p.share(total);
        REQUIRE(sum == total);
      }
      // An instance's threads together take exactly the instance's items.
      for (uint32_t i = 0; i < n; ++i) {
        for (uint64_t total : {uint64_t{5}, uint64_t{64}, uint64_t{999}}) {
          uint64_t sum = 0;
          for (const Segment& p : instance_parts(i, n, layout)) sum += p.share(total);
          REQUIRE(sum == Segment{i, n}.share(total));
        }
      }
    }
  }
}

TEST_CASE("ramping-vus: at every instant of every stage the VU targets add up to the whole",
          "[segment]") {
  const ExecutorPlan plan(pelt::plan_spec(ramping_vus()));
  for (Threads layout : {Threads::kOne, Threads::kMixed}) {
    for (uint32_t n = 1; n <= 64; ++n) {
      const std::vector<Segment> parts = fleet(n, layout);
      for (size_t st = 0; st < plan.stage_count(); ++st) {
        const microseconds from = plan.stage_start(st), to = plan.stage_start(st + 1);
        for (int step = 0; step <= 50; ++step) {
          const microseconds t = from + (to - from) * step / 50;
          const auto total = static_cast<uint64_t>(plan.target_vus(t));
          uint64_t sum = 0;
          // As the closed-loop executor computes it: its share, capped by its share of max_vus.
          for (const Segment& p : parts)
            sum += std::min(p.share32(total), p.share32(plan.max_vus()));
          INFO("N=" << n << " stage " << st << " t=" << t.count() << "us target " << total);
          REQUIRE(sum == total);
        }
      }
    }
  }
}

TEST_CASE("ramping-arrival-rate: the instances' arrivals interleave into the single schedule",
          "[segment]") {
  const ExecutorPlan plan(pelt::plan_spec(ramping_rate()));
  const std::vector<microseconds> times = schedule(plan);
  REQUIRE(times.size() > 300);
  auto stage_of = [&](microseconds t) { return plan.stage_index(t); };
  std::vector<uint64_t> per_stage(plan.stage_count(), 0);
  for (microseconds t : times) ++per_stage[stage_of(t)];
  for (Threads layout : {Threads::kOne, Threads::kThree, Threads::kMixed}) {
    for (uint32_t n = 1; n <= 64; ++n) {
      INFO("N=" << n << " layout=" << static_cast<int>(layout));
      std::vector<uint64_t> got(plan.stage_count(), 0);
      std::vector<int> owners(times.size(), 0);
      for (const Segment& p : fleet(n, layout)) {
        // As the open-loop executor walks it: first_item(), then every stride().
        for (uint64_t k = p.first_item(); k < times.size(); k += p.stride()) {
          ++owners[k];
          ++got[stage_of(times[k])];
        }
      }
      for (int o : owners) REQUIRE(o == 1);
      CHECK(got == per_stage);
      // Instance i's arrivals are every n-th of the schedule: evenly spaced where the rate is
      // constant (stage 1 holds 60/s: n/60 s apart, to the microsecond).
      for (uint32_t i = 0; i < n; ++i) {
        std::vector<microseconds> mine;
        for (uint64_t k = i; k < times.size(); k += n) {
          if (stage_of(times[k]) == 1) mine.push_back(times[k]);
        }
        for (size_t a = 1; a + 1 < mine.size(); ++a) {
          const auto gap = (mine[a + 1] - mine[a]).count();
          REQUIRE(std::abs(gap - static_cast<long>(1e6 * n / 60.0)) <= 1);
        }
      }
    }
  }
}

TEST_CASE("shared and per-VU iterations split exactly, never to a part without VUs", "[segment]") {
  for (Threads layout : {Threads::kOne, Threads::kMixed}) {
    for (uint32_t n = 1; n <= 64; ++n) {
      const std::vector<Segment> parts = fleet(n, layout);
      for (uint64_t vus : {uint64_t{1}, uint64_t{3}, uint64_t{10}, uint64_t{64}, uint64_t{100}}) {
        for (uint64_t iterations : {vus, vus + 1, 7 * vus + 5, uint64_t{1000}}) {
          uint64_t shared = 0, per_vu = 0;
          for (const Segment& p : parts) {
            const uint64_t quota = p.iteration_quota(vus, iterations);
            INFO("N=" << n << " vus " << vus << " iterations " << iterations << " part "
                      << p.text());
            if (p.share(vus) == 0) REQUIRE(quota == 0);
            shared += quota;
            per_vu += p.share(vus) * 4;  // per-vu-iterations = 4: each VU runs 4
          }
          REQUIRE(shared == iterations);
          REQUIRE(per_vu == vus * 4);
        }
      }
    }
  }
}

TEST_CASE("executors of 4 instances with 1 to 3 threads run the single plan on fake time",
          "[segment]") {
  using pelt::test::Sim;
  auto run_all = [](const ScenarioConfig& c, const std::vector<Segment>& parts,
                    std::chrono::milliseconds d) {
    uint64_t iterations = 0, dropped = 0;
    for (const Segment& p : parts) {
      Sim sim(c, p);
      sim.server().response_ns = 2 * pelt::test::kMs;
      sim.run_for(d);
      REQUIRE(sim.executor().done());
      iterations += sim.scenario().iterations;
      dropped += sim.scenario().dropped_iterations;
    }
    return std::make_pair(iterations, dropped);
  };
  const std::vector<Segment> whole = {Segment{}};
  SECTION("ramping-arrival-rate") {
    ScenarioConfig c = ramping_rate();
    c.stages = {{1s, 200}, {1s, 200}, {500ms, 0}};
    c.graceful_stop = 1s;
    const auto expected = schedule(ExecutorPlan(pelt::plan_spec(c))).size();
    const auto single = run_all(c, whole, 5000ms);
    const auto split = run_all(c, fleet(4, Threads::kMixed), 5000ms);
    CHECK(single.first == expected);
    CHECK(split.first == expected);
    CHECK(split.second == 0);
  }
  SECTION("shared-iterations with fewer VUs than workers") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kSharedIterations;
    c.vus = 5;
    c.iterations = 23;
    c.max_duration = 10s;
    CHECK(run_all(c, fleet(4, Threads::kMixed), 2000ms).first == 23);
  }
  SECTION("per-vu-iterations") {
    ScenarioConfig c;
    c.executor = ExecutorKind::kPerVuIterations;
    c.vus = 7;
    c.iterations = 3;
    c.max_duration = 10s;
    CHECK(run_all(c, fleet(4, Threads::kMixed), 2000ms).first == 21);
  }
}

TEST_CASE("the start time reads UTC times and Unix seconds", "[segment]") {
  using namespace std::chrono;
  system_clock::time_point t;
  std::string error;
  auto unix_us = [&] { return duration_cast<microseconds>(t.time_since_epoch()).count(); };
  REQUIRE(pelt::parse_start_time("2026-03-01T12:00:00Z", t, error));
  CHECK(unix_us() == 1772366400LL * 1000000);
  REQUIRE(pelt::parse_start_time("2026-03-01T12:00:00.25Z", t, error));
  CHECK(unix_us() == 1772366400LL * 1000000 + 250000);
  REQUIRE(pelt::parse_start_time("@1772366400.5", t, error));
  CHECK(unix_us() == 1772366400LL * 1000000 + 500000);
  for (const char* bad :
       {"", "now", "2026-03-01T12:00:00", "2026-03-01 12:00:00Z", "2026-13-01T12:00:00Z",
        "2026-03-01T12:00:00+01:00", "2026-03-01T12:00:00.Z", "@", "@-5", "@abc"}) {
    INFO(bad);
    CHECK_FALSE(pelt::parse_start_time(bad, t, error));
  }
  pelt::FleetOptions f;
  REQUIRE(pelt::apply_fleet_flag("--start-at", "@1772366400", f, error));
  CHECK(f.start_at.has_value());
  REQUIRE(pelt::apply_fleet_flag("--start-at", "now", f, error));
  CHECK_FALSE(f.start_at.has_value());
}
