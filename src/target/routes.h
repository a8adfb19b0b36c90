// Request routing of pelt-target: maps method + path to the endpoint behaviour.
#pragma once

namespace pelt::target {

class Exchange;

// Answers the exchange's request. `phase` is kPhaseFresh for a fresh request; a handler that
// waits (Exchange::wait_then) is called again with the phase it asked for.
void handle_request(Exchange& c, int phase);

}  // namespace pelt::target
