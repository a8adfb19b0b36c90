// pelt-outputs-probe: drives the HTTP client and the result outputs from the integration tests
// (test/integration/test_outputs_*.py), so they can be checked against real servers.
//
//   pelt-outputs-probe http [--method M] [--header "K: V"]... [--data-file F] [--ca-file F]
//                           [--insecure] [--connect-timeout MS] [--read-timeout MS]
//                           [--repeat N] URL
//     Sends the request N times on one client; prints JSON {ok, status, headers, body, error,
//     connections, elapsed_ms} of the last one (or of the first failure).
//
//   pelt-outputs-probe push --out KIND=URL... [--out-label K=V]... [--run-id ID]
//                           [--flush-timeout MS] [--tick-interval MS] [--ca-file F]
//                           --ticks FILE
//     FILE holds one JSON object a line: {"tick": <time series>, "stats": <figures>,
//     "now_ms": <wall clock>, "final": bool}. "stats" is turned into WorkerStats and then into
//     the /metrics families (see stats_from_json). Each line is handed to every output
//     (on_tick, or on_final when "final"), then all are flushed. Prints JSON {outputs: [stats,
//     summary, flushed], flush_ms, exposition (the /metrics text of the last line)}.
//
// Exit code 0 when it ran (whatever the servers did), 2 on bad arguments.
#include <prometheus/text_serializer.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "outputs/output.h"
#include "results/metrics.h"
#include "util/http_client.h"

using namespace pelt;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

int usage(const std::string& why) {
  std::cerr << "pelt-outputs-probe: " << why << "\n";
  return 2;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int run_http(const std::vector<std::string>& args) {
  HttpRequest request;
  HttpClientOptions options;
  int repeat = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--method" && has_value) {
      request.method = args[++i];
    } else if (a == "--header" && has_value) {
      const std::string h = args[++i];
      const size_t colon = h.find(':');
      if (colon == std::string::npos) return usage("--header needs \"Name: value\"");
      request.headers.push_back(
          {h.substr(0, colon), h.substr(h.find_first_not_of(' ', colon + 1))});
    } else if (a == "--data-file" && has_value) {
      std::ifstream f(args[++i], std::ios::binary);
      request.body.assign(std::istreambuf_iterator<char>(f), {});
    } else if (a == "--ca-file" && has_value) {
      options.ca_file = args[++i];
    } else if (a == "--insecure") {
      options.tls_verify = false;
    } else if (a == "--connect-timeout" && has_value) {
      options.connect_timeout = std::chrono::milliseconds(std::stol(args[++i]));
    } else if (a == "--read-timeout" && has_value) {
      options.read_timeout = std::chrono::milliseconds(std::stol(args[++i]));
    } else if (a == "--repeat" && has_value) {
      repeat = std::stoi(args[++i]);
    } else if (request.url.empty() && a.rfind("--", 0) != 0) {
      request.url = a;
    } else {
      return usage("unknown argument " + a);
    }
  }
  if (request.url.empty()) return usage("http needs a URL");
  HttpClient client(options);
  HttpResponse response;
  std::string error;
  bool ok = false;
  const auto t0 = Clock::now();
  for (int i = 0; i < repeat; ++i) {
    ok = client.send(request, response, error);
    if (!ok) break;
  }
  json headers = json::array();
  for (const HttpHeader& h : response.headers) headers.push_back({h.name, h.value});
  std::cout << json{{"ok", ok},
                    {"status", response.status},
                    {"headers", headers},
                    {"body", response.body},
                    {"error", error},
                    {"connections", client.connections_opened()},
                    {"elapsed_ms", ms_since(t0)}}
                   .dump()
            << "\n";
  return 0;
}

