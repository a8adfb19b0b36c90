#include "results/recorder.h"

namespace pelt {

void Recorder::count_unanswered(RequestScope& scope, std::string_view reason, uint64_t requests) {
  if (requests == 0) return;
  if (NameStats* name = scope.name()) {
    name->requests.no_response += requests;
    name->failure_reasons[std::string(reason)] += requests;
  }
  scope.stage().requests.no_response += requests;
  if (SeriesSlot* s = scope.series()) {
    s->used = true;
    s->point.requests += requests;
    s->point.failed += requests;
    s->count_code(0, requests);
  }
}

void Recorder::record_failure(RequestScope& scope, ErrorKind kind, const std::string& reason,
                              const std::string& detail, uint64_t requests, uint64_t now_ns) {
  series_.roll(now_ns);
  ++stats_.errors[kind];
  stats_.add_error_reason(reason, detail);
  stats_.ledger.failed += requests;
  count_unanswered(scope, reason, requests);
  if (series_.started()) {
    SeriesSlot& s = series_.scenario_extra(scope.scenario_index());
    s.used = true;
    ++s.point.errors[static_cast<size_t>(kind)];
  }
}

void Recorder::record_timeout(RequestScope& scope, uint64_t requests, uint64_t now_ns) {
  series_.roll(now_ns);
  stats_.ledger.timed_out += requests;
  stats_.errors.timeout += requests;
  stats_.add_error_reason("timeout", "timeout: no response within the timeout");
  count_unanswered(scope, "timeout", requests);
  if (series_.started()) {
    SeriesSlot& s = series_.scenario_extra(scope.scenario_index());
    s.used = true;
    s.point.errors[static_cast<size_t>(ErrorKind::kTimeout)] += requests;
  }
}

void Recorder::record_iteration(uint32_t scenario, uint64_t now_ns) {
  series_.roll(now_ns);
  ++stats_.scenarios[scenario].iterations;
  if (series_.started()) {
    SeriesSlot& s = series_.scenario_extra(scenario);
    s.used = true;
    ++s.point.iterations;
  }
}

void Recorder::record_dropped(uint32_t scenario, uint64_t n, uint64_t now_ns) {
  if (n == 0) return;
  series_.roll(now_ns);
  ScenarioStats& sc = stats_.scenarios[scenario];
  sc.dropped_iterations += n;
  sc.stages[sc.stage].dropped_iterations += n;
  if (series_.started()) {
    SeriesSlot& s = series_.scenario_extra(scenario);
    s.used = true;
    s.point.dropped_iterations += n;
  }
}

void Recorder::record_interrupted(uint32_t scenario, uint64_t unanswered, uint64_t now_ns) {
  series_.roll(now_ns);
  ++stats_.scenarios[scenario].interrupted_iterations;
  stats_.ledger.in_flight += unanswered;
  if (series_.started()) {
    SeriesSlot& s = series_.scenario_extra(scenario);
    s.used = true;
    ++s.point.interrupted_iterations;
  }
}

}  // namespace pelt
