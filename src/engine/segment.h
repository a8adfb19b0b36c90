// A Segment is one part of a whole that is shared out: part `index` of `count` equal parts.
// Workers of one process use it to split VUs, iterations and arrivals between threads, so each
// figure is split exactly (the shares always add up to the whole) and arrivals are striped
// (part i takes arrivals i, i + count, i + 2*count ...), which keeps every part's arrivals
// evenly spaced.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace pelt {

struct Segment {
  uint32_t index = 0;  // this part, 0-based
  uint32_t count = 1;  // number of parts (at least 1)

  // This part's share of n items: n / count, plus one for the first n % count parts.
  uint64_t share(uint64_t n) const {
    if (count == 0 || index >= count) return 0;
    return n / count + (index < n % count ? 1 : 0);
  }
  // share() saturated to 32 bits (VU counts).
  uint32_t share32(uint64_t n) const {
    return static_cast<uint32_t>(std::min<uint64_t>(share(n), std::numeric_limits<uint32_t>::max()));
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
};

}  // namespace pelt