// {"scenarios": [{"name", "tags": {}, "vus", "vus_max", "iterations", "dropped_iterations",
//   "names": {NAME: {"method", "status": {"200": n}, "no_response": n, "latency_us": [[v, n]],
//   "failures": {"reason": n}}}}], "bytes_read", "bytes_written",
//   "errors": {"connect", "read", "write", "timeout", "status"}}
WorkerStats stats_from_json(const json& j, MetricsOptions& options) {
  WorkerStats s;
  options.scenario_names.clear();
  options.scenario_tags.clear();
  options.arrival_rate.clear();
  const json scenarios = j.value("scenarios", json::array());
  for (const json& sc : scenarios) {
    options.scenario_names.push_back(sc.value("name", "default"));
    options.scenario_tags.push_back(sc.value("tags", std::map<std::string, std::string>{}));
    options.arrival_rate.push_back(false);
    ScenarioStats out;
    out.vus = sc.value("vus", 0u);
    out.vus_max = sc.value("vus_max", 0u);
    out.iterations = sc.value("iterations", uint64_t{0});
    out.dropped_iterations = sc.value("dropped_iterations", uint64_t{0});
    const json names = sc.value("names", json::object());  // items() needs a living object
    for (const auto& [name, n] : names.items()) {
      NameStats& ns = out.names[name];
      ns.method = n.value("method", "GET");
      const json status = n.value("status", json::object());
      for (const auto& [code, count] : status.items()) {
        const int c = std::stoi(code);
        ns.status[c] = count.get<uint64_t>();
        ns.requests.responses += count.get<uint64_t>();
        if (c >= 400) ns.requests.failed_responses += count.get<uint64_t>();
      }
      ns.requests.no_response += n.value("no_response", uint64_t{0});
      for (const json& pair : n.value("latency_us", json::array())) {
        ns.latency.record_n(pair[0].get<uint64_t>(), pair[1].get<uint64_t>());
      }
      const json failures = n.value("failures", json::object());
      // Reasons of requests without a response ("status NNN" reasons come from `status`).
      for (const auto& [reason, count] : failures.items()) {
        if (reason.rfind("status ", 0) == 0) continue;
        ns.failure_reasons[reason] = count.get<uint64_t>();
      }
    }
    s.scenarios.push_back(std::move(out));
  }
  s.bytes_read = j.value("bytes_read", uint64_t{0});
  s.bytes_written = j.value("bytes_written", uint64_t{0});
  const json errors = j.value("errors", json::object());
  s.errors.connect = errors.value("connect", uint64_t{0});
  s.errors.read = errors.value("read", uint64_t{0});
  s.errors.write = errors.value("write", uint64_t{0});
  s.errors.timeout = errors.value("timeout", uint64_t{0});
  s.errors.status = errors.value("status", uint64_t{0});
  return s;
}

int run_push(const std::vector<std::string>& args) {
  std::vector<std::string> outs, labels;
  std::string ticks_file;
  OutputRunInfo run;
  run.version = "probe";
  run.warn = [](const std::string& text) { std::cerr << "probe: " << text << "\n"; };
  long flush_ms = 2000;
  long tick_interval_ms = 0;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& a = args[i];
    const std::string& v = args[i + 1];
    if (a == "--out") {
      outs.push_back(v);
    } else if (a == "--out-label") {
      labels.push_back(v);
    } else if (a == "--run-id") {
      run.run_id = v;
    } else if (a == "--flush-timeout") {
      flush_ms = std::stol(v);
    } else if (a == "--tick-interval") {
      tick_interval_ms = std::stol(v);
    } else if (a == "--ca-file") {
      run.ca_file = v;
    } else if (a == "--ticks") {
      ticks_file = v;
    } else {
      return usage("unknown argument " + a);
    }
  }
  if (args.size() % 2 != 0) return usage("every push option takes a value");
  std::string error;
  std::vector<OutputConfig> configs = parse_out_flags(outs, error);
  std::map<std::string, std::string> extra;
  if (error.empty() && !parse_out_labels(labels, extra, error)) configs.clear();
  if (!error.empty()) return usage(error);
  add_output_labels(configs, extra);
  std::vector<std::unique_ptr<Output>> outputs = make_outputs(configs, run, error);
  if (!error.empty()) return usage(error);
  std::ifstream in(ticks_file);
  if (!in) return usage("cannot read " + ticks_file);

  MetricsOptions metrics;
  metrics.run_id = run.run_id;
  metrics.version = "probe";
  metrics.target = "http://127.0.0.1:1/";
  std::vector<prometheus::MetricFamily> families;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json item = json::parse(line);
    if (!first && tick_interval_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tick_interval_ms));
    }
    first = false;
    const WorkerStats stats = stats_from_json(item.value("stats", json::object()), metrics);
    families = build_families(metrics, stats, {});
    const auto now = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(item.at("now_ms").get<int64_t>()));
    const json tick = item.value("tick", json::object());
    for (auto& o : outputs) {
      if (item.value("final", false)) {
        o->on_final(tick, families, now);
      } else {
        o->on_tick(tick, families, now);
      }
    }
  }
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(flush_ms);
  std::vector<bool> flushed;
  for (auto& o : outputs) flushed.push_back(o->flush(deadline));
  const double took = ms_since(t0);
  json result = {{"flush_ms", took},
                 {"exposition", prometheus::TextSerializer().Serialize(families)},
                 {"outputs", json::array()}};
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputStats s = outputs[i]->stats();
    json j = s.to_json();
    j["summary"] = s.summary_line();
    j["flushed"] = static_cast<bool>(flushed[i]);
    result["outputs"].push_back(j);
  }
  std::cout << result.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage("usage: pelt-outputs-probe http|push ...");
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "http") return run_http(args);
    if (command == "push") return run_push(args);
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  return usage("unknown command " + command);
}
