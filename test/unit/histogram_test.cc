#include "results/histogram.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using pelt::Histogram;

// Nearest-rank percentile of sorted data, p given in thousandths of a percent.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, uint64_t p_milli) {
  uint64_t n = sorted.size();
  uint64_t rank = (p_milli * n + 99999) / 100000;
  rank = std::clamp<uint64_t>(rank, 1, n);
  return sorted[rank - 1];
}

std::vector<uint64_t> sample(const std::string& kind, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out;
  out.reserve(n);
  std::uniform_int_distribution<uint64_t> uniform(1, 1000000);
  std::lognormal_distribution<double> lognormal(std::log(5000.0), 1.0);
  std::normal_distribution<double> fast(500, 50), slow(50000, 5000);
  std::uniform_real_distribution<double> log_span(0, std::log(3.6e9));
  std::bernoulli_distribution coin(0.9);
  for (size_t i = 0; i < n; ++i) {
    double v = 0;
    if (kind == "uniform") {
      v = static_cast<double>(uniform(rng));
    } else if (kind == "lognormal") {
      v = lognormal(rng);
    } else if (kind == "bimodal") {
      v = coin(rng) ? fast(rng) : slow(rng);
    } else {
      v = std::exp(log_span(rng));  // 1 us .. 1 h, evenly spread over magnitudes
    }
    out.push_back(static_cast<uint64_t>(std::clamp(v, 1.0, 3.6e9)));
  }
  return out;
}

long double exact_mean(const std::vector<uint64_t>& v) {
  long double sum = 0;
  for (uint64_t x : v) sum += x;
  return sum / v.size();
}

long double exact_stdev(const std::vector<uint64_t>& v) {
  long double mean = exact_mean(v), ss = 0;
  for (uint64_t x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / (v.size() - 1));
}

}  // namespace

TEST_CASE("histogram bucket layout is contiguous and fine enough", "[histogram]") {
  CHECK(sizeof(Histogram) < 64 * 1024);
  CHECK(Histogram::bucket_index(Histogram::kMaxValue) == Histogram::kBuckets - 1);
  CHECK(Histogram::kMaxValue >= (uint64_t{1} << 36) - 1);
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    uint64_t lower = Histogram::bucket_lower(i);
    uint64_t width = Histogram::bucket_width(i);
    INFO("bucket " << i);
    REQUIRE(Histogram::bucket_index(lower) == i);
    REQUIRE(Histogram::bucket_index(lower + width - 1) == i);
    if (i + 1 < Histogram::kBuckets) REQUIRE(Histogram::bucket_lower(i + 1) == lower + width);
    if (lower < Histogram::kSubBuckets) REQUIRE(width == 1);
    if (lower >= Histogram::kSubBuckets) REQUIRE(width * Histogram::kSubBuckets <= lower);
  }
}

TEST_CASE("empty histogram reports zeros", "[histogram]") {
  Histogram h;
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0);
  CHECK(h.stdev() == 0);
  CHECK(h.percentile(50) == 0);
  CHECK(h.within_stdev(0, 0, 1) == 0);
  CHECK(h.distinct() == 0);
  CHECK(h.count_at_or_below(1000) == 0);
  uint64_t v = 0, c = 0;
  CHECK_FALSE(h.value_at(0, v, c));
  CHECK(h.buckets().empty());
}

TEST_CASE("small values are exact", "[histogram]") {
  Histogram h;
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v <= 100; ++v) {
    h.record(v);
    values.push_back(v);
  }
  CHECK(h.count() == 100);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100);
  CHECK(h.mean() == Approx(50.5).epsilon(1e-15));
  CHECK(h.stdev() == Approx(static_cast<double>(exact_stdev(values))).epsilon(1e-12));
  CHECK(h.percentile(0) == 1);
  CHECK(h.percentile(50) == 50);
  CHECK(h.percentile(90) == 90);
  CHECK(h.percentile(99.5) == 100);
  CHECK(h.percentile(100) == 100);
  CHECK(h.percentile(0.001) == 1);
  CHECK(h.count_at_or_below(0) == 0);
  CHECK(h.count_at_or_below(42) == 42);
  CHECK(h.count_at_or_below(1000) == 100);
  // wrk's +/- Stdev: share of samples in [mean - stdev, mean + stdev].
  double mean = h.mean(), sd = h.stdev();
  size_t inside = std::count_if(values.begin(), values.end(),
                                [&](uint64_t x) { return x >= mean - sd && x <= mean + sd; });
  CHECK(h.within_stdev(mean, sd, 1) == Approx(inside));  // 100 samples: count == percent
  CHECK(h.within_stdev(mean, sd, 3) == Approx(100));
}

