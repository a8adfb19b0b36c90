#include "target/state.h"

#include <fmt/format.h>

#include <iterator>

namespace pelt::target {
namespace {

constexpr std::array<std::string_view, kRouteCount> kRouteLabels = {
    "/",      "/bytes",  "/delay", "/status",  "/chunked",   "/close",
    "/echo",  "/health", "/books", "/coupons", "/inventory", "/queue",
    "/stats", "/admin",  "/fault", "/sink",    "/pool",      "other",
};

struct Book {
  std::string_view title;   // book title
  std::string_view author;  // author's name
  int year;                 // year of first publication
  int price_cents;          // list price in US cents
};

constexpr Book kBooks[] = {
    {"The Mythical Man-Month", "Frederick P. Brooks Jr.", 1975, 3299},
    {"Structure and Interpretation of Computer Programs", "Harold Abelson", 1985, 5500},
    {"The C Programming Language", "Brian W. Kernighan", 1978, 4599},
    {"Design Patterns", "Erich Gamma", 1994, 4999},
    {"The Pragmatic Programmer", "Andrew Hunt", 1999, 3999},
    {"Code Complete", "Steve McConnell", 1993, 4499},
    {"Refactoring", "Martin Fowler", 1999, 4799},
    {"Introduction to Algorithms", "Thomas H. Cormen", 1990, 8999},
    {"The Art of Computer Programming", "Donald E. Knuth", 1968, 19999},
    {"Clean Code", "Robert C. Martin", 2008, 3799},
    {"Working Effectively with Legacy Code", "Michael Feathers", 2004, 4699},
    {"Programming Pearls", "Jon Bentley", 1986, 3199},
    {"Compilers: Principles, Techniques, and Tools", "Alfred V. Aho", 1986, 9999},
    {"The UNIX Programming Environment", "Brian W. Kernighan", 1984, 3499},
    {"Advanced Programming in the UNIX Environment", "W. Richard Stevens", 1992, 6999},
    {"TCP/IP Illustrated, Volume 1", "W. Richard Stevens", 1994, 6499},
    {"Site Reliability Engineering", "Betsy Beyer", 2016, 4299},
    {"Designing Data-Intensive Applications", "Martin Kleppmann", 2017, 4999},
    {"Systems Performance", "Brendan Gregg", 2013, 5999},
    {"The Practice of Programming", "Brian W. Kernighan", 1999, 3699},
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

template <typename Map>
auto& shard_for(Sharded<Map>& sharded, uint64_t hash) {
  return sharded.shards[hash % Sharded<Map>::kShards];
}

}  // namespace

std::string_view route_label(Route route) {
  return kRouteLabels[static_cast<size_t>(route)];
}

Route route_for_segment(std::string_view segment) {
  if (segment.empty()) return Route::kRoot;
  for (size_t i = 1; i < kRouteCount - 1; ++i) {
    if (kRouteLabels[i].substr(1) == segment) return static_cast<Route>(i);
  }
  return Route::kOther;
}

SharedState::SharedState(int threads) {
  for (int i = 0; i < threads; ++i) counters_.push_back(std::make_unique<ThreadCounters>());
  auto out = std::back_inserter(books_json_);
  books_json_ += "[";
  int id = 1;
  for (const Book& b : kBooks) {
    if (id > 1) books_json_ += ",";
    fmt::format_to(
        out, "{{\"id\":{},\"title\":\"{}\",\"author\":\"{}\",\"year\":{},\"price\":{}.{:02}}}", id,
        b.title, b.author, b.year, b.price_cents / 100, b.price_cents % 100);
    ++id;
  }
  books_json_ += "]\n";
  books_etag_ = fmt::format("\"{:016x}\"", fnv1a(books_json_));
}

void SharedState::stats_json(std::string& out) const {
  uint64_t requests = 0, total = 0, bad = 0;
  int64_t open = 0;
  std::array<uint64_t, kRouteCount> by_route{};
  std::array<uint64_t, 2> by_protocol{};
  for (const auto& c : counters_) {
    for (size_t i = 0; i < by_protocol.size(); ++i) {
      by_protocol[i] += c->by_protocol[i].load(std::memory_order_relaxed);
    }
    requests += c->requests.load(std::memory_order_relaxed);
    open += c->connections_open.load(std::memory_order_relaxed);
    total += c->connections_total.load(std::memory_order_relaxed);
    bad += c->bad_requests.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kRouteCount; ++i) {
      by_route[i] += c->by_route[i].load(std::memory_order_relaxed);
    }
  }
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "{{\"requests\":{},\"connections_open\":{},\"connections_total\":{},"
                 "\"bad_requests\":{},\"by_path\":{{",
                 requests, open < 0 ? 0 : open, total, bad);
  bool first = true;
  for (size_t i = 0; i < kRouteCount; ++i) {
    if (by_route[i] == 0) continue;
    fmt::format_to(it, "{}\"{}\":{}", first ? "" : ",", kRouteLabels[i], by_route[i]);
    first = false;
  }
  fmt::format_to(it, "}},\"by_protocol\":{{\"http/1.1\":{},\"h2\":{}}}", by_protocol[0],
                 by_protocol[1]);
  if (pool_) {
    uint32_t slots = 0, in_use = 0;
    uint64_t queued = 0;
    pool_->snapshot(slots, in_use, queued);
    fmt::format_to(it, ",\"pool\":{{\"slots\":{},\"in_use\":{},\"queued\":{}}}", slots, in_use,
                   queued);
  }
  out += "}\n";
}

