// Request routing of pelt-target: maps method + path to the endpoint behaviour.
#pragma once

namespace pelt::target {

class Peer;

// Answers the connection's current request. `phase` is 0 for a fresh request; a handler that
// waits (Peer::wait_then) is called again with the phase it asked for.
void handle_request(Peer& c, int phase);

}  // namespace pelt::target