TEST_CASE("nearest rank is not thrown off by floating-point noise", "[histogram]") {
  Histogram h;
  for (uint64_t v = 1; v <= 10; ++v) h.record(v);
  for (int k = 1; k <= 10; ++k) {
    INFO("p" << k * 10);
    CHECK(h.percentile(k * 10.0) == static_cast<uint64_t>(k));
    CHECK(h.percentile(k * 10.0 - 0.01) == static_cast<uint64_t>(k));
  }
  Histogram big;
  for (uint64_t v = 0; v < 100; ++v) big.record_n(v, 10);  // 1000 samples
  CHECK(big.percentile(99.9) == 99);                       // rank 999, not 1000
  CHECK(big.percentile(0.1) == 0);
  CHECK(big.percentile(0.2) == 0);
  CHECK(big.percentile(1.1) == 1);
}

TEST_CASE("single value: every percentile is that value", "[histogram]") {
  Histogram h;
  h.record_n(1234567, 10);
  h.record_n(99, 0);  // zero count changes nothing
  CHECK(h.count() == 10);
  CHECK(h.min() == 1234567);
  for (double p : {0.0, 1.0, 50.0, 99.99, 100.0}) CHECK(h.percentile(p) == 1234567);
  CHECK(h.stdev() == 0);
  CHECK(h.within_stdev(h.mean(), h.stdev(), 1) == Approx(100));
}

TEST_CASE("values above the top are clamped and counted", "[histogram]") {
  Histogram h;
  h.record(5);
  h.record(Histogram::kMaxValue + 1000);
  h.record(~uint64_t{0});
  CHECK(h.count() == 3);
  CHECK(h.overflow() == 2);
  CHECK(h.max() == Histogram::kMaxValue);
  CHECK(h.percentile(100) == Histogram::kMaxValue);
  CHECK(h.percentile(50) >= Histogram::kMaxValue - Histogram::kMaxValue / Histogram::kSubBuckets);  // top bucket
}

TEST_CASE("percentiles within 1% of exact on varied distributions", "[histogram]") {
  auto kind = GENERATE(as<std::string>{}, "uniform", "lognormal", "bimodal", "log-uniform");
  std::vector<uint64_t> values = sample(kind, 200000, 42);
  Histogram h;
  for (uint64_t v : values) h.record(v);
  std::vector<uint64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  INFO("distribution " << kind);
  CHECK(h.count() == values.size());
  CHECK(h.min() == sorted.front());
  CHECK(h.max() == sorted.back());
  CHECK(h.mean() == Approx(static_cast<double>(exact_mean(values))).epsilon(1e-12));
  CHECK(h.stdev() == Approx(static_cast<double>(exact_stdev(values))).epsilon(1e-9));
  for (uint64_t p_milli : {50000, 75000, 90000, 99000, 99900, 99990}) {
    double p = p_milli / 1000.0;
    uint64_t exact = exact_percentile(sorted, p_milli);
    uint64_t got = h.percentile(p);
    double rel = std::abs(static_cast<double>(got) - static_cast<double>(exact)) / exact;
    INFO("p" << p << " exact " << exact << " got " << got);
    CHECK(rel <= 0.01);
    CHECK(rel <= 1.0 / (2 * Histogram::kSubBuckets));
  }
  CHECK(h.percentile(0) == sorted.front());
  CHECK(h.percentile(100) == sorted.back());
  // Bucket counts agree with the data.
  uint64_t bound = exact_percentile(sorted, 90000);
  uint64_t at_or_below = std::upper_bound(sorted.begin(), sorted.end(), bound) - sorted.begin();
  uint64_t approx = h.count_at_or_below(bound);
  CHECK(std::abs(static_cast<double>(approx) - static_cast<double>(at_or_below)) <=
        0.01 * values.size());
}

