#include "results/histogram.h"

#include "results/h1_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace pelt {
namespace {

using h1::append_u128;
using h1::next_field;
using h1::parse_u128;
using h1::parse_u64;
using h1::U128;

}  // namespace

Histogram& Histogram::operator=(const Histogram& o) {
  if (this == &o) return *this;
  for (size_t b = 0; b < kBlocks; ++b) {
    if (o.blocks_[b]) {
      if (!blocks_[b]) blocks_[b] = std::make_unique<Block>();
      *blocks_[b] = *o.blocks_[b];
    } else {
      blocks_[b].reset();
    }
  }
  count_ = o.count_;
  min_ = o.min_;
  max_ = o.max_;
  overflow_ = o.overflow_;
  sum_ = o.sum_;
  sum_sq_ = o.sum_sq_;
  cursor_count_ = ~uint64_t{0};
  cursor_rank_ = 0;
  cursor_bucket_ = 0;
  exact_ = o.exact_;
  exact_sorted_ = o.exact_sorted_;
  return *this;
}

Histogram::Block* Histogram::make_block(size_t i) {
  auto& slot = blocks_[i >> kSubBits];
  slot = std::make_unique<Block>();
  return slot.get();
}

void Histogram::add_at(size_t i, uint64_t n) {
  std::unique_ptr<Block>& block = blocks_[i >> kSubBits];
  if (!block) block = std::make_unique<Block>();
  (*block)[i & (kSubBuckets - 1)] += n;
}

void Histogram::reset() {
  for (auto& b : blocks_) b.reset();
  count_ = 0;
  min_ = ~uint64_t{0};
  max_ = 0;
  overflow_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
  cursor_count_ = ~uint64_t{0};
  cursor_rank_ = 0;
  cursor_bucket_ = 0;
  forget_exact();
}

void Histogram::forget_exact() {
  std::vector<uint64_t>().swap(exact_);
  exact_sorted_ = true;
}

void Histogram::merge(const Histogram& o) {
  if (o.count_ == 0) return;
  if (count_ + o.count_ <= kExactSamples) {
    exact_.insert(exact_.end(), o.exact_.begin(), o.exact_.end());
    exact_sorted_ = false;
  } else {
    forget_exact();
  }
  for (size_t b = 0; b < kBlocks; ++b) {
    if (!o.blocks_[b]) continue;
    if (!blocks_[b]) {
      blocks_[b] = std::make_unique<Block>(*o.blocks_[b]);
      continue;
    }
    for (size_t k = 0; k < kSubBuckets; ++k) (*blocks_[b])[k] += (*o.blocks_[b])[k];
  }
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  overflow_ += o.overflow_;
  sum_ += o.sum_;
  sum_sq_ += o.sum_sq_;
  cursor_count_ = ~uint64_t{0};
}

uint64_t Histogram::bucket_lower(size_t i) {
  if (i < 2 * kSubBuckets) return i;
  size_t shift = (i >> kSubBits) - 1;
  return static_cast<uint64_t>(i - (shift << kSubBits)) << shift;
}

uint64_t Histogram::bucket_width(size_t i) {
  if (i < 2 * kSubBuckets) return 1;
  return uint64_t{1} << ((i >> kSubBits) - 1);
}

uint64_t Histogram::value_of(size_t i) const {
  return std::clamp(bucket_value(i), min_, max_);
}

double Histogram::sum() const {
  return static_cast<double>(sum_);
}

double Histogram::mean() const {
  if (count_ == 0) return 0;
  return static_cast<double>(static_cast<long double>(sum_) / count_);
}

double Histogram::stdev() const {
  if (count_ < 2) return 0;
  // Sum of squared deviations, exact in integers around m0 = floor(mean):
  // sum (x - m0)^2 = sum_sq - 2 m0 sum + n m0^2, then correct for mean = m0 + r/n.
  const U128 n = count_;
  const U128 m0 = sum_ / n;
  const U128 r = sum_ % n;
  const U128 s0 = sum_sq_ + n * m0 * m0 - 2 * m0 * sum_;
  long double ss = static_cast<long double>(s0) -
                   static_cast<long double>(r) * static_cast<long double>(r) / count_;
  if (ss < 0) ss = 0;
  return static_cast<double>(std::sqrt(ss / (count_ - 1)));
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;
  if (p >= 100) return max_;
  // Nearest rank: the smallest rank k with k >= p/100 * n, tolerant of rounding noise.
  long double exact = static_cast<long double>(p) * count_ / 100;
  uint64_t rank = static_cast<uint64_t>(exact);
  if (exact - rank > exact * 1e-12L) ++rank;
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  const size_t last = bucket_index(max_);
  for (size_t i = bucket_index(min_); i <= last; ++i) {
    seen += count_at(i);
    if (seen >= rank) return value_of(i);
  }
  return max_;
}

double Histogram::quantile(double p) const {
  if (count_ == 0) return 0;
  if (!exact()) return static_cast<double>(percentile(p));
  if (!exact_sorted_) {
    std::sort(exact_.begin(), exact_.end());
    exact_sorted_ = true;
  }
  const double rank = std::clamp(p, 0.0, 100.0) / 100 * static_cast<double>(count_ - 1);
  const double below = std::floor(rank);
  const auto lo = static_cast<size_t>(below);
  const auto hi = std::min(static_cast<size_t>(std::ceil(rank)), exact_.size() - 1);
  const double a = static_cast<double>(exact_[lo]);
  const double b = static_cast<double>(exact_[hi]);
  return a + (b - a) * (rank - below);
}

