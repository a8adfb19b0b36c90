#include "target/exchange.h"

#include <algorithm>

#include "target/pool.h"
#include "target/text.h"

namespace pelt::target {
namespace {

// Filler for generated bodies: 'a'..'z' repeating, long enough for any offset + one step.
struct Filler {
  char bytes[kFillerStepBytes + 26];  // the pattern
  Filler() {
    for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<char>('a' + i % 26);
  }
};
const Filler kFiller;

}  // namespace

std::string_view filler(uint64_t offset, size_t n) {
  return {kFiller.bytes + offset % 26, n};
}

std::string_view reason_phrase(int status) {
  if (status == 103) return "Early Hints";  // newer than http_parser's table
  const char* s = http_status_str(static_cast<http_status>(status));
  return s[0] == '<' ? std::string_view("Status") : std::string_view(s);
}

Exchange::~Exchange() {
  abandon();
}

std::optional<std::string_view> Exchange::header(std::string_view name) const {
  for (size_t i = 0; i < header_count_; ++i) {
    if (iequals(headers_[i].name, name)) return std::string_view(headers_[i].value);
  }
  return std::nullopt;
}

void Exchange::split_target() {
  std::string_view url = url_;
  if (!url.empty() && url[0] != '/') {
    // Absolute form ("http://host/path?q"): keep the path and query parts.
    http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url_.data(), url_.size(), 0, &u) == 0 &&
        (u.field_set & (1 << UF_PATH))) {
      url = url.substr(u.field_data[UF_PATH].off);
    } else if (u.field_set & (1 << UF_HOST)) {
      url = "/";
    }
  }
  size_t q = url.find('?');
  path_ = url.substr(0, q);
  query_ = q == std::string_view::npos ? std::string_view{} : url.substr(q + 1);
  size_t hash = query_.find('#');
  if (hash != std::string_view::npos) query_ = query_.substr(0, hash);
}

void Exchange::wait_then(uint64_t ns, int phase) {
  wait_until(uv_hrtime() + ns, phase);
}

void Exchange::wait_until(uint64_t due_ns, int phase) {
  hold();
  wait_phase_ = phase;
  stop_waiting();
  wait_it_ = add_wait(*loop_, due_ns, this);
  waiting_ = true;
}

void Exchange::stop_waiting() {
  if (!waiting_) return;
  cancel_wait(*loop_, wait_it_);
  waiting_ = false;
}

void Exchange::end_wait() {
  waiting_ = false;
  resume(wait_phase_);  // may end (destroy) this exchange: nothing may follow
}

void Exchange::take_pool_slot() {
  SlotPool& pool = *loop_->state->pool();
  uint64_t ticket = loop_->next_ticket++;
  if (pool.acquire(loop_, ticket)) {
    pool_holding_ = true;
    pool_due_ns_ = uv_hrtime() + pool.hold_ns();
    wait_until(pool_due_ns_, kPhaseAfterPool);
    return;
  }
  pool_ticket_ = ticket;
  loop_->pool_tickets.emplace(ticket, this);
  hold();
}

void Exchange::pool_slot_granted(uint64_t free_ns) {
  pool_ticket_ = 0;
  pool_holding_ = true;
  pool_due_ns_ = free_ns + loop_->state->pool()->hold_ns();
  wait_until(pool_due_ns_, kPhaseAfterPool);
}

void Exchange::release_pool_slot() {
  if (!pool_holding_) return;
  pool_holding_ = false;
  // Given back on time: the next request's hold starts at the deadline. Given back early (the
  // request went away): it starts now.
  loop_->state->pool()->release(std::min(pool_due_ns_, uv_hrtime()));
}

void Exchange::abandon() {
  stop_waiting();
  if (pool_ticket_ != 0) {
    loop_->pool_tickets.erase(pool_ticket_);
    // Not queued any more means the grant is on its way: the loop passes it on on arrival.
    loop_->state->pool()->cancel(loop_, pool_ticket_);
    pool_ticket_ = 0;
  }
  release_pool_slot();
}

}  // namespace pelt::target