TEST_CASE("merging two halves equals recording the whole", "[histogram]") {
  std::vector<uint64_t> values = sample("log-uniform", 50000, 7);
  Histogram whole, a, b;
  for (size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    (i % 2 ? a : b).record(values[i]);
  }
  Histogram merged = a;
  merged.merge(b);
  CHECK(merged.encode() == whole.encode());
  CHECK(merged.count() == whole.count());
  CHECK(merged.min() == whole.min());
  CHECK(merged.max() == whole.max());
  CHECK(merged.mean() == whole.mean());
  CHECK(merged.stdev() == whole.stdev());
  for (double p : {50.0, 99.0, 99.99}) CHECK(merged.percentile(p) == whole.percentile(p));
  // Merging an empty histogram changes nothing; merging into an empty one copies.
  Histogram empty;
  merged.merge(empty);
  CHECK(merged.encode() == whole.encode());
  empty.merge(whole);
  CHECK(empty.encode() == whole.encode());
  // reset() forgets everything.
  merged.reset();
  CHECK(merged.encode() == Histogram().encode());
}

TEST_CASE("encode/decode round-trips exactly", "[histogram]") {
  std::vector<uint64_t> values = sample("bimodal", 20000, 3);
  Histogram h;
  for (uint64_t v : values) h.record(v);
  h.record(Histogram::kMaxValue + 1);
  std::string text = h.encode();
  CHECK(text.find('"') == std::string::npos);
  CHECK(text.find('\\') == std::string::npos);
  Histogram back;
  back.record(77);  // decode replaces previous contents
  std::string error;
  REQUIRE(Histogram::decode(text, back, error));
  CHECK(back.encode() == text);
  CHECK(back.count() == h.count());
  CHECK(back.overflow() == 1);
  CHECK(back.mean() == h.mean());
  CHECK(back.stdev() == h.stdev());
  CHECK(back.percentile(99.9) == h.percentile(99.9));

  Histogram empty;
  REQUIRE(Histogram::decode(Histogram().encode(), empty, error));
  CHECK(empty.count() == 0);

  for (const char* bad : {"", "h2 0 0 0 0 0 0 ", "h1 1 5 5 0 5 25 5:2", "h1 1 5 5 0 5 25 5",
                          "h1 x 5 5 0 5 25 5:1", "h1 1 9 5 0 5 25 5:1"}) {
    INFO("input: " << bad);
    Histogram out;
    out.record(3);
    error.clear();
    CHECK_FALSE(Histogram::decode(bad, out, error));
    CHECK_FALSE(error.empty());
    CHECK(out.count() == 1);  // untouched on failure
  }
}

TEST_CASE("from_buckets rebuilds the bucket contents", "[histogram]") {
  std::vector<uint64_t> values = sample("lognormal", 20000, 11);
  Histogram h;
  for (uint64_t v : values) h.record(v);
  Histogram rebuilt = Histogram::from_buckets(h.buckets());
  CHECK(rebuilt.buckets() == h.buckets());
  CHECK(rebuilt.count() == h.count());
  CHECK(rebuilt.distinct() == h.distinct());
  for (double p : {50.0, 90.0, 99.0}) {
    CHECK(std::abs(static_cast<double>(rebuilt.percentile(p)) -
                   static_cast<double>(h.percentile(p))) <= h.percentile(p) / double(Histogram::kSubBuckets));
  }
  CHECK(rebuilt.mean() == Approx(h.mean()).epsilon(0.01));
}

