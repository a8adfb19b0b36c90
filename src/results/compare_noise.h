// How much of a difference between two runs is noise: a moving-block bootstrap over each run's
// per-second buckets (the summary's `timeseries`). Each resample draws, for each run
// independently, blocks of consecutive buckets (block length ⌈n^(1/3)⌉, so the correlation of
// neighbouring seconds stays inside the blocks) until it has as many buckets as the run, and
// computes every statistic of both resamples: requests per second, error rate and latency
// percentiles from the merged bucket histograms. The spread of the differences over the
// resamples (their 2.5% and 97.5% quantiles) is the noise of the difference; a difference
// larger than half that interval's width (plus, for latency percentiles, the histograms'
// rounding: 1/128 of each value) and than 1% (0.1 percentage points for error rates) is called
// beyond the noise (results/compare.cc). docs/CAPACITY.md states the method for readers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

namespace pelt {

// One bucket of a run's time series.
struct SecondSample {
  double start_s = 0;                                  // its start, seconds of run time
  double width_s = 1;                                  // its length, seconds
  uint64_t requests = 0;                               // requests that ended in it
  uint64_t failed = 0;                                 // of those, failed
  std::vector<std::pair<uint32_t, uint64_t>> latency;  // (series histogram bucket index, count)
};

// The statistics the bootstrap computes.
enum class NoiseStat : size_t { kRps, kErrorRate, kP50, kP90, kP95, kP99, kCount };
constexpr size_t kNoiseStats = static_cast<size_t>(NoiseStat::kCount);

// Buckets fewer than this in either run: the noise is unknown.
constexpr size_t kMinNoiseBuckets = 4;

// The run-scope buckets of `doc` (a summary document) lying wholly within run seconds
// [from_s, to_s). Empty when the document has no time series.
std::vector<SecondSample> read_seconds(const nlohmann::json& doc, double from_s, double to_s);

// A statistic of a set of buckets (what the summary's figures are, up to bucket rounding):
// rps = sum(requests) / sum(width) etc. Percentiles in ms, the error rate as a ratio.
std::optional<double> second_stat(const std::vector<SecondSample>& seconds, NoiseStat stat);

// Half the width of the 95% bootstrap interval of stat(b) - stat(a), per statistic (nullopt
// where it cannot be told: too few buckets, or no latency samples). Deterministic for a seed.
std::array<std::optional<double>, kNoiseStats> noise_half_widths(const std::vector<SecondSample>& a,
                                                                 const std::vector<SecondSample>& b,
                                                                 size_t resamples, uint64_t seed);

}  // namespace pelt
