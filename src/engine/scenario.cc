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
  // A script without request() sends its static request with the tags its top level or init()
  // set (the first request() built it, so they are still there).
  default_name_ = name_stats(setup_.default_name, setup_.default_method,
                             s && !dynamic_ ? s->request_tags() : std::span<const TagView>());
}

SeriesSlot* ScenarioContext::series_slot(const NameStats* name, Recorder& recorder) {
  auto it = series_.find(name);
  if (it != series_.end()) return it->second;
  SeriesSlot* slot = nullptr;
  // (the time series is kept per request name: tagged requests share their name's)
  for (const auto& [key, stats] : stats_.names) {
    if (&stats == name) slot = recorder.series_slot(index_, key.name, stats.method);
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

namespace {

constexpr size_t kMaxLookupKeys = 20000;  // raw name/tag combinations remembered

// name, then each key and value, separated by NUL bytes.
void lookup_key(std::string& out, std::string_view name, std::span<const TagView> tags) {
  out.assign(name.data(), name.size());
  for (const auto& [k, v] : tags) {
    out += '\0';
    out.append(k.data(), k.size());
    out += '\0';
    out.append(v.data(), v.size());
  }
}

}  // namespace

NameStats* ScenarioContext::name_stats(std::string_view name, std::string_view method,
                                       std::span<const TagView> tags) {
  lookup_key(lookup_key_, name, tags);
  if (cached_name_stats_ && cached_key_ == lookup_key_) return cached_name_stats_;
  auto found = lookup_.find(lookup_key_);
  if (found == lookup_.end()) {
    auto& names = stats_.names;
    NameKey key{std::string(name)};
    if (!names.count(key) && names.size() - tag_sets_ >= WorkerStats::kMaxNames) {
      key = NameKey("other");
    } else if (!tags.empty()) {
      for (const auto& [k, v] : tags) {
        auto& admitted = tag_values_[std::string(k)];
        std::string value(v);
        if (!admitted.count(value)) {
          if (admitted.size() < WorkerStats::kMaxTagValues) {
            admitted.insert(value);
          } else {
            stats_.capped_tags.insert(std::string(k));
            value = "other";
          }
        }
        key.tags.emplace_back(std::string(k), std::move(value));
      }
      if (!names.count(key) && tag_sets_ >= WorkerStats::kMaxTagSets) {
        key.tags.clear();
        stats_.capped_tags.insert("");
      }
    }
    auto it = names.find(key);
    if (it == names.end()) {
      tag_sets_ += key.tags.empty() ? 0 : 1;
      it = names.try_emplace(std::move(key)).first;
    }
    if (it->second.method.empty()) it->second.method = std::string(method);
    if (lookup_.size() >= kMaxLookupKeys) {
      // Too many raw combinations (values past the caps): look them up again next time.
      cached_key_ = lookup_key_;
      cached_name_stats_ = &it->second;
      return &it->second;
    }
    found = lookup_.emplace(lookup_key_, &it->second).first;
  }
  cached_key_ = lookup_key_;
  cached_name_stats_ = found->second;
  return found->second;
}

}  // namespace pelt
