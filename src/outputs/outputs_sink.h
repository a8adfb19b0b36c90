// The pushed outputs (InfluxDB, Prometheus remote write) as one Sink: once a second the new
// buckets of the time series and the /metrics families go to every output's sender; at the
// end the rest, then a flush bounded by 2 s, and what each delivered or lost goes into the
// report.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "outputs/output_config.h"
#include "results/metrics.h"
#include "results/sink.h"

namespace pelt {

// Starts the outputs of `configs` (credentials from the environment). Null with `error` set
// when one cannot start (a missing token, ...).
std::unique_ptr<Sink> make_outputs_sink(const std::vector<OutputConfig>& configs,
                                        const MetricsOptions& metrics, bool tls_verify,
                                        const std::string& ca_file, Console& console,
                                        std::string& error);

}  // namespace pelt
