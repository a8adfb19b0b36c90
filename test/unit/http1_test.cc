#include "wire/http1.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using pelt::ParsedResponse;
using pelt::ResponseParser;

namespace {

// Everything one parse run produced, comparable across different ways of splitting the input.
struct RunResult {
  std::vector<ParsedResponse> responses;  // responses delivered, in order
  bool fed_ok = true;                     // every feed() returned true
  bool finished_ok = true;                // finish() returned true (when called)
  std::string error;                      // error() at the end
  size_t outstanding = 0;                 // outstanding() at the end
  int first_bytes = 0;                    // on_first_byte calls
};

void collect(void* ctx, const ParsedResponse& response) {
  static_cast<RunResult*>(ctx)->responses.push_back(response);
}

void count_first_byte(void* ctx) {
  ++static_cast<RunResult*>(ctx)->first_bytes;
}

// Feeds `input` cut at the given offsets (ascending), optionally calling finish() at the end.
RunResult run(const std::string& input, const std::vector<bool>& requests, bool capture,
              const std::vector<size_t>& cuts, bool finish) {
  RunResult result;
  ResponseParser parser(collect, &result);
  parser.set_on_first_byte(count_first_byte);
  parser.set_capture(capture);
  for (bool is_head : requests) parser.push_request(is_head);
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    if (!parser.feed(input.data() + start, end - start)) result.fed_ok = false;
    start = end;
  }
  if (finish) result.finished_ok = parser.finish();
  result.error = parser.error();
  result.outstanding = parser.outstanding();
  return result;
}

bool same_response(const ParsedResponse& a, const ParsedResponse& b) {
  return a.status == b.status && a.keep_alive == b.keep_alive && a.body_bytes == b.body_bytes &&
         a.header_bytes == b.header_bytes && a.headers == b.headers && a.body == b.body;
}

void require_same(const RunResult& a, const RunResult& b, const std::string& how) {
  INFO("split: " << how);
  REQUIRE(a.fed_ok == b.fed_ok);
  REQUIRE(a.finished_ok == b.finished_ok);
  REQUIRE(a.outstanding == b.outstanding);
  REQUIRE(a.first_bytes == b.first_bytes);
  REQUIRE(a.responses.size() == b.responses.size());
  for (size_t i = 0; i < a.responses.size(); ++i) {
    INFO("response " << i);
    REQUIRE(same_response(a.responses[i], b.responses[i]));
  }
}

// Parses `input` whole, then split in two at every offset, then byte by byte, with capture on
// and off; every split must give the same result as the whole feed. Returns the whole run.
RunResult parse_everywhere(const std::string& input, const std::vector<bool>& requests,
                           bool capture = true, bool finish = false) {
  const RunResult whole = run(input, requests, capture, {}, finish);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    require_same(whole, run(input, requests, capture, {cut}, finish),
                 "two pieces at " + std::to_string(cut));
  }
  std::vector<size_t> every;
  for (size_t cut = 1; cut < input.size(); ++cut) every.push_back(cut);
  require_same(whole, run(input, requests, capture, every, finish), "byte by byte");
  // Capture must not change what is counted.
  const RunResult other = run(input, requests, !capture, every, finish);
  REQUIRE(other.fed_ok == whole.fed_ok);
  REQUIRE(other.finished_ok == whole.finished_ok);
  REQUIRE(other.responses.size() == whole.responses.size());
  for (size_t i = 0; i < other.responses.size(); ++i) {
    REQUIRE(other.responses[i].status == whole.responses[i].status);
    REQUIRE(other.responses[i].body_bytes == whole.responses[i].body_bytes);
    REQUIRE(other.responses[i].keep_alive == whole.responses[i].keep_alive);
    REQUIRE(other.responses[i].header_bytes == whole.responses[i].header_bytes);
  }
  return whole;
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Id: 1\r\n\r\nhello";

}  // namespace

