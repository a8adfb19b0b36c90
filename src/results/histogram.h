// Log-linear histogram of uint64 values (microseconds by convention).
//
// Values below 256 have a bucket each (exact). Above, every power of two
// [2^e, 2^(e+1)) is split into 256 equal sub-buckets, so a bucket is at most
// 1/256 of its values wide and its representative (the midpoint) is within
// 1/512 (0.2%) of any value it holds: 40 us at 20 ms. The top is 2^36 - 1 us
// (about 19 hours); larger values are clamped to it and counted in overflow().
// Memory is fixed (kBuckets counters, about 58 KiB) and record() never
// allocates.
//
// count, min, max, mean and stdev are exact: they come from running sums kept
// beside the buckets, not from the buckets. Percentiles are nearest-rank on the
// buckets, reported as the bucket's representative clamped into [min, max].
//
// While a histogram holds few samples (up to kExactSamples) it also keeps them
// one by one, so quantile() can answer exactly as k6 does: interpolating
// between the two samples around the rank (the median of 10, 20 ... 100 is 55).
// The list is allocated once, at the first sample, and freed when it overflows.
//
// A Histogram is owned by one thread while it records; merge() combines
// histograms from threads, and encode()/decode() carry one exactly across
// processes (e.g. inside a JSON summary).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

class Histogram {
 public:
  static constexpr int kSubBits = 8;                       // log2 of sub-buckets per power of two
  static constexpr uint64_t kSubBuckets = 1u << kSubBits;  // linear sub-buckets per power of two
  static constexpr int kTopBits = 36;                      // values are below 2^kTopBits
  static constexpr uint64_t kMaxValue = (uint64_t{1} << kTopBits) - 1;  // largest recordable value
  static constexpr size_t kBuckets =
      static_cast<size_t>(kTopBits - kSubBits) * kSubBuckets + kSubBuckets;  // 7424
  static constexpr uint64_t kExactSamples = 4096;  // samples kept one by one while this few

  using Block = std::array<uint64_t, kSubBuckets>;  // the buckets of one power of two

  Histogram() { reset(); }
  Histogram(const Histogram& o) { *this = o; }
  Histogram& operator=(const Histogram& o);
  Histogram(Histogram&&) noexcept = default;
  Histogram& operator=(Histogram&&) noexcept = default;

  // Records one value (clamped to kMaxValue).
  void record(uint64_t value) { record_n(value, 1); }

  // Records `count` occurrences of one value (clamped to kMaxValue).
  void record_n(uint64_t value, uint64_t count) {
    if (count == 0) return;
    overflow_ += value > kMaxValue ? count : 0;
    value = value > kMaxValue ? kMaxValue : value;
    const size_t i = bucket_index(value);
    Block* block = blocks_[i >> kSubBits].get();
    if (!block) [[unlikely]] block = make_block(i);  // the first value of this power of two
    (*block)[i & (kSubBuckets - 1)] += count;
    keep_exact(value, count);
    count_ += count;
    min_ = value < min_ ? value : min_;
    max_ = value > max_ ? value : max_;
    sum_ += static_cast<unsigned __int128>(value) * count;
    sum_sq_ += static_cast<unsigned __int128>(value) * value * count;
  }

  // Adds every sample of `o` into this histogram.
  void merge(const Histogram& o);

  // Forgets every sample.
  void reset();

  uint64_t count() const { return count_; }           // number of samples
  uint64_t min() const { return count_ ? min_ : 0; }  // smallest sample, 0 when empty
  uint64_t max() const { return max_; }               // largest sample, 0 when empty
  uint64_t overflow() const { return overflow_; }     // samples that were clamped to kMaxValue
  double sum() const;                                 // exact sum of samples (as double)
  double mean() const;                                // exact mean, 0 when empty
  // Exact standard deviation computed as wrk does (divides by count - 1; 0 below 2 samples).
  double stdev() const;

  // Value at percentile p in [0, 100] by nearest rank: 0 gives min(), 100 gives max().
  // Returns 0 when empty.
  uint64_t percentile(double p) const;

  // Value at percentile p in [0, 100] as k6 computes it: with every sample kept (exact()),
  // linear interpolation between the samples at ranks floor and ceil of p/100 * (n - 1);
  // otherwise percentile(p). 0 when empty.
  double quantile(double p) const;
  // Every sample is kept one by one (1 .. kExactSamples samples recorded here or merged in;
  // a histogram decode() made keeps buckets only).
  bool exact() const { return count_ > 0 && exact_.size() == count_; }

