#include "observe/prometheus_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace pelt {
namespace {

using nlohmann::json;

HttpClientOptions client_options(std::chrono::milliseconds timeout) {
  HttpClientOptions o;
  o.connect_timeout = timeout;
  o.read_timeout = timeout;
  o.max_response_bytes = 32 * 1024 * 1024;
  return o;
}

// Adds a sample given as Prometheus writes it: [unix time, "value"].
void add_sample(const json& pair, ObserveFigure& f, double& sum) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) return;
  const std::string text = pair[1].get<std::string>();
  double v = 0;
  try {
    v = std::stod(text);
  } catch (...) {
    return;
  }
  if (!std::isfinite(v)) return;  // NaN and ±Inf (a division by an idle counter) say nothing
  f.min = f.samples == 0 ? v : std::min(f.min, v);
  f.max = f.samples == 0 ? v : std::max(f.max, v);
  sum += v;
  ++f.samples;
}

}  // namespace

PrometheusApi::PrometheusApi(std::string base_url, std::chrono::milliseconds timeout)
    : base_(std::move(base_url)), client_(client_options(timeout)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

ObserveFigure PrometheusApi::instant(const std::string& query) {
  return get("/api/v1/query?query=" + url_query_escape(query));
}

ObserveFigure PrometheusApi::range(const std::string& query, double start_unix, double end_unix,
                                   double step_s) {
  end_unix = std::max(end_unix, start_unix);
  return get(fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step={:.3f}",
                         url_query_escape(query), start_unix, end_unix, std::max(step_s, 0.001)));
}

ObserveFigure PrometheusApi::get(const std::string& path_and_query) {
  ObserveFigure f;
  HttpResponse response;
  std::string error;
  if (!client_.get(base_ + path_and_query, {}, response, error)) {
    f.status = ObserveFigure::Status::kUnreachable;
    f.error = error;
    return f;
  }
  json doc;
  try {
    doc = json::parse(response.body);
  } catch (const json::exception&) {
    f.status = response.status == 200 ? ObserveFigure::Status::kError
                                      : ObserveFigure::Status::kUnreachable;
    f.error = fmt::format(
        "{} answered HTTP {} {} without Prometheus's JSON (is it Prometheus's address?)", base_,
        response.status, response.reason);
    return f;
  }
  if (!doc.is_object() || doc.value("status", "") != "success") {
    f.status = ObserveFigure::Status::kError;
    const std::string type = doc.is_object() ? doc.value("errorType", "") : "";
    const std::string message = doc.is_object() ? doc.value("error", "") : "";
    f.error = message.empty() ? fmt::format("HTTP {} {}", response.status, response.reason)
                              : (type.empty() ? message : type + ": " + message);
    return f;
  }
  const json& data = doc["data"];
  const std::string type = data.value("resultType", "");
  const json& result = data["result"];
  double sum = 0;
  if (type == "scalar") {
    add_sample(result, f, sum);
  } else if (result.is_array()) {
    for (const json& series : result) {
      if (type == "vector" && series.contains("value")) add_sample(series["value"], f, sum);
      if (type == "matrix" && series.contains("values") && series["values"].is_array()) {
        for (const json& pair : series["values"]) add_sample(pair, f, sum);
      }
    }
  }
  if (f.samples == 0) {
    f.status = ObserveFigure::Status::kNoData;
    return f;
  }
  f.status = ObserveFigure::Status::kOk;
  f.avg = sum / static_cast<double>(f.samples);
  return f;
}

}  // namespace pelt
