// capacity-search end to end on fake time: the real CapacitySearchExecutor, VUs, connections
// and HTTP/1.1 session against a simulated server with a fixed capacity (slots held a fixed
// time, first come first served, like pelt-target's /pool), the Recorder's time series, and
// the CapacityController judging each probe as the main thread would. Nothing sleeps: the
// search over a minute or two of fake time takes a moment.
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>

#include "engine/capacity_controller.h"
#include "executor_sim.h"

namespace {

using namespace std::chrono_literals;
using pelt::test::FakeRun;
using pelt::test::kMs;

pelt::ThresholdConfig threshold(const std::string& metric, const std::string& text) {
  pelt::ThresholdConfig t;
  t.metric = t.key = metric;
  t.expression = text;
  std::string error;
  size_t pos = 0;
  REQUIRE(pelt::parse_threshold(text, t.parsed, error, pos));
  return t;
}

pelt::ScenarioConfig search_config(double start, double max, double step, uint32_t max_vus) {
  pelt::ScenarioConfig c;
  c.name = "search";
  c.executor = pelt::ExecutorKind::kCapacitySearch;
  c.start_rate = start;
  c.max_rate = max;
  c.step_factor = step;
  c.precision = 0.05;
  c.hold = 4s;
  c.settle = 2s;
  c.pre_allocated_vus = std::min<uint32_t>(10, max_vus);
  c.max_vus = max_vus;
  c.graceful_stop = 1s;
  return c;
}

// One worker and the main thread's controller, driven the way the runner drives them.
class SearchSim {
 public:
  SearchSim(pelt::ScenarioConfig config, std::vector<pelt::ThresholdConfig> thresholds)
      : config_(std::move(config)), plan_(pelt::plan_spec(config_)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(1);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    std::memcpy(&handle_.addr.storage, &a, sizeof(a));
    handle_.addr.length = sizeof(a);
    pelt::ScenarioSetup setup;
    setup.config = &config_;
    setup.handle = &handle_;
    setup.static_batch = pelt::make_owned_batch("GET /pool HTTP/1.1\r\nHost: x\r\n\r\n", {false});
    setup.batch_heads = {false};
    setup.default_name = "/pool";
    setup.default_method = "GET";
    stats_.scenarios.resize(1);
    start_ns_ = clock_.now_ns();
    recorder_.series().start(start_ns_, 1);
    scenario_ = std::make_unique<pelt::ScenarioContext>(0, std::move(setup), stats_.scenarios[0]);
    executor_ = pelt::make_executor(plan_, env_, *scenario_, pelt::Segment{});
    pelt::CapacityController::Options o;
    o.scenario = config_;
    o.thresholds = std::move(thresholds);
    o.scenario_names = {"search"};
    o.scenario_tags = {{}};
    o.max_vus = plan_.max_vus();
    o.schedule = plan_.schedule();
    controller_ = std::make_unique<pelt::CapacityController>(std::move(o));
    controller_->begin();
    executor_->start(start_ns_);
    executor_->tick(start_ns_);
  }

  // Runs until the scenario is done or `limit` of fake time passed; returns the fake seconds.
  double run(std::chrono::seconds limit) {
    const uint64_t end = start_ns_ + static_cast<uint64_t>(limit.count()) * 1000 * kMs;
    while (clock_.now_ns() < end && !executor_->done()) {
      const uint64_t next = clock_.now_ns() + kMs;
      for (uint64_t due = executor_->next_due_ns(); due != 0 && due <= next;
           due = executor_->next_due_ns()) {
        clock_.advance_to(due);
        executor_->dispatch_due(clock_.now_ns());
        if (executor_->next_due_ns() == due) break;
      }
      clock_.advance_to(next);
      const uint64_t since = clock_.now_ns() - start_ns_;
      if (since % (10 * kMs) == 0) executor_->tick(clock_.now_ns());
      if (since % (100 * kMs) == 0) main_thread_tick();
    }
    return static_cast<double>(clock_.now_ns() - start_ns_) / 1e9;
  }

  pelt::test::FakeServer& server() { return server_; }
  pelt::CapacityResult result() const { return controller_->result(); }
  const pelt::WorkerStats& stats() const { return stats_; }

 private:
  // The worker's 100 ms tick and the main thread's poll.
  void main_thread_tick() {
    const uint64_t now = clock_.now_ns();
    recorder_.series().set_gauges(0, executor_->live_vus(), stats_.scenarios[0].vus_max,
                                  stats_.scenarios[0].target, true);
    recorder_.series().roll(now);
    for (pelt::ClosedSecond& s : recorder_.series().take_closed()) {
      complete_ = std::max(complete_, s.index + 1);
      series_.add(std::move(s));
    }
    const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
    for (const std::string& line :
         controller_->poll(elapsed, series_, complete_, executor_->outstanding())) {
      UNSCOPED_INFO(line);
    }
  }