TEST_CASE("http1: Content-Length body", "[http1]") {
  const RunResult r = parse_everywhere(kOk, {false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.outstanding == 0);
  REQUIRE(r.first_bytes == 1);
  REQUIRE(r.responses.size() == 1);
  const ParsedResponse& p = r.responses[0];
  CHECK(p.status == 200);
  CHECK(p.keep_alive);
  CHECK(p.body_bytes == 5);
  CHECK(p.body == "hello");
  CHECK(p.header_bytes == kOk.size() - 5);
  REQUIRE(p.headers.size() == 2);
  CHECK(p.headers[0] == std::make_pair(std::string("Content-Length"), std::string("5")));
  CHECK(p.headers[1] == std::make_pair(std::string("X-Id"), std::string("1")));
}

TEST_CASE("http1: capture off keeps no headers or body", "[http1]") {
  const RunResult r = parse_everywhere(kOk, {false}, /*capture=*/false);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body_bytes == 5);
  CHECK(r.responses[0].body.empty());
  CHECK(r.responses[0].headers.empty());
}

TEST_CASE("http1: chunked body with extensions and trailers", "[http1]") {
  const std::string msg =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "7\r\n, world\r\n"
      "0;last\r\nX-Sum: 42\r\n\r\n";
  const RunResult r = parse_everywhere(msg, {false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.responses.size() == 1);
  const ParsedResponse& p = r.responses[0];
  CHECK(p.status == 200);
  CHECK(p.keep_alive);
  CHECK(p.body == "hello, world");
  CHECK(p.body_bytes == 12);
  REQUIRE(p.headers.size() == 3);
  CHECK(p.headers[2].first == "X-Sum");
  CHECK(p.headers[2].second == "42");
}

TEST_CASE("http1: HEAD response has Content-Length but no body", "[http1]") {
  const std::string msg =
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + kOk;  // second answers a GET
  const RunResult r = parse_everywhere(msg, {true, false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].body_bytes == 0);
  CHECK(r.responses[0].body.empty());
  CHECK(r.responses[1].body == "hello");
  CHECK(r.outstanding == 0);
}

TEST_CASE("http1: 204 and 304 carry no body", "[http1]") {
  const std::string msg =
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n" +
      kOk;
  const RunResult r = parse_everywhere(msg, {false, false, false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[0].status == 204);
  CHECK(r.responses[0].body_bytes == 0);
  CHECK(r.responses[1].status == 304);
  CHECK(r.responses[1].body_bytes == 0);
  CHECK(r.responses[2].status == 200);
  CHECK(r.responses[2].body == "hello");
  CHECK(r.first_bytes == 3);
}

TEST_CASE("http1: 100 Continue is skipped, the final response is reported", "[http1]") {
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const RunResult r = parse_everywhere(interim + kOk, {false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 200);
  CHECK(r.responses[0].body == "hello");
  CHECK(r.first_bytes == 1);  // the interim byte counted as the first byte

  RunResult partial;
  ResponseParser parser(collect, &partial);
  parser.push_request(false);
  REQUIRE(parser.feed(interim.data(), interim.size()));
  CHECK(partial.responses.empty());
  CHECK(parser.outstanding() == 1);
  CHECK(parser.in_response());
  CHECK_FALSE(parser.finish());  // closed before the final response
  CHECK(parser.error().find("premature") != std::string::npos);
}

TEST_CASE("http1: 101 Switching Protocols ends HTTP on the connection", "[http1]") {
  const std::string msg =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "\x81\x05hello-not-http";
  const RunResult r = parse_everywhere(msg, {false}, true, /*finish=*/true);
  REQUIRE(r.fed_ok);
  REQUIRE(r.finished_ok);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 101);
  CHECK_FALSE(r.responses[0].keep_alive);
  CHECK(r.outstanding == 0);
}

TEST_CASE("http1: read-until-close body ends at finish()", "[http1]") {
  const std::string msg = "HTTP/1.1 200 OK\r\nServer: t\r\n\r\nstreamed until close";
  const RunResult r = parse_everywhere(msg, {false}, true, /*finish=*/true);
  REQUIRE(r.fed_ok);
  REQUIRE(r.finished_ok);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "streamed until close");
  CHECK_FALSE(r.responses[0].keep_alive);

  RunResult open;
  ResponseParser parser(collect, &open);
  parser.push_request(false);
  REQUIRE(parser.feed(msg.data(), msg.size()));
  CHECK(open.responses.empty());  // no end known before the close
  CHECK(parser.in_response());
  REQUIRE(parser.finish());
  REQUIRE(open.responses.size() == 1);
  CHECK_FALSE(parser.in_response());
}

TEST_CASE("http1: Connection close and HTTP/1.0 keep-alive rules", "[http1]") {
  SECTION("HTTP/1.1 Connection: close") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", {false});
    REQUIRE(r.responses.size() == 1);
    CHECK_FALSE(r.responses[0].keep_alive);
  }
  SECTION("HTTP/1.0 without keep-alive") {
    const RunResult r = parse_everywhere("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", {false});
    REQUIRE(r.responses.size() == 1);
    CHECK_FALSE(r.responses[0].keep_alive);
  }
  SECTION("HTTP/1.0 with Connection: keep-alive") {
    const RunResult r = parse_everywhere(
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
        "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        {false, false});
    REQUIRE(r.fed_ok);
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[0].keep_alive);
    CHECK(r.responses[1].status == 404);
  }
  SECTION("HTTP/1.0 close-delimited body") {
    const RunResult r =
        parse_everywhere("HTTP/1.0 200 OK\r\n\r\nall of it", {false}, true, /*finish=*/true);
    REQUIRE(r.finished_ok);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "all of it");
    CHECK_FALSE(r.responses[0].keep_alive);
  }
}

