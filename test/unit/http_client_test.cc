// The blocking HTTP client against a scripted loopback server: bodies in every framing,
// keep-alive, timeouts, deadlines, interruption and the wording of errors.
#include "util/http_client.h"

#include <catch2/catch.hpp>
#include <thread>

#include "scripted_http_server.h"

using namespace pelt;
using pelt::test::http_reply;
using pelt::test::Reply;
using pelt::test::ScriptedHttpServer;
using pelt::test::SeenRequest;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A port nothing listens on: bound, then closed.
int closed_port() {
  ScriptedHttpServer s([](const SeenRequest&, size_t) { return http_reply(200); });
  return s.port();
}

}  // namespace

TEST_CASE("http client: POST sends body and headers, reads a Content-Length response") {
  ScriptedHttpServer server(
      [](const SeenRequest&, size_t) { return http_reply(201, "created!", "X-Thing: yes  \r\n"); });
  REQUIRE(server.ok());
  HttpClient client;
  HttpResponse r;
  std::string error;
  REQUIRE(client.post(server.url("/write?db=a%20b"), {{"X-Custom", "1"}}, "line one\nline two\n", r,
                      error));
  CHECK(error.empty());
  CHECK(r.status == 201);
  CHECK(r.reason == "X");
  CHECK(r.body == "created!");
  CHECK(r.header("x-thing") == "yes");
  CHECK(r.header("missing").empty());
  const auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/write?db=a%20b");
  CHECK(seen[0].body == "line one\nline two\n");
  CHECK(seen[0].header("Content-Length") == "18");
  CHECK(seen[0].header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(seen[0].header("X-Custom") == "1");
  CHECK(seen[0].header("User-Agent").rfind("pelt/", 0) == 0);
}

TEST_CASE("http client: chunked and close-delimited bodies") {
  ScriptedHttpServer server([](const SeenRequest& r, size_t) {
    if (r.target == "/chunked") {
      return Reply{
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
          false, false};
    }
    return Reply{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", false, true};
  });
  HttpClient client;
  HttpResponse r;
  std::string error;
  REQUIRE(client.get(server.url("/chunked"), {}, r, error));
  CHECK(r.body == "hello, world");
  REQUIRE(client.get(server.url("/close"), {}, r, error));
  CHECK(r.body == "until the end");
  // The chunked response kept the connection; the close-delimited one ended it.
  REQUIRE(client.get(server.url("/chunked"), {}, r, error));
  CHECK(server.connections() == 2);
}

TEST_CASE("http client: keep-alive reuses one connection, and survives the server closing it") {
  ScriptedHttpServer server([](const SeenRequest& r, size_t) {
    Reply reply = http_reply(204);
    reply.close_after = r.target == "/then-close";  // closes without saying so
    return reply;
  });
  HttpClient client;
  HttpResponse r;
  std::string error;
  for (int i = 0; i < 3; ++i) REQUIRE(client.get(server.url("/"), {}, r, error));
  CHECK(client.connections_opened() == 1);
  REQUIRE(client.get(server.url("/then-close"), {}, r, error));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(client.get(server.url("/"), {}, r, error));
  CHECK(r.status == 204);
  CHECK(client.connections_opened() == 2);

  HttpClientOptions no_keep;
  no_keep.keep_alive = false;
  HttpClient once(no_keep);
  REQUIRE(once.get(server.url("/"), {}, r, error));
  REQUIRE(once.get(server.url("/"), {}, r, error));
  CHECK(once.connections_opened() == 2);
  CHECK(server.requests().back().header("Connection") == "close");
}

TEST_CASE("http client: IPv6 loopback") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(200, "v6"); }, true);
  REQUIRE(server.ok());
  HttpClient client;
  HttpResponse r;
  std::string error;
  REQUIRE(client.get(server.url("/"), {}, r, error));
  CHECK(r.body == "v6");
  CHECK(server.requests()[0].header("Host") == "[::1]:" + std::to_string(server.port()));
}

