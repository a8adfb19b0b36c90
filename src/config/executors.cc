#include "config/executors.h"

namespace pelt {

const std::vector<ExecutorInfo>& executor_table() {
  static const std::vector<ExecutorInfo> kAll = {
      {ExecutorKind::kConstantVus, "constant-vus", {"vus", "duration"},
       {{"duration", "duration = \"30s\""}}, false},
      {ExecutorKind::kRampingVus, "ramping-vus", {"start_vus", "stages", "graceful_ramp_down"},
       {{"stages", "stages = [{ duration = \"30s\", target = 10 }]"}}, false},
      {ExecutorKind::kConstantArrivalRate, "constant-arrival-rate",
       {"rate", "time_unit", "duration", "pre_allocated_vus", "max_vus"},
       {{"rate", "rate = 100"}, {"duration", "duration = \"30s\""},
        {"pre_allocated_vus", "pre_allocated_vus = 10"}},
       true},
      {ExecutorKind::kRampingArrivalRate, "ramping-arrival-rate",
       {"start_rate", "time_unit", "stages", "pre_allocated_vus", "max_vus"},
       {{"stages", "stages = [{ duration = \"30s\", target = 100 }]"},
        {"pre_allocated_vus", "pre_allocated_vus = 10"}},
       true},
      {ExecutorKind::kPerVuIterations, "per-vu-iterations", {"vus", "iterations", "max_duration"},
       {}, false},
      {ExecutorKind::kSharedIterations, "shared-iterations", {"vus", "iterations", "max_duration"},
       {}, false},
      {ExecutorKind::kCapacitySearch, "capacity-search",
       {"start_rate", "max_rate", "step_factor", "hold", "settle", "precision", "time_unit",
        "pre_allocated_vus", "max_vus"},
       {{"start_rate", "start_rate = 50"}, {"max_rate", "max_rate = 5000"},
        {"hold", "hold = \"10s\""}, {"pre_allocated_vus", "pre_allocated_vus = 20"}},
       true},
  };
  return kAll;
}

const ExecutorInfo& executor_info(ExecutorKind kind) {
  for (const ExecutorInfo& e : executor_table()) {
    if (e.kind == kind) return e;
  }
  return executor_table().front();  // unreachable: every kind is in the table (unit-tested)
}

const ExecutorInfo* find_executor(std::string_view name) {
  for (const ExecutorInfo& e : executor_table()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const char* executor_name(ExecutorKind kind) {
  return executor_info(kind).name.data();
}

}  // namespace pelt
