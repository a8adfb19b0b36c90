// A Segment is one part of a whole that is shared out: part `index` of `count` equal parts.
// The items of the whole (VUs, iterations, arrivals) are striped: part i takes items i,
// i + count, i + 2*count ... So every figure is split exactly (the shares always add up to the
// whole, whatever the whole is at any instant), a part never loses an item it took when the
// whole grows, and a part's arrivals stay evenly spaced.
//
// Two levels use it: the instances of a fleet (`pelt run --segment I/N`) and the worker threads
// of one instance. They compose (Segment::compose): item k belongs to instance k % N; within
// that instance it is local item k / N, which belongs to thread (k / N) % T. So thread w of
// instance I takes exactly the items k with k % (N*T) == I + N*w — again a Segment, and N
// instances of T threads each run the single-instance plan exactly. Instances may run
// different thread counts: only N must agree. docs/DISTRIBUTED.md explains the algorithm.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pelt {

struct Segment {
  static constexpr uint32_t kMaxInstances = 100000;  // largest N of --segment I/N

  uint32_t index = 0;  // this part, 0-based
  uint32_t count = 1;  // number of parts (at least 1)

  // This part's share of items 0 .. n-1: n / count, plus one for the first n % count parts.
  uint64_t share(uint64_t n) const {
    if (count == 0 || index >= count) return 0;
    return n / count + (index < n % count ? 1 : 0);
  }
  // share() saturated to 32 bits (VU counts).
  uint32_t share32(uint64_t n) const {
    return static_cast<uint32_t>(
        std::min<uint64_t>(share(n), std::numeric_limits<uint32_t>::max()));
  }
  // This part's share of n items that come in groups of `group` (VUs sharing a connection):
  // whole groups are shared out as share() does, so no group is split between parts; the one
  // partial group (n % group items) goes to the last part that got an extra group. Shares add
  // up to n, and for n growing one at a time a part's group fills before the next opens.
  uint64_t share_grouped(uint64_t n, uint64_t group) const {
    if (group <= 1) return share(n);
    if (count == 0 || index >= count || n == 0) return 0;
    const uint64_t groups = (n + group - 1) / group;
    const uint64_t rest = n - (groups - 1) * group;  // items in the last group, 1..group
    const uint64_t owner = groups % count == 0 ? count - 1 : groups % count - 1;
    const uint64_t mine = share(groups) * group;
    return index == owner ? mine - (group - rest) : mine;
  }
  // Striping: the first item of this part and the distance between its items.
  uint64_t first_item() const { return index; }
  uint64_t stride() const { return count; }
  // The global number of this part's i-th item (0-based).
  uint64_t item(uint64_t i) const { return index + i * count; }
  // Whether item k (0-based) is this part's.
  bool takes(uint64_t k) const { return count != 0 && k % count == index; }
  bool whole() const { return count == 1; }

  // Part `inner` of part `outer`, as one Segment of the whole (see the top of this file).
  static Segment compose(Segment outer, Segment inner) {
    return Segment{outer.index + outer.count * inner.index, outer.count * inner.count};
  }

  // shared-iterations: this part's quota of `iterations` shared by `vus` VUs. Iteration k is
  // counted against VU k % vus, so a part's quota is what its own VUs would run: it never gets
  // iterations without VUs to run them, and the quotas of all parts add up to `iterations`.
  uint64_t iteration_quota(uint64_t vus, uint64_t iterations) const {
    if (vus == 0) return share(iterations);
    return share(vus) * (iterations / vus) + share(iterations % vus);
  }

  // "I/N"
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }

  bool operator==(const Segment&) const = default;
};

// Parses "I/N" (0 <= I < N <= Segment::kMaxInstances). False with a message otherwise.
inline bool parse_segment(std::string_view text, Segment& out, std::string& error) {
  const size_t slash = text.find('/');
  auto number = [](std::string_view s, uint64_t& v) {
    if (s.empty() || s.size() > 12) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && ptr == s.data() + s.size();
  };
  uint64_t i = 0, n = 0;
  if (slash == std::string_view::npos || !number(text.substr(0, slash), i) ||
      !number(text.substr(slash + 1), n)) {
    error =
        "bad segment \"" + std::string(text) + "\": write I/N, instance I (0-based) of N, e.g. 0/4";
    return false;
  }
  if (n == 0 || n > Segment::kMaxInstances) {
    error = "bad segment \"" + std::string(text) + "\": N must be from 1 to " +
            std::to_string(Segment::kMaxInstances);
    return false;
  }
  if (i >= n) {
    error = "bad segment \"" + std::string(text) + "\": I must be below N (I is 0-based: 0/" +
            std::to_string(n) + " .. " + std::to_string(n - 1) + "/" + std::to_string(n) + ")";
    return false;
  }
  out = Segment{static_cast<uint32_t>(i), static_cast<uint32_t>(n)};
  return true;
}

}  // namespace pelt