TEST_CASE("http1: pipelined responses in one feed", "[http1]") {
  const std::string msg =
      kOk + "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop" +
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
  const RunResult r = parse_everywhere(msg, {false, false, false});
  REQUIRE(r.fed_ok);
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[0].body == "hello");
  CHECK(r.responses[1].status == 404);
  CHECK(r.responses[1].body == "nop");
  CHECK(r.responses[2].body == "ab");
  CHECK(r.first_bytes == 3);
  CHECK(r.outstanding == 0);
}

TEST_CASE("http1: header names and values split across feeds are joined", "[http1]") {
  const std::string msg =
      "HTTP/1.1 200 OK\r\nX-A-Rather-Long-Header-Name: a-rather-long-value\r\n"
      "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n";
  const RunResult r = parse_everywhere(msg, {false});
  REQUIRE(r.responses.size() == 1);
  const auto& h = r.responses[0].headers;
  REQUIRE(h.size() == 4);
  CHECK(h[0].first == "X-A-Rather-Long-Header-Name");
  CHECK(h[0].second == "a-rather-long-value");
  CHECK(h[1].second == "a=1");
  CHECK(h[2].second == "b=2");
}

TEST_CASE("http1: malformed input is a parse error", "[http1]") {
  SECTION("garbage status line") {
    const RunResult r = parse_everywhere("GARBAGE 200 OK\r\n\r\n", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.error.rfind("invalid status line \"G", 0) == 0);
    CHECK(r.responses.empty());
  }
  SECTION("status code below 100") {
    const RunResult r = parse_everywhere("HTTP/1.1 0 Zero\r\nContent-Length: 0\r\n\r\n", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.responses.empty());
    CHECK(r.error.rfind("invalid status code", 0) == 0);
  }
  SECTION("invalid chunk size") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.error.rfind("invalid chunk size line \"zz\"", 0) == 0);
  }
  SECTION("two different Content-Length headers") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.responses.empty());
    CHECK_FALSE(r.error.empty());
  }
  SECTION("body longer than Content-Length") {
    const RunResult r = parse_everywhere(kOk + "HTTP/1.1 200 OK\r\n", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.responses.size() == 1);
    CHECK(r.error.find("no request outstanding") != std::string::npos);
  }
  SECTION("extra bytes that are not a response") {
    const RunResult r = parse_everywhere(kOk + "xyz", {false});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.responses.size() == 1);
  }
  SECTION("a response with no request at all") {
    const RunResult r = parse_everywhere(kOk, {});
    CHECK_FALSE(r.fed_ok);
    CHECK(r.responses.empty());
    CHECK(r.outstanding == 0);
  }
}

