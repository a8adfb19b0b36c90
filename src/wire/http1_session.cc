#include <algorithm>

#include "wire/session.h"

namespace pelt {

Http1Session::Http1Session(SessionEvents& events)
    : events_(events), parser_(&Http1Session::on_response, this) {
  parser_.set_on_first_byte(&Http1Session::on_first_byte);
}

void Http1Session::add_slot() {
  ++slots_;
  per_slot_.push_back(0);
}

void Http1Session::reset() {
  parser_.reset();
  order_start_ = 0;
  order_.clear();
  for (uint32_t& n : per_slot_) n = 0;
}

int Http1Session::prepare(const RequestBatch& batch) {
  prepared_ = &batch;
  return static_cast<int>(batch.heads.size());
}

bool Http1Session::submit(uint32_t slot) {
  const std::vector<bool>& heads = prepared_->heads;
  if (heads.size() == 1) {
    parser_.push_request(heads[0]);  // the common case: one request
  } else {
    for (bool head : heads) parser_.push_request(head);
  }
  if (slots_ > 1) {
    // The ring holds the slots of the outstanding requests, oldest at order_start_.
    const size_t n = heads.size();
    const size_t waiting = parser_.outstanding() - n;
    if (order_.size() < waiting + n) {
      std::vector<uint32_t> grown(std::max<size_t>(16, 2 * (waiting + n)));
      for (size_t i = 0; i < waiting; ++i) grown[i] = order_[(order_start_ + i) % order_.size()];
      order_.swap(grown);
      order_start_ = 0;
    }
    for (size_t i = 0; i < n; ++i) order_[(order_start_ + waiting + i) % order_.size()] = slot;
    per_slot_[slot] += static_cast<uint32_t>(n);
  }
  return events_.write(prepared_->owner, prepared_->bytes);
}

size_t Http1Session::outstanding(uint32_t slot) const {
  return slots_ > 1 ? per_slot_[slot] : parser_.outstanding();
}

void Http1Session::on_response(void* ctx, const ParsedResponse& response) {
  auto* self = static_cast<Http1Session*>(ctx);
  uint32_t slot = 0;
  if (self->slots_ > 1) {
    slot = self->order_[self->order_start_];
    self->order_start_ = (self->order_start_ + 1) % self->order_.size();
    --self->per_slot_[slot];
  }
  self->events_.on_response(slot, response);
}

void Http1Session::on_first_byte(void* ctx) {
  auto* self = static_cast<Http1Session*>(ctx);
  self->events_.on_first_byte(self->front_slot());
}

}  // namespace pelt
