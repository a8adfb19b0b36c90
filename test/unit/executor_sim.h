// The executor simulation the executor and segment tests share: one scenario on one worker,
// driven on a FakeClock the way the worker drives it, over a FakeTransport whose simulated
// server answers after a set delay.
#pragma once

#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "engine/executors.h"
#include "engine/fake_clock.h"
#include "engine/scenario.h"
#include "engine/segment.h"
#include "fake_transport.h"
#include "results/recorder.h"

namespace pelt::test {

using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;  // ns

class FakeRun : public pelt::RunControl {
 public:
  bool running() const override { return on; }
  void stop_run() override { on = false; }
  double random_unit() override { return 0.5; }
  const sockaddr* bind_address(uint32_t) const override { return nullptr; }
  bool on = true;  // the run is in progress
};

// One scenario on one worker, driven the way the worker drives it: a control tick every 10 ms
// and the open-loop arrivals at their due time.
class Sim {
 public:
  // segment: this worker's part of the scenario (the whole by default); streams: VUs per
  // connection.
  explicit Sim(ScenarioConfig config, pelt::Segment segment = {}, uint32_t streams = 1)
      : config_(std::move(config)), plan_(pelt::plan_spec(config_)) {
    env_.streams = streams;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(1);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    std::memcpy(&handle_.addr.storage, &a, sizeof(a));
    handle_.addr.length = sizeof(a);
    pelt::ScenarioSetup setup;
    setup.config = &config_;
    setup.handle = &handle_;
    setup.batch_heads = {false};
    setup.static_batch = pelt::make_owned_batch("GET / HTTP/1.1\r\nHost: x\r\n\r\n", {false});
    setup.default_name = "/";
    setup.default_method = "GET";
    stats_.scenarios.resize(1);
    scenario_ = std::make_unique<pelt::ScenarioContext>(0, std::move(setup), stats_.scenarios[0]);
    executor_ = pelt::make_executor(plan_, env_, *scenario_, segment);
    start_ns_ = clock_.now_ns();
    executor_->start(start_ns_);
    executor_->tick(start_ns_);
  }

  // Runs the worker's loop for `d` of fake time (1 ms steps).
  void run_for(std::chrono::milliseconds d) {
    const uint64_t end = clock_.now_ns() + static_cast<uint64_t>(d.count()) * kMs;
    while (clock_.now_ns() < end && !executor_->done()) {
      const uint64_t next = clock_.now_ns() + kMs;
      // Arrivals due within this step go out at their due time.
      for (uint64_t due = executor_->next_due_ns(); due != 0 && due <= next;
           due = executor_->next_due_ns()) {
        clock_.advance_to(due);
        executor_->dispatch_due(clock_.now_ns());
        if (executor_->next_due_ns() == due) break;
      }
      clock_.advance_to(next);
      if ((clock_.now_ns() - start_ns_) % (10 * kMs) == 0) {
        executor_->tick(clock_.now_ns());
        executor_->check_timeouts(clock_.now_ns(), timeout_ns);
      }
    }
  }
  // Ends the run the way the worker does when stopped.
  void stop() {
    run_.on = false;
    executor_->finish();
  }

  FakeServer& server() { return server_; }
  pelt::Executor& executor() { return *executor_; }
  // The worker's figures, with the run's latency made from the names' (as a worker publishes).
  const pelt::WorkerStats& stats() {
    recorder_.finish_latency();
    return stats_;
  }
  const pelt::ScenarioStats& scenario() const { return stats_.scenarios[0]; }
  double elapsed_ms() { return static_cast<double>(clock_.now_ns() - start_ns_) / kMs; }
  uint64_t timeout_ns = 60'000 * kMs;

 private:
  ScenarioConfig config_;
  pelt::ExecutorPlan plan_;
  pelt::FakeClock clock_;
  FakeServer server_;
  FakeTransportFactory transports_{clock_, server_};
  FakeRun run_;
  pelt::WorkerStats stats_;
  pelt::Recorder recorder_{stats_};
  pelt::VuEnv env_{clock_, recorder_, transports_, run_};
  pelt::ThreadHandle handle_;
  std::unique_ptr<pelt::ScenarioContext> scenario_;
  std::unique_ptr<pelt::Executor> executor_;
  uint64_t start_ns_ = 0;
};

}  // namespace pelt::test
