#include "results/compare_noise.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <string_view>

#include "results/series.h"

namespace pelt {
namespace {

using nlohmann::json;

constexpr double kEdge = 1e-6;  // seconds of slack at a window's edges

// "h1 count min max overflow sum sum_sq v:c,v:c,...": the (bucket index, count) pairs.
std::vector<std::pair<uint32_t, uint64_t>> histogram_buckets(std::string_view text) {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  size_t at = 0;
  for (int spaces = 0; spaces < 7; ++spaces) {
    at = text.find(' ', at);
    if (at == std::string_view::npos) return out;
    ++at;
  }
  while (at < text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(at, comma - at);
    const size_t colon = item.find(':');
    uint64_t value = 0, count = 0;
    if (colon != std::string_view::npos &&
        std::from_chars(item.data(), item.data() + colon, value).ec == std::errc() &&
        std::from_chars(item.data() + colon + 1, item.data() + item.size(), count).ec ==
            std::errc() &&
        value <= SeriesHistogram::kMaxValue) {
      out.push_back({SeriesHistogram::index(value), count});
    }
    at = comma + 1;
  }
  return out;
}

double number_at(const json& column, size_t i) {
  if (!column.is_array() || i >= column.size() || !column[i].is_number()) return 0;
  return column[i].get<double>();
}

// Statistics of one resample: sums and a dense latency histogram.
struct Tally {
  double width = 0;
  double requests = 0;
  double failed = 0;
  std::vector<uint64_t> counts = std::vector<uint64_t>(SeriesHistogram::kBuckets, 0);
  uint64_t samples = 0;

  void clear() {
    width = requests = failed = 0;
    std::fill(counts.begin(), counts.end(), 0);
    samples = 0;
  }
  void add(const SecondSample& s) {
    width += s.width_s;
    requests += static_cast<double>(s.requests);
    failed += static_cast<double>(s.failed);
    for (const auto& [index, n] : s.latency) {
      if (index < counts.size()) counts[index] += n;
      samples += n;
    }
  }
  // Nearest rank, the bucket's representative value, in ms.
  std::optional<double> percentile(double p) const {
    if (samples == 0) return std::nullopt;
    const uint64_t rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(p / 100 * static_cast<double>(samples))));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= rank)
        return static_cast<double>(SeriesHistogram::midpoint(static_cast<uint32_t>(i))) / 1000.0;
    }
    return std::nullopt;
  }
  std::optional<double> stat(NoiseStat s) const {
    switch (s) {
      case NoiseStat::kRps:
        return width > 0 ? std::optional<double>(requests / width) : std::nullopt;
      case NoiseStat::kErrorRate:
        return requests > 0 ? std::optional<double>(failed / requests) : std::nullopt;
      case NoiseStat::kP50:
        return percentile(50);
      case NoiseStat::kP90:
        return percentile(90);
      case NoiseStat::kP95:
        return percentile(95);
      case NoiseStat::kP99:
        return percentile(99);
      case NoiseStat::kCount:
        break;
    }
    return std::nullopt;
  }
};

// One moving-block resample of `in` into `tally`.
void resample(const std::vector<SecondSample>& in, std::mt19937_64& rng, Tally& tally) {
  tally.clear();
  const size_t n = in.size();
  const size_t block =
      std::max<size_t>(1, static_cast<size_t>(std::ceil(std::cbrt(static_cast<double>(n)))));
  std::uniform_int_distribution<size_t> start(0, n - std::min(block, n));
  size_t taken = 0;
  while (taken < n) {
    const size_t s = start(rng);
    for (size_t k = 0; k < block && taken < n; ++k, ++taken) tally.add(in[s + k]);
  }
}

double quantile(std::vector<double>& v, double q) {
  const size_t k = std::min(
      v.size() - 1, static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1) + 0.5)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

std::vector<SecondSample> read_seconds(const json& doc, double from_s, double to_s) {
  std::vector<SecondSample> out;
  const auto ts = doc.find("timeseries");
  if (ts == doc.end() || !ts->is_object()) return out;
  const json& t = (*ts)["t"];
  const json& width = (*ts)["width"];
  const json* run = nullptr;
  for (const json& s : (*ts)["series"]) {
    if (s.is_object() && s.value("scope", "") == "run") run = &s;
  }
  if (!run || !t.is_array()) return out;
  const json& requests = (*run)["requests"];
  const json& failed = (*run)["failed"];
  const json& hist = (*run)["latency_histogram_us"];
  for (size_t i = 0; i < t.size(); ++i) {
    const double start = number_at(t, i);
    const double w = width.is_array() && i < width.size() ? number_at(width, i) : 1.0;
    if (start < from_s - kEdge || start + w > to_s + kEdge) continue;
    SecondSample s;
    s.start_s = start;
    s.width_s = w > 0 ? w : 1;
    s.requests = static_cast<uint64_t>(number_at(requests, i));
    s.failed = static_cast<uint64_t>(number_at(failed, i));
    if (hist.is_array() && i < hist.size() && hist[i].is_string())
      s.latency = histogram_buckets(hist[i].get<std::string>());
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<double> second_stat(const std::vector<SecondSample>& seconds, NoiseStat stat) {
  Tally t;
  for (const SecondSample& s : seconds) t.add(s);
  return t.stat(stat);
}

std::array<std::optional<double>, kNoiseStats> noise_half_widths(const std::vector<SecondSample>& a,
                                                                 const std::vector<SecondSample>& b,
                                                                 size_t resamples, uint64_t seed) {
  std::array<std::optional<double>, kNoiseStats> out{};
  if (a.size() < kMinNoiseBuckets || b.size() < kMinNoiseBuckets || resamples < 20) return out;
  std::mt19937_64 rng(seed);
  std::array<std::vector<double>, kNoiseStats> diffs;
  Tally ta, tb;
  for (size_t r = 0; r < resamples; ++r) {
    resample(a, rng, ta);
    resample(b, rng, tb);
    for (size_t k = 0; k < kNoiseStats; ++k) {
      const auto va = ta.stat(static_cast<NoiseStat>(k));
      const auto vb = tb.stat(static_cast<NoiseStat>(k));
      if (va && vb) diffs[k].push_back(*vb - *va);
    }
  }
  for (size_t k = 0; k < kNoiseStats; ++k) {
    // Most resamples must give the statistic (a percentile of a run without responses does not).
    if (diffs[k].size() < resamples / 2) continue;
    const double lo = quantile(diffs[k], 0.025);
    const double hi = quantile(diffs[k], 0.975);
    out[k] = (hi - lo) / 2;
  }
  return out;
}

}  // namespace pelt
