// pelt-target's command line: what it serves, on how many threads, with which TLS, HTTP/2 and
// fault settings.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace pelt::target {

struct ServeOptions {
  std::string host = "127.0.0.1";  // address to listen on (IPv4 or IPv6 literal)
  int port = 8080;                 // TCP port, 0 for any free port
  int threads = 1;                 // serve loops, one thread, event loop and listener each
  bool quiet = false;              // print nothing but the listening line
  bool close_on_accept = false;    // close every accepted connection at once, unread
  bool tls = false;                // serve TLS on the listen address
  std::string tls_cert_path;       // PEM certificate chain file, empty = generate one
  std::string tls_key_path;        // PEM private key file for tls_cert_path
  std::string tls_cert_out_path;   // where the generated certificate is written, may be empty
  int tls_max_version = 0;         // highest TLS version (TLS1_2_VERSION...), 0 = newest
  std::vector<std::string> alpn = {"h2", "http/1.1"};  // ALPN protocols offered, preferred first
  uint32_t h2_max_streams = 100;                       // SETTINGS_MAX_CONCURRENT_STREAMS
  uint32_t h2_window_bytes = 65535;  // SETTINGS_INITIAL_WINDOW_SIZE and the connection window
  uint64_t h2_max_requests = 0;      // streams per HTTP/2 connection before GOAWAY, 0 = no limit
  uint32_t pool_slots = 0;           // /pool slots, 0 = /pool disabled
  uint64_t pool_hold_ms = 0;         // how long a /pool request holds its slot, milliseconds

  // True when the TLS ALPN list offers HTTP/2.
  bool alpn_offers_h2() const;
};

// Prints the usage text.
void usage(FILE* out);

// Parses argv into `o`. Returns -1 to run, otherwise the exit code to stop with (0 after
// --help, 2 after a bad argument, whose message names it).
int parse_args(int argc, char** argv, ServeOptions& o);

}  // namespace pelt::target
