// The summary's `timeseries` section read back into buckets, and the buckets of several
// instances merged on a common time axis (pelt merge). Instances are aligned by their
// wall-clock starts (start_unix_ms), to the second.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "results/series.h"

namespace pelt {

// Reads `timeseries` (docs/OUTPUT.md). scenario_names maps the series' scenario names to their
// indexes. False with a message naming the field otherwise.
bool timeseries_from_json(const nlohmann::json& ts, const std::vector<std::string>& scenario_names,
                          std::deque<TimeSeries::Bucket>& out, int64_t& start_unix_ms,
                          std::string& error);

// Adds `from`, whose time axis starts offset_s seconds after the one of `into`, to `into`: a
// bucket meeting one of the same span adds to it (the same seconds measured elsewhere);
// buckets of different widths (coarsened differently) become one spanning both. Gaps are
// filled with empty one-second buckets.
void merge_buckets(std::deque<TimeSeries::Bucket>& into, const std::deque<TimeSeries::Bucket>& from,
                   uint64_t offset_s);

}  // namespace pelt
