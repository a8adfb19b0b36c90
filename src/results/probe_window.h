// A window of the per-second time series read as if it were a whole run: the figures of run
// seconds [from, to) as WorkerStats, so the metric catalogue's readers (and so the thresholds)
// judge any window exactly as they judge a run. capacity-search judges each probe this way.
//
// The series keeps per second: requests and how they ended, status classes (codes per request
// name), latency and send-lag histograms, bytes, iterations (finished, dropped, interrupted)
// and the VU gauges. Metrics built on anything else (checks, connect and TLS times, time to
// first byte, service time) cannot be judged on a window; window_has_metric() says which can.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "results/series.h"
#include "results/stats.h"

namespace pelt {

// Catalogue metrics a window can be judged on, in catalogue order.
const std::vector<std::string_view>& window_metrics();
bool window_has_metric(std::string_view metric);

// The figures of the buckets that start in run seconds [from_s, to_s), for `scenarios`
// scenarios (each with one stage). Counts, histograms and status codes add up over the
// buckets; the VU gauges are the last bucket's.
WorkerStats window_stats(const TimeSeries& series, uint64_t from_s, uint64_t to_s,
                         size_t scenarios);

}  // namespace pelt
