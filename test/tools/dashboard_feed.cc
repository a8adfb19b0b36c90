// Test helper: serves the live dashboard (DashboardServer) from prepared summary documents.
//   pelt_dashboard_feed --docs TICKS.jsonl [--final FINAL.json] [--listen 127.0.0.1:0]
//                       [--interval-ms 1000] [--linger-ms 3000]
// Prints "listening on http://HOST:PORT/", publishes one line of TICKS.jsonl per interval,
// then finish()es with FINAL.json (or the last tick), lingers and exits 0.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "results/dashboard_server.h"

int main(int argc, char** argv) {
  std::string docs_path, final_path, listen = "127.0.0.1:0";
  long interval_ms = 1000, linger_ms = 3000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--docs")
      docs_path = value;
    else if (name == "--final")
      final_path = value;
    else if (name == "--listen")
      listen = value;
    else if (name == "--interval-ms")
      interval_ms = std::stol(value);
    else if (name == "--linger-ms")
      linger_ms = std::stol(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", name.c_str());
      return 2;
    }
  }
  std::vector<nlohmann::json> ticks;
  std::ifstream in(docs_path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ticks.push_back(nlohmann::json::parse(line));
  }
  if (ticks.empty()) {
    std::fprintf(stderr, "no documents in %s\n", docs_path.c_str());
    return 2;
  }
  nlohmann::json final_doc = ticks.back();
  if (!final_path.empty()) final_doc = nlohmann::json::parse(std::ifstream(final_path));

  pelt::DashboardServer server;
  std::string error;
  if (!server.start(listen, error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  std::printf("listening on http://%s/\n", server.address().c_str());
  std::fflush(stdout);
  for (nlohmann::json& doc : ticks) {
    server.publish(std::move(doc));
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  server.finish(std::move(final_doc));
  std::printf("finished\n");
  std::fflush(stdout);
  server.linger(std::chrono::milliseconds(linger_ms));
  server.stop();
  return 0;
}
