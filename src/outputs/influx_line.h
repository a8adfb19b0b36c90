// InfluxDB line protocol: escaping, one point, and the points of a time-series tick.
//
// A tick is the per-second time series of the summary (schema pelt.summary/v2, "timeseries":
// t, width, start_unix_ms and series whose columns hold the buckets). Every bucket of every
// series becomes one point, timestamped (ms) at the bucket's start:
//
//   pelt_run       tags run_id                          the whole run
//   pelt_scenario  tags run_id, scenario                one scenario
//   pelt_request   tags run_id, scenario, name, method  one request name
//   pelt_status    tags run_id, scenario, name, method, status   one status code of a name
//
// plus the user's extra tags on every point. Fields are listed in docs/OUTPUTS.md; counts are
// integers ("12i"), rates and latencies (milliseconds) floats. Writing the same bucket again
// (a tick re-sends the newest bucket once it is complete) replaces the point in InfluxDB: same
// measurement, tags and time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

// Measurement names: ',' and ' ' are escaped with '\'.
std::string influx_escape_measurement(std::string_view text);

// Tag keys, tag values and field keys: ',', '=' and ' ' are escaped with '\'. A line break
// becomes a space (line protocol cannot carry one). A backslash stays as it is unless it would
// read as an escape (before a backslash, before an escaped character, or at the end), where
// InfluxDB 1.x and 2.x disagree or refuse the line; such a backslash is written as '/'.
std::string influx_escape_key(std::string_view text);

// One point under construction.
class InfluxPoint {
 public:
  explicit InfluxPoint(std::string_view measurement) : measurement_(measurement) {}

  // Adds a tag; an empty value is left out (line protocol has no empty tag values).
  InfluxPoint& tag(std::string_view key, std::string_view value);
  // Integer field, written as "12i".
  InfluxPoint& field_int(std::string_view key, int64_t value);
  // Float field; NaN and infinities are left out (line protocol has no such values).
  InfluxPoint& field_float(std::string_view key, double value);

  size_t field_count() const { return field_count_; }

  // Appends "measurement,tags fields timestamp\n" (tags sorted by key). Writes nothing and
  // returns false when the point has no field.
  bool write(std::string& out, int64_t timestamp_ms) const;

 private:
  std::string measurement_;                                // raw measurement name
  std::vector<std::pair<std::string, std::string>> tags_;  // raw key, raw value
  std::string fields_;                                     // "k=1i,k2=0.5", escaped
  size_t field_count_ = 0;                                 // fields in fields_
};

// How a tick becomes points.
struct InfluxTickOptions {
  std::string run_id;                                       // tag on every point ("" = none)
  std::map<std::string, std::string> tags;                  // extra tags on every point
  int64_t start_unix_ms = 0;                                // run time 0 when the tick does not say
  double min_t = -std::numeric_limits<double>::infinity();  // skip buckets starting before, s
};

// What encoding a tick produced.
struct InfluxTickResult {
  size_t points = 0;   // lines appended
  size_t buckets = 0;  // buckets encoded
  double last_t = -1;  // start of the newest bucket encoded, run seconds (-1 = none)
};

// Appends the points of the tick's buckets that start at or after options.min_t. `tick` is the
// "timeseries" object, or an object holding one under "timeseries" (a live-dashboard tick).
// False with `error` set when it has no t/series columns.
bool encode_influx_tick(const nlohmann::json& tick, const InfluxTickOptions& options,
                        std::string& out, InfluxTickResult& result, std::string& error);

}  // namespace pelt
