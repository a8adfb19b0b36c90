#include "engine/scenario.h"

#include "wire/http1.h"

namespace pelt {

ScenarioContext::ScenarioContext(uint32_t index, ScenarioSetup setup, ScenarioStats& stats)
    : index_(index), setup_(std::move(setup)), stats_(stats) {
  Script* s = setup_.script.get();
  dynamic_ = s && s->has_request();
  capture_ = s && s->has_response();
  has_delay_ = s && s->has_delay();
  static_batch_ = setup_.static_batch;
  if (s && !dynamic_ && !static_batch_) {
    // The static request is the string wrk.request() returns from this thread's state: sent
    // from there, anchored for the whole run.
    std::string_view bytes;
    if (s->request(bytes)) {
      static_batch_ = std::make_shared<RequestBatch>();
      static_batch_->owner = std::make_shared<int>(s->anchor_last_request());
      static_batch_->bytes = bytes;
      static_batch_->heads = setup_.batch_heads;
    }
  }
  default_name_ = name_stats(setup_.default_name, setup_.default_method);
}

SeriesSlot* ScenarioContext::series_slot(const NameStats* name, Recorder& recorder) {
  auto it = series_.find(name);
  if (it != series_.end()) return it->second;
  SeriesSlot* slot = nullptr;
  for (const auto& [key, stats] : stats_.names) {
    if (&stats == name) slot = recorder.series_slot(index_, key, stats.method);
  }
  if (slot) series_.emplace(name, slot);  // (none before the series started)
  return slot;
}

std::shared_ptr<RequestBatch> ScenarioContext::batch_of(std::string_view bytes, std::string& error) {
  constexpr size_t kMaxRemembered = 4096;  // distinct strings remembered per scenario and worker
  auto it = batches_.find(bytes.data());
  if (it != batches_.end() && it->second->bytes.size() == bytes.size()) return it->second;
  std::vector<bool> heads;
  if (!scan_requests(bytes, heads, error) || heads.empty()) {
    if (error.empty()) error = "no request";
    return nullptr;
  }
  if (batches_.size() >= kMaxRemembered) {
    // Too many distinct strings: this one is copied, for the connections still sending it
    // (the context holds it until the next one, the connections for as long as they send).
    overflow_batch_ = make_owned_batch(std::string(bytes), std::move(heads));
    return overflow_batch_;
  }
  anchors_.push_back(setup_.script->anchor_last_request());
  auto batch = std::make_shared<RequestBatch>();
  batch->owner = std::make_shared<int>(anchors_.back());  // the bytes live in the Lua state
  batch->bytes = bytes;
  batch->heads = std::move(heads);
  batches_[bytes.data()] = batch;
  return batch;
}

ScenarioContext::~ScenarioContext() {
  // (the Lua state goes with setup_; anchors need no release then)
}

NameStats* ScenarioContext::name_stats(std::string_view name, std::string_view method) {
  if (cached_name_stats_ && cached_name_ == name) return cached_name_stats_;
  auto& names = stats_.names;
  auto it = names.find(std::string(name));
  if (it == names.end()) {
    if (names.size() >= WorkerStats::kMaxNames) {
      it = names.try_emplace("other").first;
    } else {
      it = names.try_emplace(std::string(name)).first;
    }
    if (it->second.method.empty()) it->second.method = std::string(method);
  }
  cached_name_.assign(name);
  cached_name_stats_ = &it->second;
  return &it->second;
}

}  // namespace pelt
