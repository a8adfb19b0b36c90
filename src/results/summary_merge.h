// pelt merge's logic, without files or a console: the summaries of a fleet's instances in, one
// RunReport of the whole fleet out — counts summed, histograms merged exactly, per-second
// series aligned by their wall-clock starts, thresholds evaluated again on the merged figures
// by the same code as at the end of a run. It refuses summaries that do not belong together
// (schema versions, plans, segment counts, a segment held twice) and names missing segments.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "results/report.h"
#include "results/series.h"

namespace pelt {

// One summary document and the name messages use for it (its file name).
struct MergeSource {
  std::string label;   // e.g. "out/pod-0.json"
  nlohmann::json doc;  // the parsed document
};

struct MergedRun {
  std::unique_ptr<RunReport> report;   // the fleet's report (outcomes point into its info)
  std::unique_ptr<TimeSeries> series;  // the fleet's per-second series (report->timeseries)
  std::vector<std::string> notes;      // what the console should say, e.g. about a partial merge
};

// Merges `inputs` (at least one). allow_partial: missing segments are named in the notes and
// the report instead of refusing. False with a message when the inputs cannot be merged.
bool merge_summaries(const std::vector<MergeSource>& inputs, bool allow_partial, MergedRun& out,
                     std::string& error);

// "1/3" or "1/4, 3/4": segments by index.
std::string segment_list(const std::vector<uint32_t>& indexes, uint32_t count);

}  // namespace pelt