double Histogram::within_stdev(double mean, double stdev, int n) const {
  if (count_ == 0) return 0;
  const long double lower = static_cast<long double>(mean) - static_cast<long double>(stdev) * n;
  const long double upper = static_cast<long double>(mean) + static_cast<long double>(stdev) * n;
  uint64_t inside = 0;
  const size_t last = bucket_index(max_);
  for (size_t i = bucket_index(min_); i <= last; ++i) {
    if (count_at(i) == 0) continue;
    long double v = value_of(i);
    if (v >= lower && v <= upper) inside += count_at(i);
  }
  return static_cast<double>(static_cast<long double>(inside) / count_ * 100);
}

uint64_t Histogram::count_at_or_below(uint64_t value) const {
  if (count_ == 0 || value < min_) return 0;
  if (value >= max_) return count_;
  uint64_t total = 0;
  const size_t last = bucket_index(max_);
  for (size_t i = bucket_index(min_); i <= last; ++i) {
    if (count_at(i) != 0 && value_of(i) <= value) total += count_at(i);
  }
  return total;
}

size_t Histogram::distinct() const {
  if (count_ == 0) return 0;
  size_t n = 0;
  const size_t last = bucket_index(max_);
  for (size_t i = bucket_index(min_); i <= last; ++i) n += count_at(i) != 0;
  return n;
}

bool Histogram::value_at(size_t i, uint64_t& value, uint64_t& count) const {
  if (count_ == 0) return false;
  size_t rank = 0;
  size_t b = bucket_index(min_);
  if (cursor_count_ == count_ && i >= cursor_rank_) {
    rank = cursor_rank_;
    b = cursor_bucket_;
  }
  const size_t last = bucket_index(max_);
  for (; b <= last; ++b) {
    if (count_at(b) == 0) continue;
    if (rank == i) {
      cursor_count_ = count_;
      cursor_rank_ = rank;
      cursor_bucket_ = b;
      value = value_of(b);
      count = count_at(b);
      return true;
    }
    ++rank;
  }
  return false;
}

std::vector<std::pair<uint64_t, uint64_t>> Histogram::buckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (count_ == 0) return out;
  const size_t last = bucket_index(max_);
  for (size_t i = bucket_index(min_); i <= last; ++i) {
    if (count_at(i) != 0) out.emplace_back(value_of(i), count_at(i));
  }
  return out;
}

Histogram Histogram::from_buckets(const std::vector<std::pair<uint64_t, uint64_t>>& pairs) {
  Histogram h;
  for (const auto& [value, count] : pairs) h.record_n(value, count);
  return h;
}

std::string Histogram::encode() const {
  std::string out = "h1 ";
  out += std::to_string(count_) + " " + std::to_string(min()) + " " + std::to_string(max_) + " " +
         std::to_string(overflow_) + " ";
  append_u128(out, sum_);
  out += ' ';
  append_u128(out, sum_sq_);
  out += ' ';
  bool first = true;
  if (count_ != 0) {
    const size_t last = bucket_index(max_);
    for (size_t i = bucket_index(min_); i <= last; ++i) {
      if (count_at(i) == 0) continue;
      if (!first) out += ',';
      first = false;
      out += std::to_string(bucket_lower(i)) + ":" + std::to_string(count_at(i));
    }
  }
  return out;
}

bool Histogram::decode(std::string_view text, Histogram& out, std::string& error) {
  std::string_view rest = text;
  if (next_field(rest) != "h1") {
    error = "bad histogram encoding: expected it to start with \"h1 \"";
    return false;
  }
  uint64_t count = 0, min = 0, max = 0, overflow = 0;
  U128 sum = 0, sum_sq = 0;
  if (!parse_u64(next_field(rest), count) || !parse_u64(next_field(rest), min) ||
      !parse_u64(next_field(rest), max) || !parse_u64(next_field(rest), overflow) ||
      !parse_u128(next_field(rest), sum) || !parse_u128(next_field(rest), sum_sq)) {
    error = "bad histogram encoding: expected \"h1 count min max overflow sum sum_sq buckets\"";
    return false;
  }
  Histogram h;
  uint64_t bucket_total = 0;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t colon = item.find(':');
    uint64_t value = 0, n = 0;
    if (colon == std::string_view::npos || !parse_u64(item.substr(0, colon), value) ||
        !parse_u64(item.substr(colon + 1), n) || value > kMaxValue) {
      error = "bad histogram encoding: bad bucket \"" + std::string(item) +
              "\", expected value:count with value <= " + std::to_string(kMaxValue);
      return false;
    }
    h.add_at(bucket_index(value), n);
    bucket_total += n;
  }
  if (bucket_total != count || (count != 0 && (min > max || max > kMaxValue))) {
    error = "bad histogram encoding: bucket counts do not add up to the count, or min > max";
    return false;
  }
  if (count != 0) {
    h.count_ = count;
    h.min_ = min;
    h.max_ = max;
    h.overflow_ = overflow;
    h.sum_ = sum;
    h.sum_sq_ = sum_sq;
  }
  out = h;
  return true;
}

}  // namespace pelt