TEST_CASE("http client: connection refused names the address and the errno") {
  const int port = closed_port();
  HttpClient client;
  HttpResponse r;
  std::string error;
  CHECK_FALSE(client.get("http://127.0.0.1:" + std::to_string(port) + "/", {}, r, error));
  CHECK(error == "connect 127.0.0.1:" + std::to_string(port) + ": ECONNREFUSED");
  CHECK_FALSE(client.get("ftp://x/", {}, r, error));
  CHECK(error.find("unsupported scheme") != std::string::npos);
}

TEST_CASE("http client: a server that never answers times out, by timeout or by deadline") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return Reply{"", true, false}; });
  HttpClientOptions o;
  o.read_timeout = std::chrono::milliseconds(300);
  HttpClient client(o);
  HttpResponse r;
  std::string error;
  auto t0 = Clock::now();
  CHECK_FALSE(client.get(server.url("/"), {}, r, error));
  CHECK(error == "read from 127.0.0.1:" + std::to_string(server.port()) + ": timeout after 300ms");
  CHECK(seconds_since(t0) >= 0.29);
  CHECK(seconds_since(t0) < 2.0);

  o.read_timeout = std::chrono::milliseconds(10000);
  HttpClient patient(o);
  HttpRequest req;
  req.url = server.url("/");
  req.deadline = Clock::now() + std::chrono::milliseconds(200);
  t0 = Clock::now();
  CHECK_FALSE(patient.send(req, r, error));
  CHECK(error.find("deadline reached") != std::string::npos);
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("http client: interrupt() ends a request in progress and every later one") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return Reply{"", true, false}; });
  HttpClient client;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    client.interrupt();
  });
  HttpResponse r;
  std::string error;
  const auto t0 = Clock::now();
  CHECK_FALSE(client.get(server.url("/"), {}, r, error));
  stopper.join();
  CHECK(error.find("interrupted") != std::string::npos);
  CHECK(seconds_since(t0) < 2.0);
  CHECK_FALSE(client.get(server.url("/"), {}, r, error));
  CHECK(error == "interrupted");
}

TEST_CASE("http client: bad, truncated and oversized responses are errors") {
  ScriptedHttpServer server([](const SeenRequest& r, size_t) {
    if (r.target == "/garbage") return Reply{"NOT HTTP AT ALL\r\n\r\n", false, true};
    if (r.target == "/short") {
      return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", false, true};
    }
    return http_reply(200, std::string(5000, 'x'));
  });
  HttpClientOptions o;
  o.max_response_bytes = 1000;
  HttpClient client(o);
  HttpResponse r;
  std::string error;
  CHECK_FALSE(client.get(server.url("/garbage"), {}, r, error));
  CHECK(error.find("bad HTTP response") != std::string::npos);
  CHECK_FALSE(client.get(server.url("/short"), {}, r, error));
  INFO(error);
  CHECK(error.find("closed before the response was complete") != std::string::npos);
  CHECK_FALSE(client.get(server.url("/big"), {}, r, error));
  CHECK(error.find("larger than 1000 bytes") != std::string::npos);
  CHECK_FALSE(client.get(server.url("/"), {{"Bad\r\nHeader", "x"}}, r, error));
  CHECK(error.find("line break") != std::string::npos);
}

TEST_CASE("http client: HEAD responses have no body to wait for") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n", false, false};
  });
  HttpClient client;
  HttpRequest req;
  req.method = "HEAD";
  req.url = server.url("/");
  HttpResponse r;
  std::string error;
  REQUIRE(client.send(req, r, error));
  CHECK(r.status == 200);
  CHECK(r.body.empty());
}

TEST_CASE("http client: query escaping and timeout wording") {
  CHECK(url_query_escape("my db/x=1&y") == "my%20db%2Fx%3D1%26y");
  CHECK(url_query_escape("A-z_0.9~") == "A-z_0.9~");
  CHECK(format_timeout(std::chrono::milliseconds(2000)) == "2s");
  CHECK(format_timeout(std::chrono::milliseconds(250)) == "250ms");
  CHECK(format_timeout(std::chrono::milliseconds(1500)) == "1.5s");
  CHECK(format_timeout(std::chrono::milliseconds(1050)) == "1.05s");
}
