// The live dashboard's messages, built from summary documents with a time series
// (the protocol is in docs/REPORT.md): `tick` events carry the document without its time
// series and the time-series columns from index `from` on; `end` follows the final tick.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace pelt {

// Number of buckets of `timeseries` in `before` that `after` still has unchanged (same t and
// width at the same index). Old buckets of long runs get coarsened; from there on a page must
// take the columns again.
size_t stable_bucket_prefix(const nlohmann::json& before, const nlohmann::json& after);

// Number of buckets in a document's time series (0 when it has none).
size_t bucket_count(const nlohmann::json& doc);

// `timeseries` with every column cut to the buckets from `from` on, plus "from": from.
nlohmann::json timeseries_from(const nlohmann::json& timeseries, size_t from);

// One text/event-stream `tick` event: {"summary": <summary_json>, "timeseries": {from ...}}.
// `summary_json` is the document without "timeseries", already serialized.
std::string tick_event(const std::string& summary_json, const nlohmann::json& doc, size_t from);

// The `end` event that follows the final tick.
std::string end_event();

// JSON text of `value` as the dashboard sends it (compact; invalid UTF-8 replaced).
std::string dump_json(const nlohmann::json& value);

}  // namespace pelt