TEST_CASE("value_at walks the non-empty buckets in order", "[histogram]") {
  std::vector<uint64_t> values = sample("uniform", 5000, 5);
  Histogram h;
  for (uint64_t v : values) h.record(v);
  auto buckets = h.buckets();
  REQUIRE(h.distinct() == buckets.size());
  uint64_t value = 0, count = 0, total = 0, previous = 0;
  size_t i = 0;
  for (; h.value_at(i, value, count); ++i) {
    REQUIRE(i < buckets.size());
    CHECK(value == buckets[i].first);
    CHECK(count == buckets[i].second);
    CHECK((i == 0 || value > previous));
    previous = value;
    total += count;
  }
  CHECK(i == h.distinct());
  CHECK(total == h.count());
  // Random access backwards, then after new samples the walk sees them.
  for (size_t j = buckets.size(); j-- > 0;) {
    REQUIRE(h.value_at(j, value, count));
    CHECK(value == buckets[j].first);
  }
  h.record(2);  // below every uniform sample: becomes the first bucket
  REQUIRE(h.value_at(0, value, count));
  CHECK(value == 2);
  CHECK(count == 1);
  REQUIRE(h.value_at(1, value, count));
  CHECK(value == buckets[0].first);
  CHECK_FALSE(h.value_at(h.distinct(), value, count));
}

TEST_CASE("few samples: quantile interpolates between samples as k6 does", "[histogram]") {
  Histogram h;
  CHECK(h.quantile(50) == 0);
  CHECK_FALSE(h.exact());
  // k6's own example: the median of 10, 20, ... 100 ms is 55 ms (here in microseconds).
  for (uint64_t ms = 100; ms >= 10; ms -= 10) h.record(ms * 1000);
  REQUIRE(h.exact());
  CHECK(h.quantile(50) == Approx(55000));
  CHECK(h.percentile(50) != 55000);  // the nearest rank gives a sample (about 50 ms)
  // p(95): rank 0.95 * 9 = 8.55, between 90 and 100 ms.
  CHECK(h.quantile(95) == Approx(95500));
  CHECK(h.quantile(90) == Approx(91000));
  CHECK(h.quantile(0) == 10000);
  CHECK(h.quantile(100) == 100000);
  // One sample is every quantile.
  Histogram one;
  one.record(1234);
  CHECK(one.quantile(1) == 1234);
  CHECK(one.quantile(99.9) == 1234);
  // Values large enough to fall in wide buckets stay exact too.
  Histogram wide;
  wide.record(1'000'003);
  wide.record(2'000'001);
  CHECK(wide.quantile(50) == Approx(1'500'002));
}

TEST_CASE("exact samples survive merges while few, and give way to the buckets beyond",
          "[histogram]") {
  Histogram a, b;
  for (uint64_t v = 1; v <= 6; ++v) a.record(v * 1000);
  for (uint64_t v = 7; v <= 10; ++v) b.record(v * 1000);
  a.merge(b);
  REQUIRE(a.exact());
  CHECK(a.quantile(50) == Approx(5500));
  a.record_n(11000, 2);
  CHECK(a.count() == 12);
  CHECK(a.exact());
  CHECK(a.quantile(100) == 11000);

  // Past kExactSamples the histogram answers (within its 0.2% bucket error).
  Histogram big;
  for (uint64_t i = 1; i <= Histogram::kExactSamples; ++i) big.record(i * 10);
  CHECK(big.exact());
  CHECK(big.quantile(50) == Approx(5.0 * (Histogram::kExactSamples + 1)));
  big.record(5);
  CHECK_FALSE(big.exact());
  CHECK(big.quantile(50) == Approx(static_cast<double>(big.percentile(50))));
  // Merging two lists that together do not fit keeps none.
  Histogram c, d;
  c.record_n(100, Histogram::kExactSamples);
  d.record(200);
  REQUIRE(c.exact());
  c.merge(d);
  CHECK_FALSE(c.exact());
  // A decoded histogram has buckets only.
  Histogram e;
  std::string error;
  REQUIRE(Histogram::decode(a.encode(), e, error));
  CHECK_FALSE(e.exact());
  CHECK(e.quantile(50) == Approx(static_cast<double>(e.percentile(50))));
  // reset() forgets the samples.
  a.reset();
  CHECK_FALSE(a.exact());
  a.record(7);
  CHECK(a.quantile(50) == 7);
}
