// HTTP/1.1 requests (as wrk.format builds them) turned into HTTP/2 requests.
#include "wire/h2_request.h"

#include <catch2/catch.hpp>

namespace {

using pelt::H2Request;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<H2Request> convert(std::string_view raw, std::string_view scheme = "http") {
  std::vector<H2Request> out;
  std::string error;
  INFO(raw);
  REQUIRE(pelt::http1_to_h2(raw, scheme, "example.test:8080", out, error));
  CHECK(error.empty());
  return out;
}

std::string failure(std::string_view raw) {
  std::vector<H2Request> out;
  std::string error;
  CHECK_FALSE(pelt::http1_to_h2(raw, "http", "example.test", out, error));
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("h2 request: request line and Host become pseudo-headers", "[h2_request]") {
  const auto r = convert("GET /a/b?c=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: */*\r\n\r\n");
  REQUIRE(r.size() == 1);
  CHECK(r[0].method == "GET");
  CHECK(r[0].scheme == "http");
  CHECK(r[0].authority == "127.0.0.1:9000");
  CHECK(r[0].path == "/a/b?c=1");
  CHECK(r[0].headers == Headers{{"accept", "*/*"}});
  CHECK(r[0].body.empty());
  CHECK_FALSE(r[0].head);
}

TEST_CASE("h2 request: no Host takes the target's authority; https scheme", "[h2_request]") {
  const auto r = convert("HEAD / HTTP/1.1\r\n\r\n", "https");
  REQUIRE(r.size() == 1);
  CHECK(r[0].authority == "example.test:8080");
  CHECK(r[0].scheme == "https");
  CHECK(r[0].head);
}

TEST_CASE("h2 request: names lower-cased, connection-specific fields dropped", "[h2_request]") {
  const auto r = convert(
      "POST /p HTTP/1.1\r\nHost: h\r\nX-Token: Abc \r\nConnection: keep-alive, X-Hop\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: close\r\nUpgrade: websocket\r\n"
      "X-Hop: 1\r\nTE: gzip\r\nContent-Length: 3\r\nCookie: a=1\r\n\r\nabc");
  REQUIRE(r.size() == 1);
  CHECK(r[0].headers == Headers{{"x-token", "Abc"}, {"content-length", "3"}, {"cookie", "a=1"}});
  CHECK(r[0].body == "abc");
}

TEST_CASE("h2 request: TE: trailers is the one TE kept", "[h2_request]") {
  const auto r = convert("GET / HTTP/1.1\r\nHost: h\r\nte: Trailers\r\n\r\n");
  CHECK(r[0].headers == Headers{{"te", "Trailers"}});
}

TEST_CASE("h2 request: a chunked body is de-chunked and given a length", "[h2_request]") {
  const auto r = convert(
      "PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n");
  REQUIRE(r.size() == 1);
  CHECK(r[0].body == "abcde");
  CHECK(r[0].headers == Headers{{"content-length", "5"}});
}

TEST_CASE("h2 request: a pipelined batch becomes one request each", "[h2_request]") {
  const auto r = convert(
      "GET /foo HTTP/1.1\r\nHost: h\r\n\r\nGET /bar HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /baz HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
  REQUIRE(r.size() == 3);
  CHECK(r[0].path == "/foo");
  CHECK(r[1].path == "/bar");
  CHECK(r[2].method == "POST");
  CHECK(r[2].body == "hi");
}

TEST_CASE("h2 request: an absolute-form target gives authority and path", "[h2_request]") {
  auto r = convert("GET http://other:81/x?y#frag HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r[0].authority == "other:81");
  CHECK(r[0].path == "/x?y");
  r = convert("GET https://other HTTP/1.1\r\n\r\n");
  CHECK(r[0].authority == "other");
  CHECK(r[0].path == "/");
}

TEST_CASE("h2 request: OPTIONS * and HTTP/1.0 requests", "[h2_request]") {
  auto r = convert("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r[0].path == "*");
  r = convert("GET /old HTTP/1.0\r\n\r\n");
  CHECK(r[0].path == "/old");
  CHECK(r[0].authority == "example.test:8080");
}

TEST_CASE("h2 request: an upgrade request does not end the batch", "[h2_request]") {
  const auto r = convert(
      "GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(r.size() == 2);
  CHECK(r[0].headers.empty());
  CHECK(r[1].path == "/b");
}

TEST_CASE("h2 request: bytes that are not whole requests are refused", "[h2_request]") {
  CHECK(failure("").find("empty") != std::string::npos);
  CHECK(failure("\r\n\r\n").find("no request") != std::string::npos);
  CHECK(failure("GET / HTTP/1.1\r\nHost: h\r\n").find("incomplete request 1") != std::string::npos);
  CHECK(failure("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab").find("incomplete") !=
        std::string::npos);
  CHECK(failure("GET / HTTP/1.1\r\n\r\nxyz\r\n\r\n").find("invalid request 2") !=
        std::string::npos);
  CHECK(failure("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n").find("CONNECT") !=
        std::string::npos);
  CHECK(failure("GET / HTTP/2.0\r\n\r\n").find("request 1") != std::string::npos);
  // Found by fuzzing: http_parser lets a space into a field name; HTTP/2 may not carry it.
  CHECK(failure("GET / HTTP/1.1\r\nHost 1227.0.0.1:8080\r\n\r\n").find("not a token") !=
        std::string::npos);
}
