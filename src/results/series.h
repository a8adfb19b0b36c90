// The per-second time series behind every chart: for each second of the run, and for the whole
// run, each scenario and each request name, how many requests ended and how, bytes, VUs and
// targets, iterations, and the latency distribution of that second (a compact mergeable
// histogram, so percentiles per second and per any window of seconds are exact to its 0.8%).
//
// Workers fill one open second each (SecondSeries, no lock: the worker owns it) and hand the
// closed seconds to the main thread with their snapshots; the main thread merges them into one
// TimeSeries. Old seconds are coarsened (two adjacent buckets of one width become one of twice
// the width) so memory stays bounded for runs of any length: at most kPerLevel buckets of each
// width 1, 2, 4, ... seconds.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <compare>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

// A latency distribution kept sparsely: log-linear buckets, 64 per power of two (values below 128
// exact), so a bucket's midpoint is within 0.8% of any value it holds. count, min, max, sum
// are exact. Values in microseconds by convention.
class SeriesHistogram {
 public:
  static constexpr int kSubBits = 6;                      // log2 of sub-buckets per power of two
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 36) - 1;  // larger values are clamped
  static constexpr uint32_t kBuckets = (36 - kSubBits) * (1u << kSubBits) + (1u << kSubBits);

  static uint32_t index(uint64_t value) {
    int shift = std::bit_width(value) - (kSubBits + 1);
    shift = shift < 0 ? 0 : shift;
    return (static_cast<uint32_t>(shift) << kSubBits) + static_cast<uint32_t>(value >> shift);
  }
  static uint64_t lower(uint32_t index);     // smallest value of a bucket
  static uint64_t midpoint(uint32_t index);  // its representative value

  void record_n(uint64_t value, uint64_t count);
  void merge(const SeriesHistogram& o);
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // Nearest rank: 0 gives min(), 100 max(); the bucket's midpoint clamped into [min, max].
  uint64_t percentile(double p) const;
  // The "h1" text form of results/histogram.h: "h1 count min max 0 sum sum_sq value:count,..."
  // with each bucket's lowest value ("" when empty).
  std::string encode() const;
  static bool decode(std::string_view text, SeriesHistogram& out, std::string& error);
  size_t memory_bytes() const {
    return sizeof(*this) + index_.capacity() * sizeof(uint16_t) + counts_.capacity() * sizeof(uint32_t);
  }
  // Whether merge(o) keeps every count within 32 bits (always true for one second).
  bool can_merge(const SeriesHistogram& o) const {
    return count_ + o.count_ <= std::numeric_limits<uint32_t>::max();
  }

 private:
  friend class SecondHistogram;
  void push(uint32_t index, uint64_t count);
  // Non-empty buckets by increasing index, as two packed columns (6 bytes a bucket).
  std::vector<uint16_t> index_;   // bucket index
  std::vector<uint32_t> counts_;  // its count
  uint64_t count_ = 0;                                  // samples
  uint64_t min_ = 0;                                    // smallest sample (when count_ > 0)
  uint64_t max_ = 0;                                    // largest sample
  unsigned __int128 sum_ = 0;                           // sum of samples
  unsigned __int128 sum_sq_ = 0;                        // sum of squared samples
};

// A dense histogram for the second being recorded (the request path: no allocation, a few
// additions). drain_into() turns it into a SeriesHistogram and empties it.
class SecondHistogram {
 public:
  SecondHistogram() { counts_.fill(0); }
  void record(uint64_t value) {
    value = value > SeriesHistogram::kMaxValue ? SeriesHistogram::kMaxValue : value;
    const uint32_t i = SeriesHistogram::index(value);
    ++counts_[i];
    lo_ = i < lo_ ? i : lo_;
    hi_ = i > hi_ ? i : hi_;
    ++count_;
    min_ = value < min_ ? value : min_;
    max_ = value > max_ ? value : max_;
    sum_ += value;
    sum_sq_ += static_cast<double>(value) * static_cast<double>(value);
  }
  bool empty() const { return count_ == 0; }
  void drain_into(SeriesHistogram& out);

