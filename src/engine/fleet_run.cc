#include "engine/fleet_run.h"

namespace pelt {

FleetInfo fleet_info(const FleetOptions& fleet, const std::string& plan_sha256) {
  FleetInfo info;
  info.instance = fleet.instance.empty() ? default_instance_name(fleet.segment) : fleet.instance;
  info.segment_count = fleet.segment.count;
  info.segments = {fleet.segment.index};
  info.instances = {info.instance};
  info.scenario_sha256 = plan_sha256;
  return info;
}

void warn_idle_workers(const std::vector<ExecutorPlan>& plans, const Segment& instance, int threads,
                       Console& console) {
  for (size_t i = 0; i < plans.size(); ++i) {
    const ExecutorPlan& plan = plans[i];
    if (!plan.arrival_rate()) continue;
    for (int w = 0; w < threads; ++w) {
      const Segment part =
          Segment::compose(instance, {static_cast<uint32_t>(w), static_cast<uint32_t>(threads)});
      if (part.share(plan.max_vus()) > 0) continue;
      console.notice(
          "pelt: warning: scenario " + std::to_string(i + 1) + " has " +
          std::to_string(plan.max_vus()) + " max VUs for " + std::to_string(part.count) +
          " workers (instances x threads): some workers get none and drop their arrivals; "
          "raise max_vus to at least " +
          std::to_string(part.count) + " or lower --threads");
      return;
    }
  }
}

}  // namespace pelt
