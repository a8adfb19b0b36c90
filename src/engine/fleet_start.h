// The synchronized start of a fleet's instances, on the main thread between "every worker is
// ready" and "go":
//   --start-at TIME  sleeps until the wall clock reads TIME (CLOCK_REALTIME, absolute), so the
//                    instances start together as far as their clocks agree (NTP: milliseconds);
//   --paused         serves a tiny control endpoint and waits for POST /start carrying the
//                    token from $PELT_CONTROL_TOKEN ("Authorization: Bearer TOKEN"); GET /ready
//                    answers 200 once the workers are connected, for a readiness probe.
// Both together: the signal arms the start, which then waits for TIME.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "engine/fleet.h"

namespace pelt {

class ControlServer {
 public:
  // Listens on `listen` ("" = 127.0.0.1:6565; forms as --metrics). The token must be set and
  // at least 16 characters. nullptr with a message otherwise.
  static std::unique_ptr<ControlServer> start(const std::string& listen, const std::string& token,
                                              std::string& error);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  std::string address() const { return address_; }
  // Serves requests until a valid POST /start, `stopped()` or `timeout`; true on the start.
  // GET /ready answers 200 from now on.
  bool wait_for_start(const std::function<bool()>& stopped, std::chrono::milliseconds timeout);

 private:
  ControlServer(int fd, std::string address, std::string token);
  // Reads one request from a new connection and answers it; true when it was a valid start.
  bool serve(int client);

  int fd_ = -1;          // listening socket
  std::string address_;  // "host:port" it listens on
  std::string token_;    // what POST /start must carry
};

// Waits for the start as the options ask (nothing to wait for: returns at once). `paused_wait`
// bounds the wait for the signal. False when stopped (a signal) or the wait timed out, with a
// message in `why`.
bool wait_for_fleet_start(const FleetOptions& fleet, ControlServer* control,
                          const std::function<bool()>& stopped, std::string& why,
                          std::chrono::milliseconds paused_wait = std::chrono::hours(24));

}  // namespace pelt
