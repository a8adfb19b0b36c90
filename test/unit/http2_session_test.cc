// Http2Session against an in-memory nghttp2 server (h2_peer.h): streams per request and per
// slot, cancel, RST_STREAM, GOAWAY with retries on the next connection and with an error,
// MAX_CONCURRENT_STREAMS, interim responses, captured headers, and requests that cannot be
// converted.
#include "wire/http2_session.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "h2_peer.h"
#include "results/recorder.h"
#include "wire/h2_memory.h"

namespace {

using pelt::test::H2Peer;

constexpr const char* kGet = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
constexpr const char* kBatch =
    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody";

// The connection side: feeds what the session writes to the peer, and the peer's answers back.
class Harness : public pelt::SessionEvents {
 public:
  explicit Harness(H2Peer::Options options, uint32_t slots = 1) {
    protocol_.version = pelt::HttpVersion::kHttp2;
    protocol_.authority = "example.test";
    protocol_.memory = &memory_;
    session_ = std::make_unique<pelt::Http2Session>(*this, recorder_, protocol_);
    for (uint32_t i = 0; i < slots; ++i) session_->add_slot();
    connect(std::move(options));
  }

  // A new connection to a new peer.
  void connect(H2Peer::Options options) {
    peer_ = std::make_unique<H2Peer>(std::move(options));
    REQUIRE(session_->start());
    pump();
  }
  // Moves bytes both ways until neither side has anything to say.
  bool pump() {
    for (int i = 0; i < 100; ++i) {
      if (!to_peer_.empty()) {
        std::string bytes;
        bytes.swap(to_peer_);
        REQUIRE(peer_->feed(bytes));
      }
      const std::string back = peer_->output();
      if (back.empty() && to_peer_.empty()) return true;
      if (!back.empty() && !session_->feed(back.data(), back.size())) return false;
      REQUIRE(session_->flush());
    }
    FAIL("the two sides never went quiet");
    return false;
  }
  int send(uint32_t slot, const std::string& bytes) {
    batch_ = pelt::make_owned_batch(bytes, heads_);
    const int n = session_->prepare(*batch_);
    if (n > 0) {
      REQUIRE(session_->submit(slot));
      REQUIRE(session_->flush());
    }
    return n;
  }

  // SessionEvents
  void on_first_byte(uint32_t slot) override { first_bytes.push_back(slot); }
  void on_response(uint32_t slot, const pelt::ParsedResponse& r) override {
    responses.push_back({slot, r});
  }
  void on_request_failed(uint32_t slot, pelt::ErrorKind, const std::string& reason,
                         const std::string&) override {
    failures.push_back({slot, reason});
  }
  bool write(const std::shared_ptr<const void>&, std::string_view bytes) override {
    to_peer_.append(bytes);
    return true;
  }
  uint64_t now_ns() const override { return 1; }

  pelt::Http2Session& session() { return *session_; }
  H2Peer& peer() { return *peer_; }
  const pelt::Http2Stats& stats() const { return stats_.http2; }

  std::vector<std::pair<uint32_t, pelt::ParsedResponse>> responses;  // by arrival
  std::vector<std::pair<uint32_t, std::string>> failures;            // (slot, reason)
  std::vector<uint32_t> first_bytes;                                 // slots, by arrival

 private:
  pelt::WorkerStats stats_;
  pelt::Recorder recorder_{stats_};
  pelt::ProtocolSettings protocol_;
  pelt::H2Memory memory_;  // nghttp2's blocks (declared first: outlives the session)
  std::unique_ptr<pelt::Http2Session> session_;
  std::unique_ptr<H2Peer> peer_;
  std::string to_peer_;             // bytes written, not yet fed to the peer
  std::vector<bool> heads_{false};  // unused by HTTP/2
  std::shared_ptr<pelt::RequestBatch> batch_;  // the batch sent last
};

}  // namespace

TEST_CASE("http2 session: requests become streams, answers find their slot", "[http2]") {
  Harness h({}, 2);
  REQUIRE(h.session().accepting());
  CHECK(h.send(0, kBatch) == 3);
  CHECK(h.send(1, kGet) == 1);
  CHECK(h.session().outstanding() == 4);
  CHECK(h.session().outstanding(0) == 3);
  REQUIRE(h.pump());
  CHECK(h.session().outstanding() == 0);
  REQUIRE(h.responses.size() == 4);
  int slot0 = 0;
  for (const auto& [slot, r] : h.responses) {
    CHECK(r.status == 200);
    CHECK(r.body_bytes == 2);
    slot0 += slot == 0 ? 1 : 0;
  }
  CHECK(slot0 == 3);
  CHECK(h.first_bytes.size() == 4);
  CHECK(h.peer().paths == std::vector<std::string>{"/1", "/2", "/3", "/a"});
  CHECK(h.stats().streams == 4);
  CHECK(h.stats().connections == 1);
  CHECK(h.stats().header_fields_sent > h.stats().header_bytes_sent);
}

TEST_CASE("http2 session: capture keeps lower-case headers and the body; 1xx is skipped",
          "[http2]") {
  H2Peer::Options o;
  o.interim = true;
  o.body = "hello body";
  Harness h(o);
  h.session().set_capture(true);
  h.send(0, kGet);
  REQUIRE(h.pump());
  REQUIRE(h.responses.size() == 1);
  const pelt::ParsedResponse& r = h.responses[0].second;
  CHECK(r.status == 200);
  CHECK(r.body == "hello body");
  CHECK(r.headers ==
        std::vector<std::pair<std::string, std::string>>{{"content-type", "text/plain"}});
  CHECK(h.first_bytes.size() == 1);
}