TEST_CASE("http1: lenient where real servers differ, strict where framing is at stake", "[http1]") {
  SECTION("bare LF line ends, no reason phrase, CRLF between responses") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200\nContent-Length: 2\n\nok\r\n\r\nHTTP/1.1 204 \r\n\r\n", {false, false});
    REQUIRE(r.fed_ok);
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[0].body == "ok");
    CHECK(r.responses[1].status == 204);
  }
  SECTION("equal duplicate Content-Length values are one length") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length:3\r\n\r\nabc", {false});
    REQUIRE(r.fed_ok);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "abc");
  }
  SECTION("header values lose surrounding blanks; folded lines join the value") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nX-A: \t spaced \t\r\nX-B: one\r\n  two\r\nContent-Length: 0\r\n\r\n",
        {false});
    REQUIRE(r.fed_ok);
    REQUIRE(r.responses.size() == 1);
    const auto& h = r.responses[0].headers;
    REQUIRE(h.size() == 3);
    CHECK(h[0].second == "spaced");
    CHECK(h[1].second == "one two");
  }
  SECTION("the last transfer coding decides") {
    const RunResult chunked = parse_everywhere(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", {false});
    REQUIRE(chunked.fed_ok);
    REQUIRE(chunked.responses.size() == 1);
    CHECK(chunked.responses[0].body_bytes == 3);
    CHECK(chunked.responses[0].keep_alive);
    const RunResult until_close = parse_everywhere(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc", {false}, true,
        /*finish=*/true);
    REQUIRE(until_close.finished_ok);
    REQUIRE(until_close.responses.size() == 1);
    CHECK(until_close.responses[0].body_bytes == 6);
    CHECK_FALSE(until_close.responses[0].keep_alive);
  }
  SECTION("Transfer-Encoding wins over Content-Length and the connection is not reused") {
    const RunResult r = parse_everywhere(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nab\r\n0\r\n\r\n", {false});
    REQUIRE(r.fed_ok);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "ab");
    CHECK_FALSE(r.responses[0].keep_alive);
  }
  SECTION("a status line that cannot be HTTP fails on its first bytes") {
    RunResult r;
    ResponseParser parser(collect, &r);
    parser.push_request(false);
    CHECK_FALSE(parser.feed("SSH-", 4));
    CHECK(parser.error().rfind("invalid status line \"SSH-\"", 0) == 0);
  }
  SECTION("rejected") {
    struct Bad {
      const char* input;
      const char* error;
    };
    const Bad cases[] = {
        {"HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"},
        {"HTTP/1.1 20 OK\r\n\r\n", "invalid status code"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "invalid status code"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "invalid Content-Length \"12a\""},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "invalid header name \"Bad Name\""},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "invalid header line"},
        {"HTTP/1.1 200 OK\r\n: empty\r\n\r\n", "empty name"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\n", "folded"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
         "chunk data longer than its size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", "invalid chunk size line"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
         "too large"},
    };
    for (const Bad& bad : cases) {
      INFO(bad.input);
      const RunResult r = parse_everywhere(bad.input, {false});
      CHECK_FALSE(r.fed_ok);
      CHECK(r.responses.empty());
      CHECK(r.error.find(bad.error) != std::string::npos);
      CHECK(r.error.find("(response at byte 0)") != std::string::npos);
    }
  }
}

