// The background sender against a scripted loopback server: batching, retries and their
// limits, rejection, a full queue, and flush() keeping its deadline when the store hangs.
#include "outputs/pusher.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "scripted_http_server.h"

using namespace pelt;
using pelt::test::http_reply;
using pelt::test::Reply;
using pelt::test::ScriptedHttpServer;
using pelt::test::SeenRequest;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

PusherOptions fast_options() {
  PusherOptions o;
  o.name = "test";
  o.flush_interval = milliseconds(50);
  o.backoff_initial = milliseconds(20);
  o.backoff_max = milliseconds(100);
  o.max_attempts = 3;
  o.jitter_seed = 42;
  o.http.connect_timeout = milliseconds(1000);
  o.http.read_timeout = milliseconds(2000);
  return o;
}

RequestBuilder post_to(const std::string& url) {
  return [url](std::string payload) {
    HttpRequest r;
    r.method = "POST";
    r.url = url;
    r.body = std::move(payload);
    return r;
  };
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

TEST_CASE("pusher: everything pushed arrives, in order, and flush reports success") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(204); });
  Pusher p(fast_options(), post_to(server.url("/write")));
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    const std::string line = "m v=" + std::to_string(i) + "i\n";
    expected += line;
    REQUIRE(p.push(line, 1));
    if (i % 5 == 0) std::this_thread::sleep_for(milliseconds(30));
  }
  CHECK(p.flush(Clock::now() + milliseconds(3000)));
  std::string received;
  for (const auto& r : server.requests()) received += r.body;
  CHECK(received == expected);
  const PushStats s = p.stats();
  CHECK(s.points_queued == 20);
  CHECK(s.points_sent == 20);
  CHECK(s.dropped() == 0);
  CHECK(s.requests_sent == server.requests().size());
  CHECK(s.last_error.empty());
  // Pushed after the final flush: dropped and counted.
  CHECK_FALSE(p.push("late v=1i\n", 1));
  CHECK(p.stats().dropped_unsent == 1);
}

TEST_CASE("pusher: batches pushed within one flush interval travel in one request") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(204); });
  PusherOptions o = fast_options();
  o.flush_interval = milliseconds(400);
  Pusher p(o, post_to(server.url("/")));
  const auto wait_for_requests = [&](size_t n) {
    for (int i = 0; i < 300 && server.requests().size() < n; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  };
  p.push("a\n", 1);  // goes at once: nothing was sent before
  wait_for_requests(1);
  p.push("b\n", 1);  // these wait for the interval to pass, then travel together
  p.push("c\n", 1);
  p.push("d\n", 1);
  wait_for_requests(2);
  std::this_thread::sleep_for(milliseconds(100));  // a third request would show up now
  const auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].body == "a\n");
  CHECK(seen[1].body == "b\nc\nd\n");
  CHECK(p.flush(Clock::now() + milliseconds(1000)));
}

TEST_CASE("pusher: 503 and 429 are retried with backoff, Retry-After is honoured") {
  ScriptedHttpServer server([](const SeenRequest&, size_t i) {
    if (i == 0) return http_reply(503, "busy");
    if (i == 1) return http_reply(429, "slow down", "Retry-After: 1\r\n");
    return http_reply(204);
  });
  PusherOptions o = fast_options();
  o.backoff_max = milliseconds(5000);
  Pusher p(o, post_to(server.url("/")));
  const auto t0 = Clock::now();
  p.push("x\n", 7);
  CHECK(p.flush(Clock::now() + milliseconds(5000)));
  CHECK(seconds_since(t0) >= 0.95);  // waited for Retry-After: 1
  const PushStats s = p.stats();
  CHECK(s.points_sent == 7);
  CHECK(s.retries == 2);
  CHECK(s.dropped() == 0);
  CHECK(s.last_error == "HTTP 429: slow down");
  CHECK(server.requests().size() == 3);
}

TEST_CASE("pusher: a 400 is not retried; the points count as rejected") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) {
    return http_reply(400, "{\"error\":\"unable to parse 'x': missing fields\"}\n");
  });
  std::vector<std::string> warnings;
  std::mutex m;
  PusherOptions o = fast_options();
  o.warn = [&](const std::string& w) {
    std::lock_guard<std::mutex> lock(m);
    warnings.push_back(w);
  };
  Pusher p(o, post_to(server.url("/")));
  p.push("x\n", 3);
  CHECK_FALSE(p.flush(Clock::now() + milliseconds(3000)));
  const PushStats s = p.stats();
  CHECK(s.dropped_rejected == 3);
  CHECK(s.retries == 0);
  CHECK(server.requests().size() == 1);
  CHECK(s.last_error == "HTTP 400: {\"error\":\"unable to parse 'x': missing fields\"}");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].rfind("test: HTTP 400", 0) == 0);
}

