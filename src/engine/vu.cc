#include "engine/vu.h"

#include "engine/executor.h"
#include "engine/scenario.h"

namespace pelt {
namespace {

constexpr uint64_t kNsPerMs = 1000 * 1000;
// A request() that fails ends its iteration after this pause, so a broken script cannot spin
// the loop.
constexpr uint64_t kScriptErrorPauseNs = 10 * kNsPerMs;

}  // namespace

Vu::Vu(VuEnv& env, ScenarioContext& scenario, Executor& executor, uint32_t index,
       Connection& connection)
    : env_(env), scenario_(scenario), executor_(executor), index_(index),
      scope_(scenario.index(), &scenario.stats()), connection_(connection),
      slot_(connection.attach(*this)), timer_(env.clock.make_timer(&Vu::on_timer, this)) {
  set_name(scenario.default_name());
}

void Vu::set_name(NameStats* name) {
  if (scope_.set_name(name)) scope_.set_series(scenario_.series_slot(name, env_.recorder));
}

Vu::~Vu() = default;

void Vu::set_active(bool active) {
  if (active_ == active) return;
  active_ = active;
  inactive_since_ns_ = !active && busy_ ? env_.clock.now_ns() : 0;
  if (active && !busy_) next_step();
}

void Vu::interrupt() {
  if (!busy_) return;
  connection_.abandon(slot_);
  want_send_ = false;
  batch_done_ = false;
  thinking_ = false;
  intended_ns_ = 0;
  inactive_since_ns_ = 0;
  blocked_since_ns_ = 0;
  timer_->stop();  // a think time or delay() wait ends here
  busy_ = false;
}

void Vu::warm_up() {
  // A connection another VU opened is ready already: this VU is free at once.
  if (connection_.ready()) {
    executor_.on_vu_free(*this);
    return;
  }
  connection_.warm_up();
}

void Vu::run_iteration(uint64_t intended_ns) {
  if (busy_) return;  // never two iterations on one VU
  intended_ns_ = intended_ns;
  iteration_start_ns_ = connection_.now_ns();
  busy_ = true;
  if (scenario_.has_delay()) {
    double ms = 0;
    if (!scenario_.script()->delay(ms)) {
      env_.recorder.record_script_error(scenario_.script()->last_error());
      ms = 0;
    }
    if (ms > 0) {
      timer_->start(static_cast<uint64_t>(ms) * kNsPerMs);
      return;
    }
  }
  send_request();
}

void Vu::on_timer(void* ctx) {
  auto* self = static_cast<Vu*>(ctx);
  if (self->busy_ && self->batch_done_) {
    // The think time after an iteration has passed.
    self->record_iteration_duration();
    self->busy_ = false;
    self->batch_done_ = false;
    self->thinking_ = false;
    self->next_step();
    return;
  }
  if (self->busy_) self->send_request();  // delay() before a request has passed
}

void Vu::send_request() {
  if (!env_.run.running()) return;
  if (!connection_.ready()) {
    want_send_ = true;
    if (blocked_since_ns_ == 0) blocked_since_ns_ = connection_.now_ns();
    connection_.open();
    return;
  }
  want_send_ = false;
  const ScenarioSetup& setup = scenario_.setup();
  std::string_view bytes;
  const RequestBatch* batch = scenario_.static_batch().get();
  std::string error;
  int requests = 0;
  if (scenario_.dynamic()) {
    Script& script = *scenario_.script();
    if (!script.request(bytes)) {
      error = script.last_error();
    } else if (bytes.empty()) {
      error = script.path() + ": request() returned an empty string: no request was sent";
    } else if ((batch = scenario_.batch_of(bytes, error).get()) == nullptr) {
      error = script.path() + ": request() returned bytes that are not HTTP requests: " + error;
    }
  } else {
    bytes = batch->bytes;
  }
  // The protocol may still refuse the bytes (HTTP/2 needs whole HTTP/1.1 requests to convert).
  if (error.empty() && (requests = connection_.prepare(*batch)) <= 0) {
    error = "request(): " + connection_.prepare_error();
  }
  if (!error.empty()) {
    env_.recorder.record_script_error(error);
    // The iteration could not produce a request: it ends here, after a short pause.
    batch_done_ = true;
    thinking_ = true;
    ++iterations_;
    env_.recorder.record_iteration(scenario_.index(), env_.clock.now_ns());
    timer_->start(kScriptErrorPauseNs);
    return;
  }
  if (scenario_.dynamic()) {
    Script& script = *scenario_.script();
    std::string_view name = script.request_name();
    const std::span<const TagView> tags = script.request_tags();
    if (name.empty() && tags.empty()) {
      set_name(scenario_.default_name());
    } else {
      // The method of a new name comes from the request line itself.
      const size_t sp = bytes.find(' ');
      set_name(scenario_.name_stats(name.empty() ? std::string_view(setup.default_name) : name,
                                    sp == std::string_view::npos
                                        ? std::string_view(setup.default_method)
                                        : bytes.substr(0, sp),
                                    tags));
    }
  }
  batch_done_ = false;
  // Inside a read callback the read's timestamp is a fraction of a microsecond old: the next
  // request of a closed loop starts where the previous response ended, with no clock read.
  sent_ns_ = connection_.now_ns();
  if (intended_ns_ == 0) intended_ns_ = sent_ns_;
  const uint64_t lag_us = intended_ns_ < sent_ns_ ? (sent_ns_ - intended_ns_) / 1000 : 0;
  env_.recorder.record_sent(scope_, static_cast<uint32_t>(requests),
                            connection_.sent_bytes(bytes.size()), lag_us, sent_ns_);
  blocked_us_ = blocked_since_ns_ != 0 && blocked_since_ns_ < sent_ns_
                    ? (sent_ns_ - blocked_since_ns_) / 1000
                    : 0;
  env_.recorder.record_blocked(blocked_us_, static_cast<uint32_t>(requests));
  blocked_since_ns_ = 0;
  connection_.submit(slot_);
}

void Vu::on_connection_ready() {
  if (want_send_) {
    send_request();
  } else if (!busy_) {
    next_step();
  }
}

void Vu::on_first_byte() {
  first_byte_ns_ = connection_.now_ns();
  env_.recorder.record_first_byte((first_byte_ns_ - sent_ns_) / 1000);
}

void Vu::on_response(const ParsedResponse& r) {
  const uint64_t now = connection_.now_ns();
  const bool first_byte = first_byte_ns_ != 0 && first_byte_ns_ <= now;
  ResponseTimes times;
  times.duration_us = (now - intended_ns_) / 1000;
  times.waiting_us =
      first_byte && first_byte_ns_ > sent_ns_ ? (first_byte_ns_ - sent_ns_) / 1000 : 0;
  times.blocked_us = blocked_us_;
  times.receiving_us = first_byte ? (now - first_byte_ns_) / 1000 : 0;
  first_byte_ns_ = 0;
  env_.recorder.record_receiving(times.receiving_us);
  env_.recorder.record_response(scope_, r.status, times.duration_us, (now - sent_ns_) / 1000, now);
  env_.recorder.record_splits(scope_, r.status, times);
  if (scenario_.capture() && !scenario_.script()->response(r.status, r.headers, r.body)) {
    env_.recorder.record_script_error(scenario_.script()->last_error());
  }
  if (connection_.outstanding(slot_) == 0) batch_done_ = true;
}

void Vu::on_input_done() {
  if (!batch_done_ || want_send_ || thinking_) return;
  if (scenario_.stop_requested()) env_.run.stop_run();
  finish_iteration();
}

void Vu::on_requests_failed(const RequestFailure& f) {
  const uint64_t now = connection_.now_ns();
  if (f.kind == ErrorKind::kTimeout) {
    env_.recorder.record_timeout(scope_, f.unanswered, now);
  } else if (f.counts_error) {
    env_.recorder.record_failure(scope_, f.kind, f.reason, f.detail, f.unanswered, now);
  } else {
    env_.recorder.record_failed_requests(scope_, f.reason, f.unanswered, now);
  }
  // A failed connect leaves the iteration waiting for a connection (want_send_ stays); lost
  // requests end it once none of them is left (on_input_done follows).
  if (busy_ && f.unanswered > 0 && !thinking_ && connection_.outstanding(slot_) == 0) {
    batch_done_ = true;
  }
}

bool Vu::wants_connection() const {
  return !shutting_down_ && env_.run.running() && (want_send_ || active_ || keep_connected_);
}

void Vu::finish_iteration() {
  ++iterations_;
  env_.recorder.record_iteration(scenario_.index(), connection_.now_ns());
  intended_ns_ = 0;
  const ThinkTime& think = scenario_.config().think_time;
  if (think.max.count() > 0 && env_.run.running()) {
    double us = static_cast<double>(think.min.count());
    if (think.max > think.min) {
      us += env_.run.random_unit() * static_cast<double>((think.max - think.min).count());
    }
    thinking_ = true;
    timer_->start(static_cast<uint64_t>(us / 1000.0) * kNsPerMs);
    return;  // busy_ stays true until the think time has passed
  }
  record_iteration_duration();
  busy_ = false;
  batch_done_ = false;
  next_step();
}

void Vu::record_iteration_duration() {
  const uint64_t now = connection_.now_ns();
  env_.recorder.record_iteration_duration(
      scenario_.index(), now > iteration_start_ns_ ? (now - iteration_start_ns_) / 1000 : 0);
}

void Vu::next_step() {
  if (!env_.run.running() || shutting_down_) return;
  executor_.on_vu_free(*this);
}

void Vu::check_timeouts(uint64_t now_ns, uint64_t timeout_ns) {
  const uint64_t waiting = connection_.outstanding(slot_);
  if (waiting > 0 && now_ns - sent_ns_ > timeout_ns) {
    env_.recorder.record_timeout(scope_, waiting, now_ns);
    connection_.time_out(slot_);
    want_send_ = false;
    if (!thinking_) {
      batch_done_ = true;
      finish_iteration();
    }
  }
}

void Vu::shutdown() {
  shutting_down_ = true;
  want_send_ = false;
  timer_->stop();
}

}  // namespace pelt
