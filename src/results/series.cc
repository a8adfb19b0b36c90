#include "results/series.h"

#include <algorithm>
#include <bit>

#include "results/h1_format.h"

namespace pelt {
namespace {

constexpr uint64_t kSub = uint64_t{1} << SeriesHistogram::kSubBits;  // sub-buckets per octave

// a + b where NaN means "no value": NaN only when both are.
double add_gauge(double a, double b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a + b;
}

}  // namespace

// --- SeriesHistogram ---

uint64_t SeriesHistogram::lower(uint32_t i) {
  if (i < 2 * kSub) return i;
  const uint32_t shift = (i >> kSubBits) - 1;
  return static_cast<uint64_t>(i - (shift << kSubBits)) << shift;
}

uint64_t SeriesHistogram::midpoint(uint32_t i) {
  if (i < 2 * kSub) return i;
  const uint32_t shift = (i >> kSubBits) - 1;
  return lower(i) + ((uint64_t{1} << shift) - 1) / 2;
}

void SeriesHistogram::push(uint32_t index, uint64_t count) {
  index_.push_back(static_cast<uint16_t>(index));
  counts_.push_back(static_cast<uint32_t>(count));
}

void SeriesHistogram::record_n(uint64_t value, uint64_t n) {
  if (n == 0) return;
  value = std::min(value, kMaxValue);
  const auto i = static_cast<uint16_t>(index(value));
  auto it = std::lower_bound(index_.begin(), index_.end(), i);
  const size_t at = static_cast<size_t>(it - index_.begin());
  if (it != index_.end() && *it == i) {
    counts_[at] += static_cast<uint32_t>(n);
  } else {
    index_.insert(it, i);
    counts_.insert(counts_.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint32_t>(n));
  }
  min_ = count_ == 0 ? value : std::min(min_, value);
  max_ = std::max(max_, value);
  count_ += n;
  sum_ += static_cast<unsigned __int128>(value) * n;
  sum_sq_ += static_cast<unsigned __int128>(value) * value * n;
}

void SeriesHistogram::merge(const SeriesHistogram& o) {
  if (o.count_ == 0) return;
  if (count_ == 0) {
    *this = o;
    return;
  }
  SeriesHistogram out;
  out.index_.reserve(index_.size() + o.index_.size());
  out.counts_.reserve(index_.size() + o.index_.size());
  size_t a = 0, b = 0;
  while (a < index_.size() || b < o.index_.size()) {
    if (b == o.index_.size() || (a < index_.size() && index_[a] < o.index_[b])) {
      out.push(index_[a], counts_[a]);
      ++a;
    } else if (a == index_.size() || o.index_[b] < index_[a]) {
      out.push(o.index_[b], o.counts_[b]);
      ++b;
    } else {
      out.push(index_[a], uint64_t{counts_[a]} + o.counts_[b]);
      ++a;
      ++b;
    }
  }
  out.index_.shrink_to_fit();
  out.counts_.shrink_to_fit();
  index_ = std::move(out.index_);
  counts_ = std::move(out.counts_);
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
  sum_sq_ += o.sum_sq_;
}

double SeriesHistogram::mean() const {
  return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
}

uint64_t SeriesHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  if (p >= 100) return max_;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t k = 0; k < index_.size(); ++k) {
    seen += counts_[k];
    if (seen >= rank) return std::clamp(midpoint(index_[k]), min_, max_);
  }
  return max_;
}

std::string SeriesHistogram::encode() const {
  if (count_ == 0) return "";
  std::string out = "h1 " + std::to_string(count_) + " " + std::to_string(min_) + " " +
                    std::to_string(max_) + " 0 ";
  h1::append_u128(out, sum_);
  out += ' ';
  h1::append_u128(out, sum_sq_);
  out += ' ';
  for (size_t k = 0; k < index_.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(lower(index_[k])) + ":" + std::to_string(counts_[k]);
  }
  return out;
}

bool SeriesHistogram::decode(std::string_view text, SeriesHistogram& out, std::string& error) {
  out = SeriesHistogram();
  if (text.empty()) return true;
  std::string_view rest = text;
  uint64_t count = 0, min = 0, max = 0, overflow = 0;
  h1::U128 sum = 0, sum_sq = 0;
  if (h1::next_field(rest) != "h1" || !h1::parse_u64(h1::next_field(rest), count) ||
      !h1::parse_u64(h1::next_field(rest), min) || !h1::parse_u64(h1::next_field(rest), max) ||
      !h1::parse_u64(h1::next_field(rest), overflow) || !h1::parse_u128(h1::next_field(rest), sum) ||
      !h1::parse_u128(h1::next_field(rest), sum_sq)) {
    error = "bad histogram encoding: expected \"h1 count min max overflow sum sum_sq buckets\"";
    return false;
  }
  SeriesHistogram h;
  uint64_t total = 0;
  while (!rest.empty()) {
    std::string_view item = h1::next_field(rest, ',');
    std::string_view value_text = h1::next_field(item, ':');
    uint64_t value = 0, n = 0;
    if (!h1::parse_u64(value_text, value) || !h1::parse_u64(item, n) || value > kMaxValue ||
        n > std::numeric_limits<uint32_t>::max()) {
      error = "bad histogram encoding: bad bucket \"" + std::string(value_text) + "\"";
      return false;
    }
    const uint32_t i = index(value);
    if (!h.index_.empty() && h.index_.back() >= i) {
      error = "bad histogram encoding: buckets out of order";
      return false;
    }
    h.push(i, n);
    total += n;
  }
  if (total != count || count > std::numeric_limits<uint32_t>::max() || (count != 0 && min > max)) {
    error = "bad histogram encoding: bucket counts do not add up to the count, or min > max";
    return false;
  }
  h.count_ = count;
  h.min_ = min;
  h.max_ = max;
  h.sum_ = sum;
  h.sum_sq_ = sum_sq;
  out = std::move(h);
  return true;
}

