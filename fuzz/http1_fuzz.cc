// libFuzzer entry point for the HTTP/1 response parser.
//
// Input layout: byte 0 picks the split point and the requests (low bits: HEAD flags for up to
// four outstanding requests); the rest is the bytes the server sends. Each input runs with
// capture on and off, fed whole-in-two, then byte by byte, and the runs must agree.
//
// With clang:  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src
//                fuzz/http1_fuzz.cc src/wire/http1.cc src/wire/http1_scan.cc -lhttp_parser -o http1_fuzz
//              ./http1_fuzz -max_total_time=60 fuzz/corpus/http1
// Without libFuzzer, -DPELT_FUZZ_STANDALONE adds a main() that runs the files named on the
// command line:  g++ -std=c++20 -DPELT_FUZZ_STANDALONE -I src fuzz/http1_fuzz.cc src/wire/http1.cc src/wire/http1_scan.cc
//                  -lhttp_parser -o http1_fuzz && ./http1_fuzz fuzz/corpus/http1/*
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wire/http1.h"

namespace {

// What one run saw, compared between the capture-on and capture-off runs.
struct FuzzRun {
  size_t responses = 0;     // on_response calls
  uint64_t body_bytes = 0;  // sum of body_bytes over responses
  size_t first_bytes = 0;   // on_first_byte calls
  bool fed_ok = true;       // every feed() returned true
  bool finished_ok = true;  // finish() returned true
};

void on_response(void* ctx, const pelt::ParsedResponse& response) {
  auto* run = static_cast<FuzzRun*>(ctx);
  ++run->responses;
  run->body_bytes += response.body_bytes;
  if (response.status < 100 || response.status > 999) std::abort();
  if (response.body.size() > pelt::kMaxCapturedBodyBytes) std::abort();
}

void on_first_byte(void* ctx) {
  ++static_cast<FuzzRun*>(ctx)->first_bytes;
}

FuzzRun run_once(const char* data, size_t size, size_t split, uint8_t control, bool capture,
                 bool byte_by_byte) {
  FuzzRun run;
  pelt::ResponseParser parser(on_response, &run);
  parser.set_capture(capture);
  parser.set_on_first_byte(on_first_byte);
  const size_t requests = 1 + (control & 3);
  for (size_t i = 0; i < requests; ++i) parser.push_request(((control >> (2 + i)) & 1) != 0);
  if (byte_by_byte) {
    for (size_t i = 0; i < size; ++i) run.fed_ok = parser.feed(data + i, 1) && run.fed_ok;
  } else {
    run.fed_ok = parser.feed(data, split);
    run.fed_ok = parser.feed(data + split, size - split) && run.fed_ok;
  }
  run.finished_ok = parser.finish();
  // Invariants: the FIFO never underflows and answered requests match the responses seen.
  if (parser.outstanding() > requests) std::abort();
  if (requests - parser.outstanding() != run.responses) std::abort();
  if ((!run.fed_ok || !run.finished_ok) && parser.error().empty()) std::abort();
  if (run.first_bytes < run.responses) std::abort();
  parser.reset();
  if (parser.outstanding() != 0 || !parser.error().empty() || parser.in_response()) std::abort();
  return run;
}

bool same(const FuzzRun& a, const FuzzRun& b) {
  return a.responses == b.responses && a.body_bytes == b.body_bytes &&
         a.first_bytes == b.first_bytes && a.fed_ok == b.fed_ok && a.finished_ok == b.finished_ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = bytes[0];
  const char* data = reinterpret_cast<const char*>(bytes + 1);
  const size_t len = size - 1;
  const size_t split = len == 0 ? 0 : control % (len + 1);
  const FuzzRun plain = run_once(data, len, split, control, false, false);
  const FuzzRun captured = run_once(data, len, split, control, true, false);
  // Capture may only add failures through its size bounds, which inputs this small never reach.
  if (len < (1u << 20) && !same(plain, captured)) std::abort();
  if (len <= 4096 && !same(plain, run_once(data, len, split, control, false, true))) std::abort();
  std::vector<bool> is_head;
  std::string error;
  if (!pelt::scan_requests(std::string_view(data, len), is_head, error) && error.empty()) {
    std::abort();
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
