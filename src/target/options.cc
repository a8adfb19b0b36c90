#include "target/options.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <string_view>

#include "target/text.h"

namespace pelt::target {
namespace {

constexpr uint64_t kMaxThreads = 256;                // upper bound of --threads
constexpr uint64_t kMaxH2Window = (1ULL << 31) - 1;  // largest HTTP/2 window
constexpr uint64_t kMaxPoolSlots = 1'000'000;        // upper bound of --pool SLOTS
constexpr uint64_t kMaxPoolHoldMs = 600'000;         // upper bound of --pool MS

bool parse_listen(std::string_view spec, ServeOptions& o) {
  size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = parse_uint(spec.substr(colon + 1));
  if (host.empty() || !port || *port > 65535) return false;
  o.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  o.port = static_cast<int>(*port);
  return true;
}

// A number from `lo` to `hi`, or nullopt.
std::optional<uint64_t> in_range(std::string_view s, uint64_t lo, uint64_t hi) {
  auto n = parse_uint(s);
  if (!n || *n < lo || *n > hi) return std::nullopt;
  return n;
}

bool parse_alpn(std::string_view list, ServeOptions& o) {
  o.alpn.clear();
  while (true) {
    size_t comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    if (name != "h2" && name != "http/1.1") return false;
    if (std::find(o.alpn.begin(), o.alpn.end(), name) != o.alpn.end()) return false;
    o.alpn.emplace_back(name);
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

bool parse_pool(std::string_view spec, ServeOptions& o) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return false;
  auto slots = in_range(spec.substr(0, colon), 1, kMaxPoolSlots);
  auto ms = in_range(spec.substr(colon + 1), 1, kMaxPoolHoldMs);
  if (!slots || !ms) return false;
  o.pool_slots = static_cast<uint32_t>(*slots);
  o.pool_hold_ms = *ms;
  return true;
}

// Flags that take a value (as the next argument or after '=').
constexpr std::string_view kValueFlags[] = {
    "--listen",       "--threads",         "--tls-cert", "--tls-key",
    "--tls-cert-out", "--tls-max",         "--alpn",     "--h2-max-streams",
    "--h2-window",    "--h2-max-requests", "--pool",
};

bool takes_value(std::string_view flag) {
  return std::find(std::begin(kValueFlags), std::end(kValueFlags), flag) != std::end(kValueFlags);
}

// Applies one flag; false when the flag is unknown or its value is bad.
bool apply(std::string_view arg, std::string_view value, bool has_value, ServeOptions& o) {
  if (takes_value(arg) != has_value) return false;
  if (takes_value(arg) && value.empty()) return false;
  if (arg == "--quiet" || arg == "-q") {
    o.quiet = true;
  } else if (arg == "--close-on-accept") {
    o.close_on_accept = true;
  } else if (arg == "--tls") {
    o.tls = true;
  } else if (arg == "--listen") {
    return parse_listen(value, o);
  } else if (arg == "--threads") {
    auto n = in_range(value, 1, kMaxThreads);
    if (!n) return false;
    o.threads = static_cast<int>(*n);
  } else if (arg == "--tls-cert") {
    o.tls_cert_path = value;
  } else if (arg == "--tls-key") {
    o.tls_key_path = value;
  } else if (arg == "--tls-cert-out") {
    o.tls_cert_out_path = value;
  } else if (arg == "--tls-max") {
    if (value == "1.2") {
      o.tls_max_version = TLS1_2_VERSION;
    } else if (value == "1.3") {
      o.tls_max_version = TLS1_3_VERSION;
    } else {
      return false;
    }
  } else if (arg == "--alpn") {
    return parse_alpn(value, o);
  } else if (arg == "--h2-max-streams") {
    auto n = in_range(value, 0, kMaxH2Window);
    if (!n) return false;
    o.h2_max_streams = static_cast<uint32_t>(*n);
  } else if (arg == "--h2-window") {
    auto n = in_range(value, 1, kMaxH2Window);
    if (!n) return false;
    o.h2_window_bytes = static_cast<uint32_t>(*n);
  } else if (arg == "--h2-max-requests") {
    auto n = in_range(value, 1, UINT32_MAX);
    if (!n) return false;
    o.h2_max_requests = *n;
  } else if (arg == "--pool") {
    return parse_pool(value, o);
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool ServeOptions::alpn_offers_h2() const {
  return std::find(alpn.begin(), alpn.end(), "h2") != alpn.end();
}

void usage(FILE* out) {
  fmt::print(out,
             "usage: pelt-target [--listen ADDR:PORT] [--threads N] [--quiet] [options]\n"
             "  --listen ADDR:PORT     address to serve on (default 127.0.0.1:8080; port 0 = "
             "any free port; IPv6 as [::1]:PORT)\n"
             "  --threads N            serve loops, one thread and event loop each (default 1)\n"
             "  --quiet                print only the listening line\n"
             "  --tls                  serve TLS (HTTP/1.1 and HTTP/2 by ALPN)\n"
             "  --tls-cert FILE        PEM certificate chain (with --tls-key; default: a "
             "self-signed certificate made at start)\n"
             "  --tls-key FILE         PEM private key of --tls-cert\n"
             "  --tls-cert-out FILE    write the generated certificate here (for --cacert)\n"
             "  --tls-max 1.2|1.3      highest TLS version offered (default 1.3)\n"
             "  --alpn LIST            ALPN protocols offered, preferred first (default "
             "h2,http/1.1)\n"
             "  --h2-max-streams N     HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (default 100)\n"
             "  --h2-window BYTES      HTTP/2 stream and connection receive window (default "
             "65535)\n"
             "  --h2-max-requests N    graceful GOAWAY after N streams on a connection\n"
             "  --close-on-accept      close every connection as soon as it is accepted\n"
             "  --pool SLOTS:MS        /pool holds one of SLOTS shared slots for MS ms\n");
}

int parse_args(int argc, char** argv, ServeOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const char* flag_text = argv[i];
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    } else if (takes_value(arg) && i + 1 < argc) {
      value = argv[++i];
      has_value = true;
    }
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    }
    if (!apply(arg, value, has_value, o)) {
      fmt::print(stderr, "pelt-target: bad argument '{}'{}\n", flag_text,
                 flag_text != argv[i] ? fmt::format(" with value '{}'", value) : "");
      usage(stderr);
      return 2;
    }
  }
  bool tls_flags = !o.tls_cert_path.empty() || !o.tls_key_path.empty() ||
                   !o.tls_cert_out_path.empty() || o.tls_max_version != 0;
  if (tls_flags && !o.tls) {
    fmt::print(stderr,
               "pelt-target: --tls-cert, --tls-key, --tls-cert-out and --tls-max "
               "need --tls\n");
    return 2;
  }
  if (o.tls_cert_path.empty() != o.tls_key_path.empty()) {
    fmt::print(stderr, "pelt-target: --tls-cert and --tls-key go together\n");
    return 2;
  }
  return -1;
}

}  // namespace pelt::target
