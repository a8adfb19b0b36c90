#include "results/recorder.h"

namespace pelt {

void Recorder::count_unanswered(RequestScope* scope, std::string_view reason, uint64_t requests) {
  if (requests == 0 || scope == nullptr) return;
  if (NameStats* name = scope->name()) {
    name->requests.no_response += requests;
    name->failure_reasons[std::string(reason)] += requests;
  }
  scope->stage().requests.no_response += requests;
}

void Recorder::record_failure(RequestScope* scope, ErrorKind kind, const std::string& reason,
                              const std::string& detail, uint64_t requests) {
  ++stats_.errors[kind];
  stats_.add_error_reason(reason, detail);
  stats_.ledger.failed += requests;
  count_unanswered(scope, reason, requests);
}

void Recorder::record_timeout(RequestScope* scope, uint64_t requests) {
  stats_.ledger.timed_out += requests;
  stats_.errors.timeout += requests;
  stats_.add_error_reason("timeout", "timeout: no response within the timeout");
  count_unanswered(scope, "timeout", requests);
}

void Recorder::record_dropped(ScenarioStats& scenario, uint64_t n) {
  if (n == 0) return;
  scenario.dropped_iterations += n;
  scenario.stages[scenario.stage].dropped_iterations += n;
}

void Recorder::record_interrupted(ScenarioStats& scenario, uint64_t unanswered) {
  ++scenario.interrupted_iterations;
  stats_.ledger.in_flight += unanswered;
}

}  // namespace pelt
