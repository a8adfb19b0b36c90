// The /pool capacity model: SLOTS process-wide slots, each held for a fixed time per request,
// with a FIFO queue of requests waiting for one. Shared by every serve loop; a slot freed on
// one thread is handed to the next queued request on whichever thread it waits.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace pelt::target {

struct ServeLoop;

class SlotPool {
 public:
  SlotPool(uint32_t slots, uint64_t hold_ns) : slots_(slots), free_(slots), hold_ns_(hold_ns) {}

  // How long a request holds its slot, in nanoseconds.
  uint64_t hold_ns() const { return hold_ns_; }
  // Takes a free slot (true) or queues `ticket` of `loop` behind the others (false); a queued
  // ticket is later delivered through post_pool_grant.
  bool acquire(ServeLoop* loop, uint64_t ticket);
  // Removes a queued ticket. False when it is no longer queued (its grant is on the way).
  bool cancel(ServeLoop* loop, uint64_t ticket);
  // Frees one slot at `free_ns` (uv_hrtime clock): the longest-queued ticket gets it from that
  // moment on, or it becomes free. Chaining holds on the deadlines, not on when a thread woke
  // up, keeps the throughput exact on a busy machine.
  void release(uint64_t free_ns);
  // Current use, for /stats.
  void snapshot(uint32_t& slots, uint32_t& in_use, uint64_t& queued) const;

 private:
  mutable std::mutex mu_;                              // guards everything below
  uint32_t slots_;                                     // slots in total
  uint32_t free_;                                      // slots nobody holds
  uint64_t hold_ns_;                                   // hold time per request
  std::deque<std::pair<ServeLoop*, uint64_t>> queue_;  // waiting (loop, ticket), oldest first
};

}  // namespace pelt::target