void SharedState::enable_pool(uint32_t slots, uint64_t hold_ns) {
  pool_ = std::make_unique<SlotPool>(slots, hold_ns);
}

void SharedState::reset_counters() {
  for (auto& c : counters_) {
    c->requests.store(0, std::memory_order_relaxed);
    c->connections_total.store(0, std::memory_order_relaxed);
    c->bad_requests.store(0, std::memory_order_relaxed);
    for (auto& r : c->by_route) r.store(0, std::memory_order_relaxed);
    for (auto& r : c->by_protocol) r.store(0, std::memory_order_relaxed);
  }
}

void SharedState::stall_for_ms(uint64_t ms, uint64_t now_ns) {
  stall_until_ns_.store(now_ns + ms * 1'000'000ULL, std::memory_order_relaxed);
}

uint64_t SharedState::stall_remaining_ns(uint64_t now_ns) {
  uint64_t until = stall_until_ns_.load(std::memory_order_relaxed);
  if (until > now_ns) return until - now_ns;
  if (until != 0) stall_until_ns_.compare_exchange_strong(until, 0, std::memory_order_relaxed);
  return 0;
}

bool SharedState::issue_coupon(uint64_t user_id, uint64_t coupon_id) {
  auto key = std::make_pair(user_id, coupon_id);
  auto& shard = shard_for(coupons_, PairHash{}(key));
  std::lock_guard lock(shard.mu);
  if (shard.map.size() >= kMaxStoreEntries / Sharded<CouponSet>::kShards) shard.map.clear();
  return shard.map.insert(key).second;
}

bool SharedState::decrease_stock(uint64_t product_id, uint64_t quantity, uint64_t& remaining) {
  auto& shard = shard_for(stock_, std::hash<uint64_t>{}(product_id * 0x9E3779B97F4A7C15ULL));
  std::lock_guard lock(shard.mu);
  auto found = shard.map.find(product_id);
  if (found == shard.map.end()) {
    if (shard.map.size() >= kMaxStoreEntries / Sharded<StockMap>::kShards) shard.map.clear();
    found = shard.map.emplace(product_id, kInitialStock).first;
  }
  if (quantity > found->second) {
    remaining = found->second;
    return false;
  }
  found->second -= quantity;
  remaining = found->second;
  return true;
}

}  // namespace pelt::target
