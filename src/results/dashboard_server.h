// The live dashboard: a small HTTP/1.1 server on its own thread and libuv loop that serves the
// report page in live mode (GET /), the current summary (GET /api/summary) and a
// text/event-stream of once-a-second ticks (GET /events). The main thread hands it a summary
// document once a second; serializing and writing happen on the server's thread, so the load
// generator never waits for a browser. Slow or idle browsers cannot hold up the others: a
// client that stops reading is dropped once its unsent data passes a limit.
//
//   DashboardServer dash;
//   if (!dash.start("127.0.0.1:5665", error)) ...   // port 0: any free port; address() tells
//   every second: dash.publish(summary_with_timeseries);
//   at the end:   dash.finish(final_summary); dash.linger(10s); dash.stop();
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace pelt {

struct DashboardOptions {
  size_t client_buffer_limit_bytes = 8u << 20;  // unsent bytes past which a client is dropped
  std::chrono::milliseconds idle_timeout{
      30000};                // a connection with no request this long is closed
  size_t max_clients = 256;  // connections beyond this are refused
};

class DashboardServer {
 public:
  explicit DashboardServer(DashboardOptions options = {});
  ~DashboardServer();  // stop()s
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Listens on `listen_addr` ("127.0.0.1:5665", "5665", ":0", "[::1]:5665"; empty = the
  // default 127.0.0.1:5665) and starts the server thread. Returns false with `error` set
  // ("cannot listen on 127.0.0.1:5665: address already in use") on failure.
  bool start(const std::string& listen_addr, std::string& error);

  // The address it listens on, "host:port" with the real port (after start()).
  std::string address() const;

  // Main thread, once a second: the current summary document with its time series so far.
  // The server adds "live": true and "state": "running", and sends each /events client the
  // columns from the last bucket it has on (from 0 after old buckets were coarsened).
  void publish(nlohmann::json summary);

  // The final document: one last tick with "state": "finished", then the `end` event. Clients
  // that connect afterwards get the final tick and `end` at once.
  void finish(nlohmann::json summary);

  // Keeps serving until `duration` has passed or stop() is called from another thread.
  // Returns at once when the server is not running.
  void linger(std::chrono::milliseconds duration);

  // Closes every connection and ends the server thread. Thread-safe; idempotent; must not be
  // called from a signal handler.
  void stop();

  // Clients following /events right now (for tests and the progress line).
  size_t event_clients() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pelt