TEST_CASE("http1: the status line and headers may take 80 KiB, trailers 80 KiB more", "[http1]") {
  const std::string start = "HTTP/1.1 200 OK\r\nX-Fill: ";
  const std::string end = "\r\nContent-Length: 0\r\n\r\n";
  const size_t limit = 80 * 1024;
  const std::string fits = start + std::string(limit - start.size() - end.size(), 'f') + end;
  REQUIRE(fits.size() == limit);
  const std::string over = start + std::string(limit - start.size() - end.size() + 1, 'f') + end;
  for (bool capture : {true, false}) {
    RunResult ok = run(fits, {false}, capture, {fits.size() / 3}, false);
    CHECK(ok.fed_ok);
    REQUIRE(ok.responses.size() == 1);
    CHECK(ok.responses[0].header_bytes == limit);
    RunResult bad = run(over, {false}, capture, {over.size() / 3}, false);
    CHECK_FALSE(bad.fed_ok);
    CHECK(bad.error.rfind("header section over 80 KiB", 0) == 0);
  }
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " +
                              std::string(limit, 't') + "\r\n\r\n";
  RunResult trailers = run(chunked, {false}, true, {}, false);
  CHECK_FALSE(trailers.fed_ok);
  CHECK(trailers.error.rfind("chunked trailers over 80 KiB", 0) == 0);
}

TEST_CASE("http1: premature close mid-body fails finish()", "[http1]") {
  const std::string msg = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
  const RunResult r = parse_everywhere(msg, {false}, true, /*finish=*/true);
  CHECK(r.fed_ok);
  CHECK_FALSE(r.finished_ok);
  CHECK(r.responses.empty());
  CHECK(r.outstanding == 1);
  CHECK(r.error.find("premature close") != std::string::npos);
  CHECK(r.error.find("after 4 of 10 body bytes") != std::string::npos);

  SECTION("close between responses is clean") {
    const RunResult clean = parse_everywhere(kOk, {false, false}, true, /*finish=*/true);
    CHECK(clean.finished_ok);
    CHECK(clean.outstanding == 1);  // unanswered, but nothing was cut off
  }
  SECTION("close mid-headers") {
    const RunResult cut =
        parse_everywhere("HTTP/1.1 200 OK\r\nContent-Len", {false}, true, /*finish=*/true);
    CHECK_FALSE(cut.finished_ok);
  }
}

TEST_CASE("http1: captured sizes are bounded", "[http1]") {
  const size_t big = (8u << 20) + 1;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big) + "\r\n\r\n";
  const std::string body(big, 'b');
  for (bool capture : {true, false}) {
    RunResult r;
    ResponseParser parser(collect, &r);
    parser.set_capture(capture);
    parser.push_request(false);
    bool ok = parser.feed(head.data(), head.size());
    for (size_t at = 0; at < body.size() && ok; at += 65536) {
      ok = parser.feed(body.data() + at, std::min<size_t>(65536, body.size() - at));
    }
    if (capture) {
      CHECK_FALSE(ok);
      CHECK(parser.error().rfind("response too large", 0) == 0);
      CHECK(r.responses.empty());
    } else {
      CHECK(ok);
      REQUIRE(r.responses.size() == 1);
      CHECK(r.responses[0].body_bytes == big);
      CHECK(r.responses[0].body.empty());
    }
  }
  // Headers far beyond the bound are refused too (by http_parser's own header limit first).
  RunResult r;
  ResponseParser parser(collect, &r);
  parser.set_capture(true);
  parser.push_request(false);
  const std::string start = "HTTP/1.1 200 OK\r\nX-Big: ";
  bool ok = parser.feed(start.data(), start.size());
  const std::string chunk(4096, 'h');
  for (int i = 0; i < 512 && ok; ++i) ok = parser.feed(chunk.data(), chunk.size());
  CHECK_FALSE(ok);
  CHECK_FALSE(parser.error().empty());
}

// Counts responses and, from inside the callback, sends one more request each time.
struct Chain {
  ResponseParser* parser = nullptr;  // parser to push the follow-up request to
  int responses = 0;                 // responses seen
  int resend_until = 0;              // push a new request while responses < this
  bool reset_on_first = false;       // call reset() from inside the first callback
};

void chain_response(void* ctx, const ParsedResponse&) {
  auto* chain = static_cast<Chain*>(ctx);
  ++chain->responses;
  if (chain->reset_on_first) {
    chain->parser->reset();
    return;
  }
  if (chain->responses < chain->resend_until) chain->parser->push_request(false);
}