 private:
  std::array<uint32_t, SeriesHistogram::kBuckets> counts_;  // samples per bucket
  uint32_t lo_ = SeriesHistogram::kBuckets;  // lowest bucket used
  uint32_t hi_ = 0;                          // highest bucket used
  uint64_t count_ = 0;                       // samples
  uint64_t min_ = std::numeric_limits<uint64_t>::max();  // smallest sample
  uint64_t max_ = 0;                         // largest sample
  unsigned __int128 sum_ = 0;                // sum of samples
  double sum_sq_ = 0;                        // sum of squared samples (a second's spread)
};

// What a series measured in one bucket of time.
struct SeriesPoint {
  static constexpr size_t kErrorKinds = 5;    // connect, read, write, timeout, status
  static constexpr size_t kStatusClasses = 6; // 1xx, 2xx, 3xx, 4xx, 5xx, other

  uint64_t requests = 0;                             // requests that ended (http_reqs)
  uint64_t failed = 0;                               // of those, failed (http_req_failed)
  std::array<uint64_t, kErrorKinds> errors{};        // wrk's error kinds (timeouts per request)
  std::array<uint64_t, kStatusClasses> status_class{};  // responses by status class
  std::map<int, uint64_t> status_codes;              // name scope: by code, 0 = no response
  uint64_t bytes_sent = 0;                           // run scope: bytes sent
  uint64_t bytes_received = 0;                       // run scope: bytes received
  uint64_t iterations = 0;                           // iterations finished
  uint64_t dropped_iterations = 0;                   // arrivals never started
  uint64_t interrupted_iterations = 0;               // iterations cut unfinished
  uint32_t vus = 0;                                  // VUs running at the end of the bucket
  uint32_t vus_max = 0;                              // VUs allocated at the end of the bucket
  double target_vus = std::nan("");                  // closed-loop target VUs (NaN: none)
  double target_rate = std::nan("");                 // open-loop target iterations/s (NaN: none)
  SeriesHistogram latency;                           // request durations, us
  SeriesHistogram send_lag;                          // send lag, us

  // The same span measured elsewhere (another worker): everything adds, gauges too.
  void add_parallel(const SeriesPoint& o);
  // The span right after this one (coarsening): counts add, gauges take the later values.
  void add_later(const SeriesPoint& o);
  size_t memory_bytes() const;
};

// Which series: the whole run, one scenario, or one request name of a scenario.
enum class SeriesScope : uint8_t { kRun, kScenario, kName };

struct SeriesKey {
  SeriesScope scope = SeriesScope::kRun;
  uint32_t scenario = 0;  // scenario index (scenario and name scopes)
  std::string name;       // request name (name scope)
  std::string method;     // its method (name scope)
  auto operator<=>(const SeriesKey&) const = default;
};

// One worker's closed second.
struct ClosedSecond {
  uint64_t index = 0;                                     // seconds since the run start
  std::vector<std::pair<SeriesKey, SeriesPoint>> series;  // every series that had data
};

// The run's time series, on the main thread.
class TimeSeries {
 public:
  static constexpr size_t kPerLevel = 120;  // buckets kept of each width (1 s, 2 s, 4 s ...)

  struct Bucket {
    uint64_t start_s = 0;                    // seconds of run time
    uint64_t width_s = 1;                    // length in seconds
    std::map<SeriesKey, SeriesPoint> series; // what each series measured
  };

  // Merges a worker's second in; seconds between the last bucket and it get empty buckets.
  void add(ClosedSecond second);
  // Replaces every bucket (pelt merge builds a fleet's series from its instances' summaries).
  void assign(std::deque<Bucket> buckets) {
    buckets_ = std::move(buckets);
    ++generation_;
  }
  const std::deque<Bucket>& buckets() const { return buckets_; }
  // Every key that appears in any bucket, in order (run, scenarios, names).
  std::vector<SeriesKey> keys() const;
  // Incremented whenever old buckets are merged (indices of buckets shift).
  uint64_t generation() const { return generation_; }
  size_t memory_bytes() const;

 private:
  void coarsen();
  static bool fits(const Bucket& a, const Bucket& b);  // merging keeps counts within 32 bits
  std::deque<Bucket> buckets_;  // oldest first; widths never grow towards the newest
  uint64_t generation_ = 0;     // coarsenings so far
};

}  // namespace pelt
