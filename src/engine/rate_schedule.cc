#include "engine/rate_schedule.h"

#include <algorithm>
#include <cmath>

namespace pelt {
namespace {

constexpr double kNsPerSecond = 1e9;
// Slack for floating point noise when a count should land on a whole number.
constexpr double kEpsilon = 1e-9;

}  // namespace

std::optional<uint64_t> RateScheduleView::due_ns(uint64_t n) const {
  // The last segment whose first arrival is at or before n (a segment that owns no arrival
  // shares its first index with the next one, which then owns n).
  auto it = std::upper_bound(segments.begin(), segments.end(), n,
                             [](uint64_t v, const RateSegment& s) { return v < s.first_arrival; });
  if (it == segments.begin()) return std::nullopt;
  const RateSegment& s = *std::prev(it);
  if (!(s.rate > 0)) return std::nullopt;
  const double offset =
      std::ceil(static_cast<double>(n - s.first_arrival) * kNsPerSecond / s.rate - kEpsilon);
  const uint64_t due = s.from_ns + static_cast<uint64_t>(std::max(0.0, offset));
  if (due >= end_ns) return std::nullopt;
  return due;
}

double RateScheduleView::rate_at(uint64_t t_ns) const {
  if (t_ns >= end_ns) return 0;
  auto it = std::upper_bound(segments.begin(), segments.end(), t_ns,
                             [](uint64_t v, const RateSegment& s) { return v < s.from_ns; });
  return it == segments.begin() ? 0 : std::prev(it)->rate;
}

void RateSchedule::set_rate(uint64_t from_ns, double rate) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& segs = view_.segments;
  RateSegment next;
  next.from_ns = from_ns;
  next.rate = std::max(0.0, rate);
  if (!segs.empty()) {
    const RateSegment& last = segs.back();
    next.from_ns = std::max(from_ns, last.from_ns);
    // The previous segment keeps the arrivals due strictly before the new start.
    const double span_s = static_cast<double>(next.from_ns - last.from_ns) / kNsPerSecond;
    const double owned = last.rate > 0 ? std::ceil(span_s * last.rate - kEpsilon) : 0;
    next.first_arrival = last.first_arrival + static_cast<uint64_t>(std::max(0.0, owned));
    if (next.from_ns == last.from_ns) segs.pop_back();
  }
  segs.push_back(next);
  version_.store(++view_.version, std::memory_order_release);
}

void RateSchedule::end(uint64_t at_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  view_.end_ns = std::min(view_.end_ns, at_ns);
  version_.store(++view_.version, std::memory_order_release);
}

RateScheduleView RateSchedule::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

}  // namespace pelt
