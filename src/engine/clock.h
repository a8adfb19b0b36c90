// Time for the engine: a Clock reads the monotonic time and makes one-shot timers. The worker
// runs on a LoopClock (uv_hrtime and libuv timers on its own loop); unit tests run executors and
// VUs on a FakeClock whose time moves only when the test says so (engine/fake_clock.h).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

namespace pelt {

// A one-shot timer. The callback runs on the clock's thread, never from inside start() or stop().
class Timer {
 public:
  using Callback = void (*)(void* ctx);
  virtual ~Timer() = default;
  // Arms the timer to fire once after delay_ns (re-arming replaces the previous deadline).
  virtual void start(uint64_t delay_ns) = 0;
  virtual void stop() = 0;
  virtual bool active() const = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in nanoseconds (CLOCK_MONOTONIC; the same clock as uv_hrtime()).
  virtual uint64_t now_ns() = 0;
  // A new stopped timer calling callback(ctx) when it fires.
  virtual std::unique_ptr<Timer> make_timer(Timer::Callback callback, void* ctx) = 0;
};

// The real clock of one libuv loop. Its timers have libuv's millisecond resolution (a delay is
// cut to whole milliseconds); they are closed by the loop owner's end-of-run walk over every
// handle, so a timer may be destroyed only after its loop stopped running.
class LoopClock : public Clock {
 public:
  explicit LoopClock(uv_loop_t* loop) : loop_(loop) {}
  uint64_t now_ns() override { return uv_hrtime(); }
  std::unique_ptr<Timer> make_timer(Timer::Callback callback, void* ctx) override;

 private:
  uv_loop_t* loop_;  // the loop timers run on
};

}  // namespace pelt
