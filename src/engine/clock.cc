#include "engine/clock.h"

namespace pelt {
namespace {

constexpr uint64_t kNsPerMs = 1000 * 1000;

class LoopTimer : public Timer {
 public:
  LoopTimer(uv_loop_t* loop, Callback callback, void* ctx) : callback_(callback), ctx_(ctx) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  void start(uint64_t delay_ns) override {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
    uv_timer_start(&timer_, &LoopTimer::on_fire, delay_ns / kNsPerMs, 0);
  }
  void stop() override { uv_timer_stop(&timer_); }
  bool active() const override { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&timer_)) != 0; }

 private:
  static void on_fire(uv_timer_t* timer) {
    auto* self = static_cast<LoopTimer*>(timer->data);
    self->callback_(self->ctx_);
  }

  uv_timer_t timer_;   // the libuv handle (closed by the loop owner at the end of the run)
  Callback callback_;  // what runs when it fires
  void* ctx_;          // passed to callback_
};

}  // namespace

std::unique_ptr<Timer> LoopClock::make_timer(Timer::Callback callback, void* ctx) {
  return std::make_unique<LoopTimer>(loop_, callback, ctx);
}

}  // namespace pelt