TEST_CASE("http2 session: cancel resets only the slot's streams", "[http2]") {
  H2Peer::Options o;
  o.hold = true;
  Harness h(o, 2);
  h.send(0, kBatch);
  h.send(1, kGet);
  REQUIRE(h.pump());
  REQUIRE(h.session().cancel(0));
  CHECK(h.session().outstanding() == 1);
  CHECK(h.session().outstanding(0) == 0);
  REQUIRE(h.session().flush());
  REQUIRE(h.pump());
  CHECK(h.peer().resets == 3);
  CHECK(h.peer().last_reset_code == NGHTTP2_CANCEL);
  CHECK(h.stats().resets_sent == 3);
  h.peer().answer_held();  // the answers to cancelled streams are dropped silently
  REQUIRE(h.pump());
  REQUIRE(h.responses.size() == 1);
  CHECK(h.responses[0].first == 1);
  CHECK(h.failures.empty());
}

TEST_CASE("http2 session: RST_STREAM from the server fails that request", "[http2]") {
  H2Peer::Options o;
  o.rst_every_other = true;
  Harness h(o);
  h.send(0, kBatch);
  REQUIRE(h.pump());
  CHECK(h.responses.size() == 2);
  REQUIRE(h.failures.size() == 1);
  CHECK(h.failures[0].second == "stream reset REFUSED_STREAM");
  CHECK(h.session().outstanding() == 0);
  CHECK(h.stats().resets_received == 1);
}

TEST_CASE("http2 session: a graceful GOAWAY sends unprocessed requests again", "[http2]") {
  H2Peer::Options o;
  o.goaway_after = 1;
  Harness h(o);
  h.send(0, kBatch);
  REQUIRE(h.pump());
  // Stream 1 was answered; streams 3 and 5 were above the GOAWAY's last_stream_id.
  CHECK(h.responses.size() == 1);
  CHECK(h.failures.empty());
  CHECK(h.session().outstanding() == 2);
  CHECK_FALSE(h.session().accepting());
  CHECK(h.session().wants_close());
  CHECK(h.stats().goaways == 1);
  h.connect({});  // the next connection
  REQUIRE(h.pump());
  CHECK(h.responses.size() == 3);
  CHECK(h.session().outstanding() == 0);
  CHECK(h.stats().retried == 2);
  CHECK(h.peer().paths == std::vector<std::string>{"/2", "/3"});
}

TEST_CASE("http2 session: a GOAWAY with an error fails the connection", "[http2]") {
  H2Peer::Options o;
  o.goaway_after = 1;
  o.goaway_code = NGHTTP2_PROTOCOL_ERROR;
  Harness h(o);
  h.send(0, kBatch);
  CHECK_FALSE(h.pump());
  CHECK(h.session().failure_reason() == "goaway PROTOCOL_ERROR");
  CHECK(h.session().error().find("GOAWAY(PROTOCOL_ERROR, last_stream_id 1)") != std::string::npos);
  CHECK(h.session().outstanding() == 3);  // the connection's failure counts them
  CHECK_FALSE(h.session().wants_close());
  h.session().reset();
  CHECK(h.session().outstanding() == 0);
}

TEST_CASE("http2 session: MAX_CONCURRENT_STREAMS below the requests queues them", "[http2]") {
  H2Peer::Options o;
  o.max_streams = 1;
  Harness h(o);
  h.send(0, kBatch);
  h.send(0, kGet);
  REQUIRE(h.pump());
  CHECK(h.responses.size() == 4);
  CHECK(h.stats().peer_max_concurrent_streams == 1);
  CHECK(h.stats().queued == 3);
}

TEST_CASE("http2 session: bytes that are not requests are refused at prepare", "[http2]") {
  Harness h({});
  CHECK(h.send(0, "not a request\r\n\r\n") == -1);
  CHECK(h.session().error().find("invalid request 1") != std::string::npos);
  CHECK(h.send(0, kGet) == 1);
  REQUIRE(h.pump());
  CHECK(h.responses.size() == 1);
}

TEST_CASE("http2 session: the end of the stream with streams open is a premature close",
          "[http2]") {
  H2Peer::Options o;
  o.hold = true;
  Harness h(o);
  h.send(0, kGet);
  REQUIRE(h.pump());
  CHECK_FALSE(h.session().finish());
  CHECK(h.session().error() == "the server closed the connection with 1 stream open");
}

TEST_CASE("h2 memory: blocks are reused by size class and realloc keeps the bytes", "[http2]") {
  pelt::H2Memory pool;
  nghttp2_mem* mem = pool.mem();
  void* a = mem->malloc(40, mem->mem_user_data);
  std::memset(a, 'x', 40);
  mem->free(a, mem->mem_user_data);
  void* b = mem->malloc(33, mem->mem_user_data);  // the same 48-byte class
  CHECK(b == a);
  auto* c = static_cast<char*>(mem->realloc(b, 40, mem->mem_user_data));
  CHECK(c == b);  // still fits
  c = static_cast<char*>(mem->realloc(c, 3000, mem->mem_user_data));
  CHECK(std::string(c, 40) == std::string(40, 'x'));
  c = static_cast<char*>(mem->realloc(c, 20, mem->mem_user_data));
  CHECK(std::string(c, 20) == std::string(20, 'x'));
  auto* z = static_cast<unsigned char*>(mem->calloc(10, 10, mem->mem_user_data));
  CHECK(std::all_of(z, z + 100, [](unsigned char v) { return v == 0; }));
  mem->free(z, mem->mem_user_data);
  mem->free(c, mem->mem_user_data);
  CHECK(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data) == nullptr);
}
