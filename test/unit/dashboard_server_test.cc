#include "results/dashboard_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "results/dashboard_events.h"

namespace pelt {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A summary with `n` one-second buckets (or the given widths) and `pad` bytes of padding.
json make_doc(const std::vector<int>& widths, size_t pad = 0) {
  json t = json::array(), w = json::array(), req = json::array();
  int at = 0;
  for (int width : widths) {
    t.push_back(at);
    w.push_back(width);
    req.push_back(10 * width);
    at += width;
  }
  return json{
      {"schema", "pelt.summary/v2"},
      {"metrics", {{"http_reqs", {{"count", at * 10}}}}},
      {"padding", std::string(pad, 'x')},
      {"timeseries",
       {{"start_unix_ms", 1},
        {"t", t},
        {"width", w},
        {"series", {{{"scope", "run"}, {"requests", req}, {"latency_ms", {{"p95", req}}}}}}}}};
}

json ones(int n, size_t pad = 0) {
  return make_doc(std::vector<int>(static_cast<size_t>(n), 1), pad);
}

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A blocking loopback client with a deadline on every read.
class TestClient {
 public:
  explicit TestClient(int port, int rcvbuf_bytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf_bytes > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~TestClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) {
    REQUIRE(::write(fd_, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }

  // Reads until `what` appears `times` times in everything read so far, the peer closes, or
  // `timeout` passes. Returns whether it appeared.
  bool read_until(const std::string& what, int times = 1,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (count(what) < times) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        closed_ = true;
        return count(what) >= times;
      }
      data_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until the server closes the connection (or timeout); true when it did.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    read_until("\x01never\x01", 1, timeout);
    return closed_;
  }
  int count(const std::string& what) const {
    int n = 0;
    for (size_t at = data_.find(what); at != std::string::npos; at = data_.find(what, at + 1)) ++n;
    return n;
  }
  const std::string& data() const { return data_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string data_;
};

// The `from` of every tick event in `sse`, in order.
std::vector<int> froms(const std::string& sse) {
  std::vector<int> out;
  const std::string key = "\"timeseries\":{\"from\":";
  for (size_t at = sse.find(key); at != std::string::npos; at = sse.find(key, at + 1)) {
    out.push_back(std::stoi(sse.substr(at + key.size())));
  }
  return out;
}

TEST_CASE("dashboard: starts on a free port and reports bad or busy addresses", "[dashboard]") {
  DashboardServer server;
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  CHECK(server.address().rfind("127.0.0.1:", 0) == 0);
  CHECK(port_of(server.address()) > 0);

  DashboardServer busy;
  CHECK_FALSE(busy.start(server.address(), error));
  CHECK(error ==
        "cannot listen on " + server.address() + " for the dashboard: address already in use");

  DashboardServer bad;
  CHECK_FALSE(bad.start("127.0.0.1:99999", error));
  CHECK(error.rfind("bad dashboard address \"127.0.0.1:99999\"", 0) == 0);
  CHECK_FALSE(bad.start("nohost:80", error));
  CHECK(error.find("bad dashboard address") == 0);
}

TEST_CASE("dashboard: serves the page and the summary, refuses other methods and paths",
          "[dashboard]") {
  DashboardServer server;
  std::string error;
  REQUIRE(server.start(":0", error));
  const int port = port_of(server.address());
  server.publish(ones(3));

  TestClient page(port);
  page.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(page.read_until("</html>"));
  CHECK(page.data().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(page.data().find("Content-Type: text/html; charset=utf-8") != std::string::npos);
  CHECK(page.data().find("data-mode=\"live\"") != std::string::npos);

  // Keep-alive: the next request on the same connection gets the summary (once it arrived).
  json summary;
  for (int i = 0; i < 50 && !summary.contains("timeseries"); ++i) {
    TestClient api(port);
    api.send("GET /api/summary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    REQUIRE(api.wait_closed());
    summary = json::parse(api.data().substr(api.data().find("\r\n\r\n") + 4));
    if (!summary.contains("timeseries")) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(summary["live"] == true);
  CHECK(summary["state"] == "running");
  CHECK(summary["timeseries"]["t"].size() == 3);

  TestClient post(port);
  post.send("POST /api/summary HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(post.wait_closed());
  CHECK(post.data().rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(post.data().find("Allow: GET, HEAD\r\n") != std::string::npos);

  TestClient missing(port);
  missing.send("GET /etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(missing.wait_closed());
  CHECK(missing.data().rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);

  TestClient head(port);
  head.send("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(head.wait_closed());
  CHECK(head.data().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.data().find("<html") == std::string::npos);

  TestClient garbage(port);
  garbage.send("NOT HTTP AT ALL\r\n\r\n");
  REQUIRE(garbage.wait_closed());
  CHECK(garbage.data().rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
}

TEST_CASE("dashboard: two event clients get every tick from their last bucket", "[dashboard]") {
  DashboardServer server;
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  const int port = port_of(server.address());
  TestClient a(port), b(port);
  a.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  b.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(a.read_until("retry: 3000"));
  REQUIRE(b.read_until("retry: 3000"));
  CHECK(a.data().find("Content-Type: text/event-stream") != std::string::npos);
  for (int i = 0; i < 50 && server.event_clients() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(server.event_clients() == 2);

  // 3, 4 and 5 buckets; then old buckets coarsened (widths 2, 1, 1, 1, 1); then the end.
  const std::vector<json> docs = {ones(3), ones(4), ones(5), make_doc({2, 1, 1, 1, 1})};
  for (size_t i = 0; i < docs.size(); ++i) {
    server.publish(docs[i]);
    REQUIRE(a.read_until("event: tick", static_cast<int>(i) + 1));
    REQUIRE(b.read_until("event: tick", static_cast<int>(i) + 1));
  }
  server.finish(make_doc({2, 1, 1, 1, 1, 1}));
  REQUIRE(a.read_until("event: end"));
  REQUIRE(b.read_until("event: end"));
  CHECK(froms(a.data()) == std::vector<int>{0, 2, 3, 0, 4});
  CHECK(froms(b.data()) == froms(a.data()));
  // A tick's summary leaves the time series out and says whether the run goes on.
  CHECK(a.data().find("\"state\":\"running\"") != std::string::npos);
  CHECK(a.data().find("\"state\":\"finished\"") != std::string::npos);

  // A client that arrives after the end gets the whole final state and `end` at once.
  TestClient late(port);
  late.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(late.read_until("event: end"));
  CHECK(froms(late.data()) == std::vector<int>{0});
  CHECK(late.data().find("\"t\":[0,2,3,4,5,6]") != std::string::npos);
}

TEST_CASE("dashboard: idle and non-reading clients hold up nobody", "[dashboard]") {
  DashboardOptions options;
  options.client_buffer_limit_bytes = 256 * 1024;
  DashboardServer server(options);
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  const int port = port_of(server.address());

  TestClient idle(port);         // connects and never sends a request
  TestClient stuck(port, 4096);  // follows /events and never reads
  stuck.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  TestClient reader(port);
  reader.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(reader.read_until("retry: 3000"));
  for (int i = 0; i < 50 && server.event_clients() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(server.event_clients() == 2);

  // Ticks of 1 MB: once the kernel's socket buffers are full, the stuck client's unsent data
  // passes the limit and it is dropped.
  const int kTicks = 12;
  for (int i = 0; i < kTicks; ++i) {
    json doc = ones(i + 1, 1024 * 1024);
    const auto before = Clock::now();
    server.publish(std::move(doc));
    CHECK(Clock::now() - before < std::chrono::milliseconds(100));  // publish never waits
    REQUIRE(reader.read_until("event: tick", i + 1));
  }
  CHECK(reader.count("event: tick") == kTicks);
  for (int i = 0; i < 100 && server.event_clients() > 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(server.event_clients() == 1);  // the stuck one was dropped
  CHECK(stuck.wait_closed(std::chrono::seconds(10)));

  // The idle connection is still served when it finally asks.
  idle.send("GET /api/summary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(idle.wait_closed());
  CHECK(idle.data().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}

TEST_CASE("dashboard: idle connections are closed after the idle timeout", "[dashboard]") {
  DashboardOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  DashboardServer server(options);
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  TestClient idle(port_of(server.address()));
  REQUIRE(idle.connected());
  CHECK(idle.wait_closed(std::chrono::seconds(5)));
}

TEST_CASE("dashboard: linger ends when its time is up or stop() is called", "[dashboard]") {
  DashboardServer server;
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  auto before = Clock::now();
  server.linger(std::chrono::milliseconds(100));
  CHECK(Clock::now() - before >= std::chrono::milliseconds(100));

  std::thread stopper([&server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  before = Clock::now();
  server.linger(std::chrono::seconds(30));
  CHECK(Clock::now() - before < std::chrono::seconds(10));
  stopper.join();
  server.stop();                            // idempotent
  server.linger(std::chrono::seconds(30));  // returns at once when stopped
}

TEST_CASE("dashboard events: stable prefix and column cuts", "[dashboard]") {
  CHECK(stable_bucket_prefix(ones(3), ones(5)) == 3);
  CHECK(stable_bucket_prefix(ones(5), make_doc({2, 1, 1, 1})) == 0);
  CHECK(stable_bucket_prefix(make_doc({2, 2, 1}), make_doc({2, 2, 1, 1})) == 3);
  CHECK(stable_bucket_prefix(json(), ones(2)) == 0);
  CHECK(bucket_count(ones(4)) == 4);
  CHECK(bucket_count(json{{"schema", "x"}}) == 0);

  const json cut = timeseries_from(ones(4)["timeseries"], 2);
  CHECK(cut["from"] == 2);
  CHECK(cut["t"] == json({2, 3}));
  CHECK(cut["start_unix_ms"] == 1);
  CHECK(cut["series"][0]["scope"] == "run");
  CHECK(cut["series"][0]["requests"] == json({10, 10}));
  CHECK(cut["series"][0]["latency_ms"]["p95"] == json({10, 10}));

  const std::string tick = tick_event("{\"a\":1}", ones(2), 1);
  CHECK(tick.rfind("event: tick\ndata: {\"summary\":{\"a\":1},\"timeseries\":{\"from\":1,", 0) ==
        0);
  CHECK(tick.find('\n', 12) == tick.size() - 2);  // one data line, then the blank line
  CHECK(end_event() == "event: end\ndata: {}\n\n");
}

}  // namespace
}  // namespace pelt
