#include "results/dashboard_events.h"

#include <algorithm>

namespace pelt {
namespace {

using nlohmann::json;

const json* find_array(const json& doc, const char* ts_key) {
  const auto ts = doc.find("timeseries");
  if (ts == doc.end() || !ts->is_object()) return nullptr;
  const auto it = ts->find(ts_key);
  return it != ts->end() && it->is_array() ? &*it : nullptr;
}

// Arrays cut to [from, end); objects walked; anything else copied.
json cut_columns(const json& value, size_t from) {
  if (value.is_array()) {
    json out = json::array();
    for (size_t i = from; i < value.size(); ++i) out.push_back(value[i]);
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it)
      out[it.key()] = cut_columns(it.value(), from);
    return out;
  }
  return value;
}

}  // namespace

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

size_t bucket_count(const json& doc) {
  const json* t = doc.is_object() ? find_array(doc, "t") : nullptr;
  return t ? t->size() : 0;
}

size_t stable_bucket_prefix(const json& before, const json& after) {
  if (!before.is_object() || !after.is_object()) return 0;
  const json* t0 = find_array(before, "t");
  const json* t1 = find_array(after, "t");
  const json* w0 = find_array(before, "width");
  const json* w1 = find_array(after, "width");
  if (!t0 || !t1 || !w0 || !w1) return 0;
  const size_t n = std::min({t0->size(), t1->size(), w0->size(), w1->size()});
  size_t i = 0;
  while (i < n && (*t0)[i] == (*t1)[i] && (*w0)[i] == (*w1)[i]) ++i;
  return i;
}

json timeseries_from(const json& timeseries, size_t from) {
  json out = json::object();
  out["from"] = from;
  if (!timeseries.is_object()) return out;
  for (auto it = timeseries.begin(); it != timeseries.end(); ++it) {
    if (it.key() == "series" && it->is_array()) {
      json series = json::array();
      for (const json& s : *it) series.push_back(cut_columns(s, from));
      out["series"] = std::move(series);
    } else if (it.key() != "from") {
      out[it.key()] = cut_columns(it.value(), from);
    }
  }
  return out;
}

std::string tick_event(const std::string& summary_json, const json& doc, size_t from) {
  const auto ts = doc.is_object() ? doc.find("timeseries") : doc.end();
  std::string out = "event: tick\ndata: {\"summary\":";
  out += summary_json;
  if (ts != doc.end() && ts->is_object()) {
    out += ",\"timeseries\":";
    out += dump_json(timeseries_from(*ts, from));
  }
  out += "}\n\n";
  return out;
}

std::string end_event() {
  return "event: end\ndata: {}\n\n";
}

}  // namespace pelt
