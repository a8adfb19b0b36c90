// Prometheus remote write 1.0: the families that build_families() makes for /metrics, turned
// into the series a scrape of /metrics would store, with one sample each at a given time.
//
// Counters, gauges and untyped metrics become one series each; histograms become
// <name>_bucket{le="..."} (cumulative, "+Inf" last), <name>_sum and <name>_count; summaries
// <name>{quantile="..."}, <name>_sum and <name>_count. The le and quantile values are written
// the way the /metrics text is, so pushed and scraped series have the same labels. Labels are
// sorted by name (byte order, so __name__ comes first), labels with empty values are left out,
// and the extra labels are added to every series that does not already have one of that name.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pelt {

// One series and its current value.
struct RwSeries {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name, __name__ included
  double value = 0;                                         // the sample value
};

// The series of the families, in family order.
std::vector<RwSeries> expand_families(const std::vector<prometheus::MetricFamily>& families,
                                      const std::map<std::string, std::string>& extra_labels);

// A serialized (uncompressed) WriteRequest holding every series with one sample at
// timestamp_ms. Serialized requests can be concatenated into one.
std::string encode_write_request(const std::vector<RwSeries>& series, int64_t timestamp_ms);

// Snappy block compression and decompression, as the remote-write body uses. Decompression
// returns false on corrupt input.
std::string snappy_compress(const std::string& raw);
bool snappy_uncompress(const std::string& compressed, std::string& raw);

// Formats a bound or quantile as /metrics does ("0.005", "1e-07", "+Inf").
std::string prometheus_number(double value);

}  // namespace pelt
