// What the VUs of one scenario on one worker share: the scenario's configuration, the worker's
// Lua state for it, the request to send when the script builds none, and where its figures go.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "lua/script.h"
#include "results/recorder.h"
#include "wire/request_batch.h"
#include "results/stats.h"

namespace pelt {

// Everything a worker needs to run its share of one scenario, prepared by the runner.
struct ScenarioSetup {
  const ScenarioConfig* config = nullptr;  // the scenario (owned by the runner)
  std::unique_ptr<Script> script;          // this thread's Lua state, init() done
  ThreadHandle* handle = nullptr;          // wrk's thread object (owned by the runner)
  std::vector<bool> batch_heads;           // one entry per request in a batch; true = HEAD
  std::shared_ptr<RequestBatch> static_batch;  // the static request given ready-made (tests);
                                               // otherwise taken from the script's state
  std::string default_name;                // request name when the script sets none
  std::string default_method;              // method of the default request
};

// One scenario on one worker, shared by its executor and VUs (owned by the worker).
class ScenarioContext {
 public:
  ScenarioContext(uint32_t index, ScenarioSetup setup, ScenarioStats& stats);
  ~ScenarioContext();

  uint32_t index() const { return index_; }
  const ScenarioConfig& config() const { return *setup_.config; }
  const ScenarioSetup& setup() const { return setup_; }
  Script* script() const { return setup_.script.get(); }
  ScenarioStats& stats() { return stats_; }
  bool dynamic() const { return dynamic_; }      // the script has request()
  bool capture() const { return capture_; }      // the script has response()
  bool has_delay() const { return has_delay_; }  // the script has delay()
  // thread:stop() was called in the script.
  bool stop_requested() const {
    return setup_.handle && setup_.handle->stop.load(std::memory_order_relaxed);
  }
  NameStats* default_name() const { return default_name_; }
  // The figures of requests named `name` with `tags` (sorted by key; method: of the first such
  // request). Past WorkerStats::kMaxNames names new ones fold into "other"; past kMaxTagValues
  // values of a tag new values become "other", past kMaxTagSets tag sets a request counts
  // under its name alone (the scenario's capped_tags says so). A combination seen before costs
  // no allocation.
  NameStats* name_stats(std::string_view name, std::string_view method,
                        std::span<const TagView> tags = {});
  // The static request (no request() hook) as a batch.
  const std::shared_ptr<RequestBatch>& static_batch() const { return static_batch_; }
  // The batch for the string request() just returned (`bytes`). Null with `error` set when
  // the bytes are not whole HTTP/1.x requests. A script returns the same few strings again
  // and again (wrk.format remembers them): each distinct string is scanned once and sent from
  // where it lies in the Lua state, anchored there while it is remembered.
  std::shared_ptr<RequestBatch> batch_of(std::string_view bytes, std::string& error);
  // The time series slot of a name name_stats() returned.
  SeriesSlot* series_slot(const NameStats* name, Recorder& recorder);

 private:
  uint32_t index_;                       // scenario index (WorkerStats::scenarios)
  ScenarioSetup setup_;                  // what the runner prepared
  ScenarioStats& stats_;                 // this scenario's figures in the worker's stats
  bool dynamic_ = false;                 // the script has request()
  bool capture_ = false;                 // the script has response()
  bool has_delay_ = false;               // the script has delay()
  NameStats* default_name_ = nullptr;    // figures of requests with the default name
  std::string lookup_key_;               // scratch: name and tags of a lookup (keeps capacity)
  std::string cached_key_;               // lookup_key_ of the last lookup
  NameStats* cached_name_stats_ = nullptr;  // its figures
  std::unordered_map<std::string, NameStats*> lookup_;  // figures by lookup key
  std::unordered_map<std::string, std::unordered_set<std::string>> tag_values_;  // admitted
  size_t tag_sets_ = 0;                                       // tagged entries in stats_.names
  std::unordered_map<const NameStats*, SeriesSlot*> series_;  // time series slot by name
  std::shared_ptr<RequestBatch> static_batch_;  // the request when there is no request()
  // Batches of the strings request() returned, by the string's address (each anchored in the
  // Lua state while it is here, so the address stays its own).
  std::unordered_map<const char*, std::shared_ptr<RequestBatch>> batches_;
  std::vector<int> anchors_;               // the Lua anchors of the remembered strings
  std::shared_ptr<RequestBatch> overflow_batch_;  // the last string not remembered, copied
};

}  // namespace pelt
