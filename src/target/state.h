// Process-wide state of pelt-target: per-thread counters, the stall switch and the small
// in-memory "business" stores behind the demo endpoints (coupons, inventory, queue).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "target/pool.h"

namespace pelt::target {

// Buckets of /stats "by_path", keyed by the first path segment of known endpoints.
enum class Route : uint8_t {
  kRoot,
  kBytes,
  kDelay,
  kStatus,
  kChunked,
  kClose,
  kEcho,
  kHealth,
  kBooks,
  kCoupons,
  kInventory,
  kQueue,
  kStats,
  kAdmin,
  kFault,
  kSink,
  kPool,
  kOther,
  kCount,
};

inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kCount);

// The "/name" label /stats prints for a route.
std::string_view route_label(Route route);

// Maps the first path segment (without the leading '/', e.g. "delay") to its route.
Route route_for_segment(std::string_view segment);

// Counters owned by one serve loop thread; other threads only read them (for /stats) or zero them
// (for /admin/reset). One cache line apart so threads never share a line.
struct alignas(64) ThreadCounters {
  std::atomic<uint64_t> requests{0};           // requests answered, /stats excluded
  std::atomic<int64_t> connections_open{0};    // connections currently open
  std::atomic<uint64_t> connections_total{0};  // connections accepted since start or reset
  std::atomic<uint64_t> bad_requests{0};       // malformed requests answered with 400 + close
  std::array<std::atomic<uint64_t>, kRouteCount> by_route{};  // requests per route bucket
  std::array<std::atomic<uint64_t>, 2> by_protocol{};  // requests per Protocol (HTTP/1.x, h2)
};

// A set of keys split into shards with their own lock, so threads rarely wait on each other.
template <typename Map>
struct Sharded {
  static constexpr size_t kShards = 16;  // number of independently locked shards
  struct Shard {
    std::mutex mu;  // guards map
    Map map;        // this shard's part of the data
  };
  std::array<Shard, kShards> shards;  // shard i holds the keys whose hash % kShards == i
};

// Everything pelt-target threads share. Created once before the serve loops start.
class SharedState {
 public:
  explicit SharedState(int threads);

  // Counters of serve loop `index` (0 <= index < threads).
  ThreadCounters& counters(int index) { return *counters_[index]; }

  // Writes the /stats JSON document (totals over all threads) into `out`.
  void stats_json(std::string& out) const;

  // Zeroes every counter except connections_open (a gauge).
  void reset_counters();

  // Stall switch: responses started before this monotonic time (uv_hrtime ns) wait for it.
  void stall_for_ms(uint64_t ms, uint64_t now_ns);
  // True while a stall may be in force (cheap check before reading the clock).
  bool stall_armed() const { return stall_until_ns_.load(std::memory_order_relaxed) != 0; }
  // Nanoseconds the response started at `now_ns` must still wait (0 when no stall). Disarms
  // the switch once the stall is over.
  uint64_t stall_remaining_ns(uint64_t now_ns);

  // Turns /pool on: `slots` slots, each held for `hold_ns` per request.
  void enable_pool(uint32_t slots, uint64_t hold_ns);
  // The /pool slots, null when /pool is off.
  SlotPool* pool() { return pool_.get(); }

  // Records the (user, coupon) pair; true the first time it is seen.
  bool issue_coupon(uint64_t user_id, uint64_t coupon_id);

  // Takes `quantity` from product's stock (which starts at kInitialStock). Returns false when the
  // stock is too small (nothing taken). `remaining` receives the stock after the call.
  bool decrease_stock(uint64_t product_id, uint64_t quantity, uint64_t& remaining);

  // Next 1-based position in the global queue.
  uint64_t next_queue_position() { return queue_next_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // The /books body and its strong ETag (quoted).
  const std::string& books_json() const { return books_json_; }
  const std::string& books_etag() const { return books_etag_; }

  static constexpr uint64_t kInitialStock = 1'000'000;  // units of every product at start
  // Entries a store keeps before it forgets everything (bounds memory under random ids).
  static constexpr size_t kMaxStoreEntries = 4'000'000;

 private:
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& p) const {
      return std::hash<uint64_t>{}(p.first * 0x9E3779B97F4A7C15ULL ^ p.second);
    }
  };
  using CouponSet = std::unordered_set<std::pair<uint64_t, uint64_t>, PairHash>;
  using StockMap = std::unordered_map<uint64_t, uint64_t>;

  std::vector<std::unique_ptr<ThreadCounters>> counters_;  // one per serve loop thread
  std::unique_ptr<SlotPool> pool_;                         // /pool slots, null without --pool
  std::atomic<uint64_t> stall_until_ns_{0};  // uv_hrtime() at which the current stall ends
  std::atomic<uint64_t> queue_next_{0};      // queue positions handed out so far
  Sharded<CouponSet> coupons_;               // (user id, coupon id) pairs already issued
  Sharded<StockMap> stock_;                  // remaining stock of products touched so far
  std::string books_json_;                   // the /books response body
  std::string books_etag_;                   // quoted ETag of books_json_
};

}  // namespace pelt::target