TEST_CASE("http1: callbacks may push requests or reset the parser", "[http1]") {
  SECTION("push from the callback") {
    Chain chain;
    ResponseParser parser(chain_response, &chain);
    chain.parser = &parser;
    chain.resend_until = 3;
    parser.push_request(false);
    const std::string three = kOk + kOk + kOk;
    REQUIRE(parser.feed(three.data(), three.size()));
    CHECK(chain.responses == 3);
    CHECK(parser.outstanding() == 0);
  }
  SECTION("reset from the callback drops the rest of the buffer") {
    Chain chain;
    ResponseParser parser(chain_response, &chain);
    chain.parser = &parser;
    chain.reset_on_first = true;
    parser.push_request(false);
    parser.push_request(false);
    const std::string two = kOk + kOk;
    REQUIRE(parser.feed(two.data(), two.size()));
    CHECK(chain.responses == 1);
    CHECK(parser.outstanding() == 0);
    CHECK_FALSE(parser.in_response());
  }
}

TEST_CASE("http1: reset forgets errors and outstanding requests", "[http1]") {
  RunResult r;
  ResponseParser parser(collect, &r);
  parser.push_request(false);
  REQUIRE_FALSE(parser.feed("junk", 4));
  REQUIRE_FALSE(parser.feed(kOk.data(), kOk.size()));  // stays failed
  parser.reset();
  CHECK(parser.error().empty());
  CHECK(parser.outstanding() == 0);
  parser.push_request(false);
  REQUIRE(parser.feed(kOk.data(), kOk.size()));
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body_bytes == 5);
}

TEST_CASE("http1: deep pipelines keep HEAD order", "[http1]") {
  std::string msg;
  std::vector<bool> requests;
  const std::string head_reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  for (int i = 0; i < 50; ++i) {
    const bool is_head = i % 3 == 0;
    requests.push_back(is_head);
    msg += is_head ? head_reply : kOk;
  }
  RunResult r;
  ResponseParser parser(collect, &r);
  for (bool is_head : requests) parser.push_request(is_head);
  REQUIRE(parser.outstanding() == 50);
  REQUIRE(parser.feed(msg.data(), msg.size()));
  REQUIRE(r.responses.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(r.responses[i].body_bytes == (i % 3 == 0 ? 0u : 5u));
  CHECK(parser.outstanding() == 0);
}

TEST_CASE("scan_requests: counts whole requests and spots HEAD", "[http1]") {
  std::vector<bool> is_head;
  std::string error;
  SECTION("pipelined GET, HEAD, POST with a body") {
    const std::string raw =
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
    REQUIRE(pelt::scan_requests(raw, is_head, error));
    CHECK(error.empty());
    CHECK(is_head == std::vector<bool>{false, true, false});
  }
  SECTION("incomplete trailing request names its offset") {
    const std::string first = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string raw = first + "GET /two HTTP/1.1\r\nHost:";
    REQUIRE_FALSE(pelt::scan_requests(raw, is_head, error));
    CHECK(error.find("byte " + std::to_string(first.size())) != std::string::npos);
  }
  SECTION("body shorter than its Content-Length") {
    REQUIRE_FALSE(
        pelt::scan_requests("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", is_head, error));
    CHECK(error.find("incomplete") != std::string::npos);
  }
  SECTION("garbage") {
    REQUIRE_FALSE(pelt::scan_requests("GET / HTTP/1.1\r\n\r\n\x01\x02garbage", is_head, error));
    CHECK(error.find("byte 18") != std::string::npos);
  }
  SECTION("empty buffer") {
    REQUIRE_FALSE(pelt::scan_requests("", is_head, error));
    CHECK_FALSE(error.empty());
  }
  SECTION("not HTTP/1.x") {
    REQUIRE_FALSE(pelt::scan_requests("GET / HTTP/2.0\r\n\r\n", is_head, error));
    CHECK(error.find("HTTP/1.x") != std::string::npos);
  }
}
