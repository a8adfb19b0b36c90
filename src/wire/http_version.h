// Which HTTP a run speaks (--http, [target] http), shared by the command line, the scenario
// loader and the connections.
#pragma once

#include <cstdint>
#include <string_view>

namespace pelt {

enum class HttpVersion : uint8_t {
  kHttp11,  // HTTP/1.1 only (wrk's behaviour, the default)
  kHttp2,   // HTTP/2 only: ALPN h2 over TLS, prior knowledge over cleartext (h2c)
  kAuto,    // HTTP/2 when TLS's ALPN picks h2, else HTTP/1.1; HTTP/1.1 over cleartext
};

// "1.1", "2" or "auto".
inline std::string_view http_version_name(HttpVersion v) {
  switch (v) {
    case HttpVersion::kHttp11:
      return "1.1";
    case HttpVersion::kHttp2:
      return "2";
    case HttpVersion::kAuto:
      return "auto";
  }
  return "1.1";
}

// Reads "1.1", "2" or "auto" (also "1", "http/1.1", "h2", "http/2"); false for anything else.
inline bool parse_http_version(std::string_view text, HttpVersion& out) {
  if (text == "1.1" || text == "1" || text == "http/1.1") {
    out = HttpVersion::kHttp11;
  } else if (text == "2" || text == "h2" || text == "http/2" || text == "2.0") {
    out = HttpVersion::kHttp2;
  } else if (text == "auto") {
    out = HttpVersion::kAuto;
  } else {
    return false;
  }
  return true;
}

}  // namespace pelt
