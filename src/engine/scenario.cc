#include "engine/scenario.h"

namespace pelt {

ScenarioContext::ScenarioContext(uint32_t index, ScenarioSetup setup, ScenarioStats& stats)
    : index_(index), setup_(std::move(setup)), stats_(stats) {
  Script* s = setup_.script.get();
  dynamic_ = s && s->has_request();
  capture_ = s && s->has_response();
  has_delay_ = s && s->has_delay();
  default_name_ = name_stats(setup_.default_name, setup_.default_method);
}

bool ScenarioContext::stop_requested() const {
  return setup_.handle && setup_.handle->stop.load(std::memory_order_relaxed);
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