TEST_CASE("pusher: gives up after max_attempts, then keeps sending later batches") {
  std::atomic<bool> healthy{false};
  ScriptedHttpServer server([&](const SeenRequest&, size_t) {
    return healthy ? http_reply(204) : http_reply(500, "oops");
  });
  Pusher p(fast_options(), post_to(server.url("/")));
  p.push("a\n", 2);
  for (int i = 0; i < 200 && p.stats().dropped_retries == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  healthy = true;
  p.push("b\n", 5);
  CHECK_FALSE(p.flush(Clock::now() + milliseconds(3000)));
  const PushStats s = p.stats();
  CHECK(s.dropped_retries == 2);
  CHECK(s.points_sent == 5);
  CHECK(s.retries == 2);
  CHECK(s.last_error == "HTTP 500: oops (gave up after 3 attempts)");
  CHECK(server.requests().size() == 4);
}

TEST_CASE("pusher: connection refused is retried, then dropped with the error") {
  int port;
  {
    ScriptedHttpServer gone([](const SeenRequest&, size_t) { return http_reply(204); });
    port = gone.port();
  }
  Pusher p(fast_options(), post_to("http://127.0.0.1:" + std::to_string(port) + "/"));
  p.push("a\n", 4);
  for (int i = 0; i < 300 && p.stats().dropped() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  const PushStats s = p.stats();
  CHECK(s.dropped_retries == 4);
  CHECK(s.retries == 2);
  CHECK(s.last_error ==
        "connect 127.0.0.1:" + std::to_string(port) + ": ECONNREFUSED (gave up after 3 attempts)");
}

TEST_CASE("pusher: a store that never answers: the queue fills, flush keeps its deadline") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return Reply{"", true, false}; });
  PusherOptions o = fast_options();
  o.max_queue_bytes = 100;
  o.http.read_timeout = milliseconds(30000);
  Pusher p(o, post_to(server.url("/")));
  size_t accepted = 0;
  size_t refused = 0;
  for (int i = 0; i < 30; ++i) {
    (p.push(std::string(19, 'x') + "\n", 1) ? accepted : refused) += 1;
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(refused > 0);
  const auto t0 = Clock::now();
  CHECK_FALSE(p.flush(Clock::now() + milliseconds(500)));
  const double took = seconds_since(t0);
  CHECK(took >= 0.45);
  CHECK(took < 0.9);
  const PushStats s = p.stats();
  CHECK(s.points_sent == 0);
  CHECK(s.dropped_queue_full == refused);
  CHECK(s.dropped_unsent == accepted);
  CHECK(s.dropped() == 30);
}

TEST_CASE("pusher: flush waits out a retry only while the deadline allows") {
  ScriptedHttpServer server([](const SeenRequest&, size_t) { return http_reply(503); });
  PusherOptions o = fast_options();
  o.backoff_initial = milliseconds(5000);
  o.backoff_max = milliseconds(5000);
  Pusher p(o, post_to(server.url("/")));
  p.push("a\n", 1);
  std::this_thread::sleep_for(milliseconds(200));  // first attempt failed; a 2.5-5 s wait began
  const auto t0 = Clock::now();
  CHECK_FALSE(p.flush(Clock::now() + milliseconds(1000)));
  CHECK(seconds_since(t0) < 0.5);  // the retry could not happen in time: stopped at once
  CHECK(p.stats().dropped_unsent == 1);
}

TEST_CASE("pusher: an attempt cut short by the flush deadline keeps the store's last error") {
  // The first attempt is answered 503; the retry is never answered, so flush's deadline
  // interrupts it. The error to report is the store's, not "interrupted".
  ScriptedHttpServer server([](const SeenRequest&, size_t index) {
    return index == 0 ? http_reply(503, "busy") : Reply{"", true, false};
  });
  PusherOptions o = fast_options();
  o.http.read_timeout = milliseconds(30000);
  Pusher p(o, post_to(server.url("/")));
  p.push("a\n", 1);
  for (int i = 0; i < 300 && server.requests().size() < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  REQUIRE(server.requests().size() == 2);
  CHECK_FALSE(p.flush(Clock::now() + milliseconds(300)));
  const PushStats s = p.stats();
  CHECK(s.dropped_unsent == 1);
  CHECK(s.last_error == "HTTP 503: busy");
}

TEST_CASE("pusher: backoff doubles up to the cap, jitter keeps the upper half") {
  PusherOptions o;
  o.backoff_initial = milliseconds(100);
  o.backoff_max = milliseconds(1000);
  CHECK(backoff_delay(o, 2, 0.0) == milliseconds(50));
  CHECK(backoff_delay(o, 2, 0.999) == milliseconds(99));
  CHECK(backoff_delay(o, 3, 0.0) == milliseconds(100));
  CHECK(backoff_delay(o, 4, 0.0) == milliseconds(200));
  CHECK(backoff_delay(o, 5, 0.5) == milliseconds(600));
  CHECK(backoff_delay(o, 9, 0.0) == milliseconds(500));  // capped at 1000, half fixed
  CHECK(backoff_delay(o, 60, 1.0) == milliseconds(1000));
}
