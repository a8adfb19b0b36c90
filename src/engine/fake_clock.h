// A Clock whose time moves only when told: unit tests drive executors, VUs and connections on
// it without sleeping, and fire timers in deadline order as time advances.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/clock.h"

namespace pelt {

class FakeClock : public Clock {
 public:
  explicit FakeClock(uint64_t start_ns = 1'000'000'000) : now_(start_ns) {}

  uint64_t now_ns() override { return now_; }
  std::unique_ptr<Timer> make_timer(Timer::Callback callback, void* ctx) override {
    return std::make_unique<FakeTimer>(*this, callback, ctx);
  }

  // Moves time to `t_ns`, firing every timer due on the way in deadline order (a timer armed by
  // a callback for a time before t_ns fires too). Time never goes back.
  void advance_to(uint64_t t_ns) {
    for (;;) {
      FakeTimer* next = nullptr;
      for (FakeTimer* timer : timers_) {
        if (timer->armed_ && timer->deadline_ <= t_ns && (!next || timer->deadline_ < next->deadline_)) {
          next = timer;
        }
      }
      if (!next) break;
      now_ = std::max(now_, next->deadline_);
      next->armed_ = false;
      next->callback_(next->ctx_);
    }
    now_ = std::max(now_, t_ns);
  }
  void advance(uint64_t delta_ns) { advance_to(now_ + delta_ns); }
  // Armed timers.
  size_t pending() const {
    return static_cast<size_t>(std::count_if(timers_.begin(), timers_.end(), [](const FakeTimer* t) { return t->armed_; }));
  }

 private:
  class FakeTimer : public Timer {
   public:
    FakeTimer(FakeClock& clock, Callback callback, void* ctx) : clock_(clock), callback_(callback), ctx_(ctx) {
      clock_.timers_.push_back(this);
    }
    ~FakeTimer() override { std::erase(clock_.timers_, this); }
    void start(uint64_t delay_ns) override {
      deadline_ = clock_.now_ + delay_ns;
      armed_ = true;
    }
    void stop() override { armed_ = false; }
    bool active() const override { return armed_; }

   private:
    friend class FakeClock;
    FakeClock& clock_;       // the clock it runs on
    Callback callback_;      // what runs when it fires
    void* ctx_;              // passed to callback_
    uint64_t deadline_ = 0;  // when it fires, ns
    bool armed_ = false;     // started and not yet fired or stopped
  };

  uint64_t now_;                     // the current time, ns
  std::vector<FakeTimer*> timers_;   // every live timer
};

}  // namespace pelt
