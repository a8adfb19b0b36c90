// What a summary says about the fleet it belongs to: which instance wrote it, which segments of
// the plan its figures cover, and which plan that was (a hash), so `pelt merge` can check that
// summaries belong together and name what is missing. docs/DISTRIBUTED.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pelt {

struct FleetInfo {
  std::string instance;                // the instance's name (--instance); merged: ""
  uint32_t segment_count = 1;          // N of the segments I/N
  std::vector<uint32_t> segments;      // the I of every segment whose figures are here
  std::vector<uint32_t> missing;       // a partial merge: the I of the segments it lacks
  std::vector<std::string> instances;  // a merge: the instances merged, in segment order
  std::string scenario_sha256;         // the plan's identity (config/config_identity.h)
  bool merged = false;                 // written by pelt merge
};

}  // namespace pelt
