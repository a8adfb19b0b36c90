// The time series in JSON (the summary's `timeseries` section, the dashboard's ticks) and as
// a file: CSV (one row per bucket and series, a header row, units in column names) or JSON
// lines (one object per row, the same keys).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "results/report.h"
#include "results/series.h"

namespace pelt {

// Columns of every series for the buckets from index `from` on (docs/OUTPUT.md).
nlohmann::json timeseries_json(const TimeSeries& series, const RunInfo& info, size_t from = 0);
// The file form: CSV, or JSON lines when json_lines.
std::string timeseries_file_text(const TimeSeries& series, const RunInfo& info, bool json_lines);

}  // namespace pelt
