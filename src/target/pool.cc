#include "target/pool.h"

#include <algorithm>

#include "target/serve_loop.h"

namespace pelt::target {

bool SlotPool::acquire(ServeLoop* loop, uint64_t ticket) {
  std::lock_guard lock(mu_);
  if (free_ > 0 && queue_.empty()) {
    --free_;
    return true;
  }
  queue_.emplace_back(loop, ticket);
  return false;
}

bool SlotPool::cancel(ServeLoop* loop, uint64_t ticket) {
  std::lock_guard lock(mu_);
  auto it = std::find(queue_.begin(), queue_.end(), std::make_pair(loop, ticket));
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

void SlotPool::release(uint64_t free_ns) {
  std::pair<ServeLoop*, uint64_t> next;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      if (free_ < slots_) ++free_;
      return;
    }
    next = queue_.front();
    queue_.pop_front();
  }
  post_pool_grant(*next.first, next.second, free_ns);
}

void SlotPool::snapshot(uint32_t& slots, uint32_t& in_use, uint64_t& queued) const {
  std::lock_guard lock(mu_);
  slots = slots_;
  in_use = slots_ - free_;
  queued = queue_.size();
}

}  // namespace pelt::target
