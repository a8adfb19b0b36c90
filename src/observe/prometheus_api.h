// Prometheus's HTTP API as [observe] uses it: one instant query (checked before the load) and
// range queries over a stage's span, each reduced to the average, minimum and maximum of every
// sample of every series it returns. Blocking (util/http_client.h): call it from the observer's
// own thread, never from a worker.
#pragma once

#include <chrono>
#include <string>

#include "results/observe_results.h"
#include "util/http_client.h"

namespace pelt {

class PrometheusApi {
 public:
  // base_url: "http://host:9090" (a path prefix such as /prometheus is kept).
  PrometheusApi(std::string base_url, std::chrono::milliseconds timeout);

  // The query evaluated now (GET /api/v1/query).
  ObserveFigure instant(const std::string& query);
  // The query evaluated every `step_s` seconds over [start, end] (unix seconds; GET
  // /api/v1/query_range).
  ObserveFigure range(const std::string& query, double start_unix, double end_unix, double step_s);
  // Makes the request in progress, and every later one, fail at once (any thread).
  void interrupt() { client_.interrupt(); }
  const std::string& base_url() const { return base_; }

 private:
  ObserveFigure get(const std::string& path_and_query);

  std::string base_;   // without a trailing slash
  HttpClient client_;  // one connection, kept alive
};

}  // namespace pelt