void SecondHistogram::drain_into(SeriesHistogram& out) {
  if (count_ == 0) return;
  SeriesHistogram h;
  for (uint32_t i = lo_; i <= hi_; ++i) {
    if (counts_[i] == 0) continue;
    h.push(i, counts_[i]);
    counts_[i] = 0;
  }
  h.count_ = count_;
  h.min_ = min_;
  h.max_ = max_;
  h.sum_ = sum_;
  h.sum_sq_ = static_cast<unsigned __int128>(sum_sq_);
  out.merge(h);
  lo_ = SeriesHistogram::kBuckets;
  hi_ = 0;
  count_ = 0;
  min_ = std::numeric_limits<uint64_t>::max();
  max_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
}

// --- SeriesPoint ---

namespace {

// Everything but the gauges.
void add_counts(SeriesPoint& a, const SeriesPoint& b) {
  a.requests += b.requests;
  a.failed += b.failed;
  for (size_t i = 0; i < a.errors.size(); ++i) a.errors[i] += b.errors[i];
  for (size_t i = 0; i < a.status_class.size(); ++i) a.status_class[i] += b.status_class[i];
  for (const auto& [code, n] : b.status_codes) a.status_codes[code] += n;
  a.bytes_sent += b.bytes_sent;
  a.bytes_received += b.bytes_received;
  a.iterations += b.iterations;
  a.dropped_iterations += b.dropped_iterations;
  a.interrupted_iterations += b.interrupted_iterations;
  a.latency.merge(b.latency);
  a.send_lag.merge(b.send_lag);
}

}  // namespace

void SeriesPoint::add_parallel(const SeriesPoint& o) {
  add_counts(*this, o);
  vus += o.vus;
  vus_max += o.vus_max;
  target_vus = add_gauge(target_vus, o.target_vus);
  target_rate = add_gauge(target_rate, o.target_rate);
}

void SeriesPoint::add_later(const SeriesPoint& o) {
  add_counts(*this, o);
  vus = o.vus;
  vus_max = o.vus_max;
  target_vus = o.target_vus;
  target_rate = o.target_rate;
}

size_t SeriesPoint::memory_bytes() const {
  return sizeof(*this) + latency.memory_bytes() + send_lag.memory_bytes() +
         status_codes.size() * 48;
}

// --- TimeSeries ---

void TimeSeries::add(ClosedSecond second) {
  const uint64_t t = second.index;
  // Find the bucket holding second t, making buckets up to it when it is new.
  if (buckets_.empty() || t >= buckets_.back().start_s + buckets_.back().width_s) {
    uint64_t next = buckets_.empty() ? 0 : buckets_.back().start_s + buckets_.back().width_s;
    for (; next <= t; ++next) {
      Bucket b;
      b.start_s = next;
      buckets_.push_back(std::move(b));
    }
  }
  auto it = std::upper_bound(buckets_.begin(), buckets_.end(), t,
                             [](uint64_t s, const Bucket& b) { return s < b.start_s; });
  Bucket& bucket = *std::prev(it);
  for (auto& [key, point] : second.series) {
    auto [slot, fresh] = bucket.series.try_emplace(key);
    if (fresh) {
      slot->second = std::move(point);
    } else {
      slot->second.add_parallel(point);
    }
  }
  coarsen();
}

bool TimeSeries::fits(const Bucket& a, const Bucket& b) {
  for (const auto& [key, point] : b.series) {
    const auto it = a.series.find(key);
    if (it == a.series.end()) continue;
    if (!it->second.latency.can_merge(point.latency) || !it->second.send_lag.can_merge(point.send_lag)) {
      return false;
    }
  }
  return true;
}

void TimeSeries::coarsen() {
  // Widths grow towards the oldest bucket; each width may have kPerLevel buckets.
  for (;;) {
    std::map<uint64_t, size_t> per_width;
    for (const Bucket& b : buckets_) ++per_width[b.width_s];
    uint64_t over = 0;
    for (const auto& [width, n] : per_width) {
      if (n > kPerLevel) {
        over = width;
        break;
      }
    }
    if (over == 0) return;
    // The two oldest buckets of that width are adjacent: merge them.
    auto first = std::find_if(buckets_.begin(), buckets_.end(),
                              [&](const Bucket& b) { return b.width_s == over; });
    auto second = std::next(first);
    if (!fits(*first, *second)) return;  // counts past 32 bits: keep the finer buckets
    for (auto& [key, point] : second->series) {
      auto [slot, fresh] = first->series.try_emplace(key);
      if (fresh) {
        // The earlier half had no such series: its gauges are unknown, the later ones stand.
        slot->second = std::move(point);
      } else {
        slot->second.add_later(point);
      }
    }
    first->width_s += second->width_s;
    buckets_.erase(second);
    ++generation_;
  }
}

std::vector<SeriesKey> TimeSeries::keys() const {
  std::map<SeriesKey, bool> all;
  for (const Bucket& b : buckets_) {
    for (const auto& [key, point] : b.series) all.emplace(key, true);
  }
  std::vector<SeriesKey> out;
  for (const auto& [key, unused] : all) out.push_back(key);
  return out;
}

size_t TimeSeries::memory_bytes() const {
  size_t n = sizeof(*this);
  for (const Bucket& b : buckets_) {
    n += sizeof(Bucket);
    for (const auto& [key, point] : b.series) n += 64 + key.name.capacity() + point.memory_bytes();
  }
  return n;
}

}  // namespace pelt
