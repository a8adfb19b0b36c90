// Internal to the outputs: what InfluxDB and remote-write outputs share (a Pusher, flush,
// stats, credentials from the environment).
#pragma once

#include <optional>
#include <string>

#include "outputs/output.h"
#include "outputs/pusher.h"

namespace pelt {

class PushOutput : public Output {
 public:
  PushOutput(const OutputConfig& config, const std::string& url, PusherOptions options,
             RequestBuilder build)
      : kind_(output_kind_name(config.kind)),
        url_(url),
        pusher_(std::move(options), std::move(build)) {}

  bool flush(std::chrono::steady_clock::time_point deadline) override {
    return pusher_.flush(deadline);
  }
  OutputStats stats() const override { return OutputStats{kind_, url_, pusher_.stats()}; }

 protected:
  std::string kind_;  // "influxdb" ...
  std::string url_;   // the configured URL
  Pusher pusher_;     // the sender
};

// The sender's options for an output: name, flush interval, timeouts, TLS, warnings.
PusherOptions pusher_options(const OutputConfig& config, const OutputRunInfo& run);

// An environment variable through OutputRunInfo::getenv; empty values count as unset.
std::optional<std::string> env_value(const OutputRunInfo& run, const std::string& name);

// "Basic <base64(user:password)>".
std::string basic_authorization(const std::string& user, const std::string& password);

}  // namespace pelt