  pelt::ScenarioConfig config_;
  pelt::ExecutorPlan plan_;
  pelt::FakeClock clock_;
  pelt::test::FakeServer server_;
  pelt::test::FakeTransportFactory transports_{clock_, server_};
  FakeRun run_;
  pelt::WorkerStats stats_;
  pelt::Recorder recorder_{stats_};
  pelt::VuEnv env_{clock_, recorder_, transports_, run_};
  pelt::ThreadHandle handle_;
  std::unique_ptr<pelt::ScenarioContext> scenario_;
  std::unique_ptr<pelt::Executor> executor_;
  std::unique_ptr<pelt::CapacityController> controller_;
  pelt::TimeSeries series_;  // the main thread's time series
  uint64_t complete_ = 0;    // seconds closed so far
  uint64_t start_ns_ = 0;
};

std::vector<pelt::ThresholdConfig> objectives() {
  return {threshold("http_req_duration", "p(95)<200"), threshold("http_req_failed", "rate<0.01")};
}

}  // namespace

TEST_CASE("capacity-search finds a fixed capacity within 10% in bounded time", "[capacity][sim]") {
  // (slots, hold ms): 4 x 50 ms = 80/s, 7 x 20 ms = 350/s.
  const auto [slots, hold_ms, start] =
      GENERATE(std::make_tuple(4u, 50u, 20.0), std::make_tuple(7u, 20u, 50.0));
  const double capacity = slots * 1000.0 / hold_ms;
  INFO("capacity " << capacity << "/s");
  SearchSim sim(search_config(start, 5000, 2, 500), objectives());
  sim.server().slots = slots;
  sim.server().response_ns = hold_ms * kMs;
  const auto bound = pelt::search_time_bound(search_config(start, 5000, 2, 500));
  const double took = sim.run(std::chrono::duration_cast<std::chrono::seconds>(bound));
  const pelt::CapacityResult r = sim.result();
  INFO("took " << took << " s, " << r.probes.size() << " probes: " << pelt::capacity_headline(r));
  REQUIRE(r.complete);
  REQUIRE(r.max_sustainable_rate);
  CHECK(*r.max_sustainable_rate >= 0.9 * capacity);
  CHECK(*r.max_sustainable_rate <= 1.1 * capacity);
  REQUIRE(r.first_failing_rate);
  CHECK(*r.first_failing_rate > capacity);
  CHECK(r.limited_by == "objectives");
  CHECK(took < static_cast<double>(bound.count()) / 1e6);
  CHECK(r.probes.size() <=
        pelt::max_probes(pelt::search_params(search_config(start, 5000, 2, 500))));
  // Each judged window is its hold, 4 s of whole run seconds after a 2 s settle, or the part of
  // it after which the probe could no longer pass.
  size_t early = 0;
  for (const pelt::ProbeResult& p : r.probes) {
    CHECK(p.window_from_s == p.start_s + 2);
    if (p.early) {
      ++early;
      CHECK(p.verdict != pelt::ProbeVerdict::kPass);
      CHECK(p.window_to_s > p.window_from_s);
      CHECK(p.window_to_s < p.start_s + 6);
    } else {
      CHECK(p.window_to_s == p.start_s + 6);
    }
  }
  CHECK(early >= 1);  // far above the capacity, a probe fails within a second or two
  CHECK(sim.stats().ledger.balanced());
}

TEST_CASE("capacity-search: VUs running out is the generator's limit, not the server's",
          "[capacity][sim]") {
  // The server answers everything in 10 ms; 5 VUs can send at most 500/s.
  SearchSim sim(search_config(100, 100000, 2, 5), objectives());
  sim.server().response_ns = 10 * kMs;
  sim.run(300s);
  const pelt::CapacityResult r = sim.result();
  INFO(pelt::capacity_headline(r));
  REQUIRE(r.complete);
  CHECK(r.limited_by == "generator");
  REQUIRE(r.max_sustainable_rate);
  CHECK(*r.max_sustainable_rate <= 500);
  CHECK(*r.max_sustainable_rate >= 400);
  REQUIRE(r.failing_probe);
  CHECK(r.probes[*r.failing_probe].verdict == pelt::ProbeVerdict::kGenerator);
  CHECK(r.probes[*r.failing_probe].reason.find("VUs were busy") != std::string::npos);
}

TEST_CASE("capacity-search: when the starting rate fails there is no sustainable rate",
          "[capacity][sim]") {
  SearchSim sim(search_config(200, 1000, 2, 500), objectives());
  sim.server().slots = 1;
  sim.server().response_ns = 50 * kMs;  // 20/s
  sim.run(120s);
  const pelt::CapacityResult r = sim.result();
  REQUIRE(r.complete);
  CHECK_FALSE(r.max_sustainable_rate);
  CHECK(r.first_failing_rate == 200);
  CHECK(r.probes.size() == 1);
  CHECK(r.limited_by == "objectives");
}
