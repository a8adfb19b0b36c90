// A Transport without a socket, for unit tests: a simulated server on a FakeClock accepts each
// connect after `connect_ns`, answers each request after `response_ns` (or never), and every
// step is a timer, so tests run the real VU, Connection and HTTP/1.1 session on fake time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/fake_clock.h"
#include "wire/transport.h"

namespace pelt::test {

// How the simulated server behaves.
struct FakeServer {
  uint64_t connect_ns = 100'000;        // accept after this long
  uint64_t response_ns = 1'000'000;     // answer each request after this long
  bool answer = true;                   // false: never answer (requests hang)
  std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  uint64_t requests = 0;                // requests received (one per send)
  uint64_t connects = 0;                // connects accepted or pending
  // A fixed capacity, like pelt-target's /pool: with slots > 0 each request holds one of
  // `slots` shared slots for response_ns, first come first served, so the server answers at
  // most slots / response_ns requests per second and queues beyond.
  uint32_t slots = 0;
  std::vector<uint64_t> slot_free_ns;   // when each slot is free again (ns)

  // How long from now_ns until a request sent at now_ns is answered.
  uint64_t answer_delay(uint64_t now_ns) {
    if (slots == 0) return response_ns;
    if (slot_free_ns.size() != slots) slot_free_ns.assign(slots, 0);
    auto slot = std::min_element(slot_free_ns.begin(), slot_free_ns.end());
    const uint64_t done = std::max(*slot, now_ns) + response_ns;
    *slot = done;
    return done - now_ns;
  }
};

class FakeTransport : public Transport {
 public:
  FakeTransport(TransportEvents& events, FakeClock& clock, FakeServer& server)
      : Transport(events, clock), clock_(clock), server_(server),
        accept_timer_(clock.make_timer(&FakeTransport::on_accept, this)),
        close_timer_(clock.make_timer(&FakeTransport::on_closed, this)) {}

  void connect(const sockaddr*, const sockaddr*) override {
    if (state_ != State::kClosed) return;
    stop_backoff();
    state_ = State::kConnecting;
    connect_start_ns_ = clock_.now_ns();
    ++server_.connects;
    accept_timer_->start(server_.connect_ns);
  }
  bool send(const std::shared_ptr<const void>&, std::string_view) override {
    ++server_.requests;
    if (server_.answer) {
      // Answers already delivered are dropped (a timer may be destroyed from its callback).
      std::erase_if(answers_, [](const std::unique_ptr<Timer>& t) { return !t->active(); });
      auto timer = clock_.make_timer(&FakeTransport::on_answer, this);
      timer->start(server_.answer_delay(clock_.now_ns()));
      answers_.push_back(std::move(timer));
    }
    return true;
  }
  void close() override {
    if (state_ == State::kClosed || state_ == State::kClosing) return;
    state_ = State::kClosing;
    answers_.clear();  // answers of a closed connection never arrive
    accept_timer_->stop();
    close_timer_->start(0);  // closes asynchronously, like uv_close
  }
  void shutdown() override {
    state_ = State::kClosed;
    answers_.clear();
    accept_timer_->stop();
    close_timer_->stop();
    stop_backoff();
  }
  void check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) override {
    if (connecting() && now_ns - connect_start_ns_ > timeout_ns) {
      note_connect_failure();
      events_.on_transport_error(ErrorKind::kConnect, "connect timeout", "connect: no answer within the timeout");
    }
  }

 private:
  static void on_accept(void* ctx) {
    auto* self = static_cast<FakeTransport*>(ctx);
    if (self->state_ != State::kConnecting) return;
    self->state_ = State::kReady;
    self->note_connected();
    self->events_.on_transport_ready();
  }
  static void on_answer(void* ctx) {
    auto* self = static_cast<FakeTransport*>(ctx);
    if (self->state_ != State::kReady) return;
    self->in_read_ = true;
    self->read_ns_ = self->clock_.now_ns();
    self->events_.on_transport_bytes(self->server_.response.data(), self->server_.response.size());
    self->in_read_ = false;
  }
  static void on_closed(void* ctx) {
    auto* self = static_cast<FakeTransport*>(ctx);
    self->state_ = State::kClosed;
    self->events_.on_transport_closed();
  }

  FakeClock& clock_;
  FakeServer& server_;
  std::unique_ptr<Timer> accept_timer_;        // the simulated accept
  std::unique_ptr<Timer> close_timer_;         // the asynchronous close
  std::vector<std::unique_ptr<Timer>> answers_;  // pending answers (fired ones until the next send)
  uint64_t connect_start_ns_ = 0;              // when the connect began
};

class FakeTransportFactory : public TransportFactory {
 public:
  FakeTransportFactory(FakeClock& clock, FakeServer& server) : clock_(clock), server_(server) {}
  std::unique_ptr<Transport> make(TransportEvents& events) override {
    return std::make_unique<FakeTransport>(events, clock_, server_);
  }

 private:
  FakeClock& clock_;
  FakeServer& server_;
};

}  // namespace pelt::test