  // Percentage (0..100) of samples whose bucket value lies in [mean - n*stdev, mean + n*stdev],
  // wrk's "+/- Stdev" column. 0 when empty.
  double within_stdev(double mean, double stdev, int n) const;

  // Number of samples whose bucket value is <= value (cumulative, for Prometheus "le").
  uint64_t count_at_or_below(uint64_t value) const;

  // Number of non-empty buckets.
  size_t distinct() const;

  // The i-th (0-based) non-empty bucket in increasing order: its value and count. False when
  // i >= distinct(). Walking i = 0, 1, 2, ... is amortized O(1) per call (a cursor is cached;
  // so this const method is not safe to call from two threads at once on one object).
  bool value_at(size_t i, uint64_t& value, uint64_t& count) const;

  // (value, count) of every non-empty bucket, in increasing order of value.
  std::vector<std::pair<uint64_t, uint64_t>> buckets() const;

  // Rebuilds a histogram from (value, count) pairs such as buckets() returns. Buckets are
  // exact, but mean/stdev/min/max are computed from the given values (so they match the
  // original only as closely as the bucket values do). Use encode()/decode() for exactness.
  static Histogram from_buckets(const std::vector<std::pair<uint64_t, uint64_t>>& pairs);

  // Exact, compact text form (ASCII, no quotes or backslashes, safe inside a JSON string):
  // "h1 <count> <min> <max> <overflow> <sum> <sum_sq> <value>:<count>,...".
  std::string encode() const;

  // Parses encode()'s output into `out`. Returns false with a message on malformed input.
  static bool decode(std::string_view text, Histogram& out, std::string& error);

  // Bucket of a value (value must be <= kMaxValue).
  static size_t bucket_index(uint64_t value) {
    int shift = std::bit_width(value) - (kSubBits + 1);
    shift = shift < 0 ? 0 : shift;
    return (static_cast<size_t>(shift) << kSubBits) + static_cast<size_t>(value >> shift);
  }
  // Smallest value of bucket i.
  static uint64_t bucket_lower(size_t i);
  // Number of values bucket i holds (a power of two).
  static uint64_t bucket_width(size_t i);
  // Representative value of bucket i: its midpoint.
  static uint64_t bucket_value(size_t i) { return bucket_lower(i) + (bucket_width(i) - 1) / 2; }

 private:
  uint64_t value_of(size_t i) const;  // bucket_value(i) clamped into [min, max]
  // Samples in bucket i (0 when its block was never made).
  uint64_t count_at(size_t i) const {
    const Block* b = blocks_[i >> kSubBits].get();
    return b ? (*b)[i & (kSubBuckets - 1)] : 0;
  }
  void add_at(size_t i, uint64_t n);  // adds n to bucket i, making its block when needed
  [[gnu::noinline]] Block* make_block(size_t i);  // the block of bucket i, made empty
  // Keeps `count` copies of value while the samples fit in kExactSamples (count_ not yet
  // increased); forgets them all once they do not.
  void keep_exact(uint64_t value, uint64_t count) {
    if (count_ + count <= kExactSamples) {
      exact_.insert(exact_.end(), count, value);
      exact_sorted_ = false;
    } else if (count_ <= kExactSamples) {
      forget_exact();
    }
  }
  void forget_exact();

  static constexpr size_t kBlocks = kBuckets / kSubBuckets;
  std::array<std::unique_ptr<Block>, kBlocks> blocks_;    // samples per bucket, by block
  uint64_t count_ = 0;                            // samples recorded
  uint64_t min_ = 0;                              // smallest sample (kMaxValue + 1 when empty)
  uint64_t max_ = 0;                              // largest sample (0 when empty)
  uint64_t overflow_ = 0;                         // samples above kMaxValue, clamped
  unsigned __int128 sum_ = 0;                     // sum of samples, exact
  unsigned __int128 sum_sq_ = 0;                  // sum of squared samples, exact
  mutable uint64_t cursor_count_ = ~uint64_t{0};  // count_ when the value_at cursor was set
  mutable size_t cursor_rank_ = 0;                // index among non-empty buckets of the cursor
  mutable size_t cursor_bucket_ = 0;              // bucket index of the cursor
  mutable std::vector<uint64_t> exact_;           // every sample while count_ <= kExactSamples
  mutable bool exact_sorted_ = true;              // exact_ is in increasing order
};

}  // namespace pelt
