// libFuzzer entry point for the HTTP/1.1-to-HTTP/2 request conversion (src/wire/h2_request.cc),
// the glue between Lua's request() and an HTTP/2 stream.
//
// Input layout: byte 0 picks the scheme (bit 0: https); the rest is what request() returned.
// Invariants (abort on failure):
//  - a refusal has an error message; a success has at least one request;
//  - every request has a method, a path and an authority; header names are non-empty, lower
//    case, never connection-specific (connection, keep-alive, proxy-connection,
//    transfer-encoding, upgrade, host) and TE only as "trailers"; no value holds NUL, CR or LF;
//  - when scan_requests() (the HTTP/1.1 path's check) also accepts the bytes, both count the
//    same requests with the same HEAD flags;
//  - round trip: each request written back as HTTP/1.1 converts to the same request, or is
//    refused by scan_requests() as well (http_parser's own quirks refuse some rewritten bytes).
//
// With clang:  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src
//                fuzz/h2_request_fuzz.cc src/wire/h2_request.cc src/wire/http1_scan.cc
//                -lhttp_parser -o h2_request_fuzz
//              ./h2_request_fuzz -max_total_time=60 fuzz/corpus/h2_request
// Without libFuzzer, -DPELT_FUZZ_STANDALONE adds a main() that runs the files named on the
// command line (g++ works too).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wire/h2_request.h"
#include "wire/http1.h"

namespace {

bool forbidden(const std::string& name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

void check_request(const pelt::H2Request& r) {
  if (r.method.empty() || r.path.empty() || r.authority.empty()) std::abort();
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || forbidden(name)) std::abort();
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') std::abort();
      if (c == ':' || c == ' ') std::abort();
    }
    if (name == "te" && value != "trailers") {
      // Kept only when it says trailers (any case).
      std::string v = value;
      for (char& c : v) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      if (v != "trailers") std::abort();
    }
    for (char c : value) {
      if (c == '\0' || c == '\r' || c == '\n') std::abort();
    }
  }
}

std::string serialize(const pelt::H2Request& r) {
  std::string out = r.method + " " + r.path + " HTTP/1.1\r\nhost: " + r.authority + "\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  return out + "\r\n" + r.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const std::string_view scheme = (bytes[0] & 1) ? "https" : "http";
  const std::string_view raw(reinterpret_cast<const char*>(bytes + 1), size - 1);
  std::vector<pelt::H2Request> out;
  std::string error;
  if (!pelt::http1_to_h2(raw, scheme, "fuzz.test:1", out, error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  if (out.empty() || !error.empty()) std::abort();
  for (const pelt::H2Request& r : out) {
    check_request(r);
    if (r.scheme != scheme) std::abort();
  }
  std::vector<bool> heads;
  std::string scan_error;
  if (pelt::scan_requests(raw, heads, scan_error)) {
    if (heads.size() != out.size()) std::abort();
    for (size_t i = 0; i < heads.size(); ++i) {
      if (heads[i] != out[i].head) std::abort();
    }
  }
  for (const pelt::H2Request& r : out) {
    std::vector<pelt::H2Request> again;
    const std::string written = serialize(r);
    if (!pelt::http1_to_h2(written, scheme, "other.test:2", again, error)) {
      // Refused only where the HTTP/1.1 path's check refuses the same bytes too: http_parser
      // flags a name that merely starts with "Transfer-Encoding" as one, so such a header next
      // to the content-length the conversion adds is refused by both.
      std::vector<bool> written_heads;
      std::string written_error;
      if (pelt::scan_requests(written, written_heads, written_error)) std::abort();
      continue;
    }
    if (again.size() != 1) std::abort();
    const pelt::H2Request& a = again[0];
    if (a.method != r.method || a.path != r.path || a.authority != r.authority ||
        a.headers != r.headers || a.body != r.body || a.head != r.head) {
      std::abort();
    }
  }
  return 0;
}

#ifdef PELT_FUZZ_STANDALONE
#include <cstdio>
#include <fstream>
#include <iterator>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("ran %d inputs\n", argc - 1);
  return 0;
}
#endif  // PELT_FUZZ_STANDALONE
