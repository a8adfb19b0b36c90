// HTTP/1.1 requests as HTTP/2 requests. Lua's request() (wrk.format) and the static request
// are serialized HTTP/1.1; over HTTP/2 each request becomes a stream whose pseudo-headers come
// from the request line and the Host header, whose header names are lower case, and which
// carries none of HTTP/1.1's connection-specific headers (RFC 9113 §8.2.2). A pure function,
// on libhttp-parser: unit-tested and fuzzed (fuzz/h2_request_fuzz.cc).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pelt {

// One request as HTTP/2 sends it.
struct H2Request {
  std::string method;     // :method, e.g. "GET"
  std::string scheme;     // :scheme, "http" or "https"
  std::string authority;  // :authority: the Host header, or the target's host[:port]
  std::string path;       // :path: the request target (origin form), "*" for OPTIONS *
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::string body;                                          // the body (de-chunked)
  bool head = false;                                         // HEAD: the response has no body
};

// Converts `raw`, one or more serialized HTTP/1.1 (or 1.0) requests, into `out` (cleared
// first), one H2Request each, in order:
//  - :method and :path from the request line (an absolute-form target such as
//    "http://host/x" gives :authority and :path), :scheme = `scheme`;
//  - :authority from the first Host header, else `default_authority`;
//  - header names lower-cased; Host, Connection, Keep-Alive, Proxy-Connection,
//    Transfer-Encoding, Upgrade, the headers the Connection header names, and TE other than
//    "trailers" dropped; trailing blanks of values trimmed;
//  - the body from Content-Length or chunked framing; a chunked body gets a content-length.
// Returns false with `error` naming the request at fault (and a byte offset) when the bytes are
// not whole HTTP/1.x requests, or a request cannot go over HTTP/2 (CONNECT, a field name that
// is not a token, a value with a NUL, CR or LF).
bool http1_to_h2(std::string_view raw, std::string_view scheme, std::string_view default_authority,
                 std::vector<H2Request>& out, std::string& error);

}  // namespace pelt
