// Running one plan on many instances: which part this instance runs (--segment I/N), what it
// calls itself in metrics and summaries (--instance), the run id the instances share
// (--run-id), and how they start together (--start-at, --paused). docs/DISTRIBUTED.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/segment.h"

namespace pelt {

// The environment variable holding the token that POST /start must carry.
inline constexpr const char* kControlTokenEnv = "PELT_CONTROL_TOKEN";

struct FleetOptions {
  Segment segment;           // this instance's part of the plan (0/1: all of it)
  bool segment_set = false;  // --segment given (wins over [execution] segment)
  std::string instance;      // --instance NAME; "" = default_instance_name()
  std::string run_id;        // --run-id ID, shared by a fleet's instances; "" = time + pid
  std::optional<std::chrono::system_clock::time_point> start_at;  // --start-at: wall-clock start
  bool paused = false;         // --paused: connect, then wait for POST /start
  std::string control_listen;  // --control ADDR: where --paused listens ("" = 127.0.0.1:6565)
};

// Whether `name` (e.g. "--segment") is one of the options above, and whether it takes a value.
bool is_fleet_flag(std::string_view name, bool& takes_value);
// Applies one of them. False with a message for a bad value.
bool apply_fleet_flag(std::string_view name, const std::string& value, FleetOptions& out,
                      std::string& error);

// "2026-03-01T12:00:00Z" (fractions of a second allowed, UTC only) or "@1772366400.5" (Unix
// seconds). False with a message otherwise. (--start-at also takes "now": no wait.)
bool parse_start_time(std::string_view text, std::chrono::system_clock::time_point& out,
                      std::string& error);

// The instance name when none was given: "segment-I-of-N" for a part of a fleet, else the host
// name.
std::string default_instance_name(const Segment& segment);

}  // namespace pelt
