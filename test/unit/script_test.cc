// Tests of the Lua layer: wrk's example scripts and pelt's additions driven through Script.
#include "lua/script.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace pelt {
namespace {

std::string data_path(const std::string& name) {
  return std::string(PELT_TEST_DATA_DIR) + "/lua/" + name;
}

ScriptOptions options_for(const std::string& script) {
  ScriptOptions o;
  if (!script.empty()) o.path = data_path(script);
  o.scheme = "http";
  o.host = "127.0.0.1";
  o.port = "8080";
  o.module_dirs = {PELT_SOURCE_LUA_DIR};
  return o;
}

std::unique_ptr<Script> must_create(const ScriptOptions& o) {
  std::string error;
  auto s = Script::create(o, error);
  INFO(error);
  REQUIRE(s != nullptr);
  return s;
}

// A thread state that went through init().
std::unique_ptr<Script> start_thread(const ScriptOptions& o, ThreadHandle& handle,
                                     const std::vector<std::string>& args = {"http://x/"}) {
  auto s = must_create(o);
  handle.state = s.get();
  std::string error;
  bool ok = s->init(handle, args, error);
  INFO(error);
  REQUIRE(ok);
  return s;
}

std::string next_request(Script& s) {
  std::string_view view;
  bool ok = s.request(view);
  INFO(s.last_error());
  REQUIRE(ok);
  return std::string(view);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Collects what is written to stdout (C stdio) while fn runs.
template <typename Fn>
std::string capture_stdout(Fn fn) {
  char name[] = "/tmp/pelt_script_test_XXXXXX";
  int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  std::fflush(stdout);
  int saved = dup(1);
  dup2(fd, 1);
  fn();
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(fd);
  std::ifstream in(name);
  std::stringstream text;
  text << in.rdbuf();
  unlink(name);
  return text.str();
}

// A listening TCP socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;   // listening socket
  int port = 0;  // its port
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd, 16);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
};

}  // namespace

TEST_CASE("wrk.format builds byte-exact requests", "[script]") {
  ThreadHandle handle;
  SECTION("defaults") {
    auto s = start_thread(options_for(""), handle);
    std::string req, error;
    REQUIRE(s->first_request(req, error));
    CHECK(req == "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    CHECK_FALSE(s->has_request());
    CHECK_FALSE(s->has_response());
  }
  SECTION("path, header and body from the command line") {
    ScriptOptions o = options_for("");
    o.path_query = "/p?q=1";
    o.method = "PUT";
    o.body = "hello";
    o.headers = {{"X-Api-Key", "k1"}};
    auto s = start_thread(o, handle);
    std::string req, error;
    REQUIRE(s->first_request(req, error));
    CHECK(req ==
          "PUT /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Api-Key: k1\r\n"
          "Content-Length: 5\r\n\r\nhello");
  }
  SECTION("IPv6 host, no port, explicit Host header") {
    ScriptOptions o = options_for("");
    o.host = "::1";
    o.port = "";
    auto s = start_thread(o, handle);
    std::string req, error;
    REQUIRE(s->first_request(req, error));
    CHECK(req == "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");

    ScriptOptions o2 = options_for("");
    o2.headers = {{"host", "example.test"}, {"Content-Length", "99"}};
    ThreadHandle handle2;
    auto s2 = start_thread(o2, handle2);
    REQUIRE(s2->first_request(req, error));
    CHECK(req == "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");
  }
}

TEST_CASE("wrk.format orders several headers and formats values", "[script]") {
  ScriptOptions o = options_for("");
  o.path = "/tmp/pelt_script_test_format.lua";
  {
    std::ofstream f(o.path);
    f << "wrk.headers['X-B'] = 2\nwrk.headers['x-b'] = 2.5\nwrk.headers['A-Flag'] = true\n"
         "wrk.headers['Content-Length'] = '7'\n"
         "function request() return wrk.format('DELETE', '/r', nil, 'a\\0b') end\n";
  }
  ThreadHandle handle;
  auto s = start_thread(o, handle);
  CHECK(next_request(*s) ==
        std::string("DELETE /r HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nA-Flag: true\r\nX-B: 2.5\r\n"
                    "Content-Length: 3\r\n\r\na\0b",
                    90));
  unlink(o.path.c_str());
}

TEST_CASE("post.lua sets method, body and a header", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("post.lua"), handle);
  CHECK_FALSE(s->has_request());
  std::string req, error;
  REQUIRE(s->first_request(req, error));
  CHECK(req ==
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 16\r\n\r\n"
        "foo=bar&baz=quux");
}

TEST_CASE("counter.lua changes path and header on every request", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("counter.lua"), handle);
  REQUIRE(s->has_request());
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    CHECK(next_request(*s) ==
          "GET /" + n + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Counter: " + n + "\r\n\r\n");
  }
}

TEST_CASE("auth.lua captures a token and later requests carry it", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("auth.lua"), handle);
  REQUIRE(s->has_response());
  CHECK(next_request(*s) == "GET /authenticate HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
  SECTION("token header as written") {
    REQUIRE(s->response(200, {{"X-Token", "abc123"}, {"Server", "t"}}, ""));
  }
  SECTION("token header in another case") {
    REQUIRE(s->response(200, {{"x-token", "abc123"}}, "ok"));
  }
  CHECK(next_request(*s) ==
        "GET /resource HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Token: abc123\r\n\r\n");
  REQUIRE(s->response(200, {{"X-Token", "other"}}, ""));
  CHECK(next_request(*s).find("X-Token: abc123\r\n") != std::string::npos);
}

TEST_CASE("pipeline.lua sends three requests in one string", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("pipeline.lua"), handle);
  std::string req, error;
  REQUIRE(s->first_request(req, error));
  const std::string one = "GET /?foo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
  CHECK(req == one + "GET /?bar HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" +
                   "GET /?baz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

TEST_CASE("delay.lua returns 10 to 50 ms", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("delay.lua"), handle);
  REQUIRE(s->has_delay());
  for (int i = 0; i < 100; ++i) {
    double ms = -1;
    REQUIRE(s->delay(ms));
    CHECK(ms >= 10);
    CHECK(ms <= 50);
  }
}

TEST_CASE("stop.lua stops the thread at the 100th response", "[script]") {
  ThreadHandle handle;
  auto s = start_thread(options_for("stop.lua"), handle);
  for (int i = 1; i < 100; ++i) REQUIRE(s->response(200, {}, ""));
  CHECK_FALSE(handle.stop.load());
  REQUIRE(s->response(200, {}, ""));
  CHECK(handle.stop.load());
}

TEST_CASE("setup.lua passes ids to threads and reads counts back", "[script]") {
  ScriptOptions o = options_for("setup.lua");
  auto main = must_create(o);
  ThreadHandle handles[2];
  std::unique_ptr<Script> threads[2];
  std::string error;
  for (int i = 0; i < 2; ++i) {
    handles[i].id = i;
    threads[i] = must_create(o);
    handles[i].state = threads[i].get();
    REQUIRE(main->setup(handles[i], error));
  }
  std::string printed = capture_stdout([&] {
    for (int i = 0; i < 2; ++i) REQUIRE(threads[i]->init(handles[i], {"http://x/"}, error));
  });
  CHECK(printed == "thread 1 created\nthread 2 created\n");
  for (int i = 0; i < 3; ++i) next_request(*threads[0]);
  REQUIRE(threads[0]->response(200, {}, ""));
  next_request(*threads[1]);
  Histogram latency, rate;
  printed = capture_stdout([&] { REQUIRE(main->done(DoneSummary{}, latency, rate, error)); });
  CHECK(printed ==
        "thread 1 made 3 requests and got 1 responses\n"
        "thread 2 made 1 requests and got 0 responses\n");
}

TEST_CASE("report.lua prints percentiles from done()", "[script]") {
  auto main = must_create(options_for("report.lua"));
  REQUIRE(main->has_done());
  Histogram latency, rate;
  for (uint64_t v = 1; v <= 100; ++v) latency.record(v);
  std::string error;
  std::string printed =
      capture_stdout([&] { REQUIRE(main->done(DoneSummary{}, latency, rate, error)); });
  CHECK(printed == "------------------------------\n50%,50\n90%,90\n99%,99\n99.999%,100\n");
}

TEST_CASE("as in wrk, an unknown key of the stats and thread objects reads as the key",
          "[script]") {
  // Scripts found in the wild concatenate fields wrk does not define: on wrk they read as the
  // key itself (its __index pushes nothing and returns one value), and done() goes on.
  ScriptOptions o = options_for("");
  o.path = "/tmp/pelt_script_test_unknown_keys.lua";
  {
    std::ofstream f(o.path);
    f << "function setup(thread) seen = thread.total .. '/' .. thread.name end\n"
         "function done(summary, latency, requests)\n"
         "  io.write(seen .. ',' .. requests.total .. ',' .. latency.p99 .. ',' ..\n"
         "           tostring(summary.total) .. ',' .. latency.max .. ',' .. type(latency[1]) ..\n"
         "           '\\n')\n"
         "end\n";
  }
  auto main = must_create(o);
  unlink(o.path.c_str());
  ThreadHandle handle;
  auto thread = must_create(options_for(""));
  handle.state = thread.get();
  std::string error;
  REQUIRE(main->setup(handle, error));
  Histogram latency, rate;
  latency.record(7);
  std::string printed =
      capture_stdout([&] { REQUIRE(main->done(DoneSummary{}, latency, rate, error)); });
  // (summary is a plain table in wrk too: an unknown field is nil there)
  CHECK(printed == "total/name,total,p99,nil,7,number\n");
}

TEST_CASE("thread:set/get move nested values and done() gets the numbers", "[script]") {
  ScriptOptions o = options_for("transfer.lua");
  auto main = must_create(o);
  ThreadHandle handle;
  handle.id = 3;
  auto thread = must_create(o);
  handle.state = thread.get();
  std::string error;
  REQUIRE(main->setup(handle, error));
  REQUIRE(thread->init(handle, {"http://x/", "extra"}, error));

  DoneSummary summary;
  summary.duration_us = 2000000;
  summary.requests = 42;
  summary.bytes = 4096;
  summary.errors.connect = 1;
  summary.errors.status = 2;
  summary.errors.timeout = 3;
  Histogram latency, rate;
  latency.record_n(10, 3);
  latency.record(20);
  rate.record(100);
  rate.record(120);
  rate.record(110);
  REQUIRE(main->done(summary, latency, rate, error));
  const auto& checks = main->checks();
  CHECK(checks.count("alpha 2 true 12.5 http://x/ extra from thread 3") == 1);
  CHECK(checks.count("requests=42 duration=2000000 bytes=4096 connect=1 status=2 timeout=3") == 1);
  CHECK(checks.count("lat min=10 max=20 mean=12.5 n=2 first=10") == 1);
  CHECK(checks.count("lat(2)=20,1 req p50=110") == 1);
  INFO(checks.size());
  CHECK(checks.size() == 4);
}

TEST_CASE("thread:set rejects values that cannot cross states", "[script]") {
  auto main = must_create(options_for(""));
  ThreadHandle handle;
  auto thread = must_create(options_for(""));
  handle.state = thread.get();
  std::string error;
  REQUIRE(main->setup(handle, error));
  // No user script: drive set/get through a state whose setup() misbehaves.
  ScriptOptions o = options_for("");
  o.path = "/tmp/pelt_script_test_bad_setup.lua";
  {
    std::ofstream f(o.path);
    f << "function setup(thread)\n  thread:set('f', function() end)\nend\n";
  }
  auto bad = must_create(o);
  CHECK_FALSE(bad->setup(handle, error));
  CHECK(starts_with(error, o.path + ":2: "));
  CHECK(error.find("cannot transfer 'function'") != std::string::npos);
  unlink(o.path.c_str());
}

TEST_CASE("addrs.lua picks a reachable address; resolve() finds the first", "[script]") {
  Listener listener;
  REQUIRE(listener.port > 0);
  ScriptOptions o = options_for("addrs.lua");
  o.port = std::to_string(listener.port);
  auto main = must_create(o);
  Address first;
  std::string error;
  REQUIRE(main->resolve("127.0.0.1", o.port, first, error));
  CHECK(first.to_string() == "127.0.0.1:" + o.port);

  ThreadHandle handle;
  auto thread = must_create(o);
  handle.state = thread.get();
  REQUIRE(main->setup(handle, error));
  CHECK(handle.addr.to_string() == "127.0.0.1:" + o.port);
  std::string printed = capture_stdout([&] { REQUIRE(thread->init(handle, {"u"}, error)); });
  CHECK(printed == "thread addr: 127.0.0.1:" + o.port + "\n");

  SECTION("nothing listening") {
    int closed_port = listener.port;
    ScriptOptions o2 = options_for("");
    auto other = must_create(o2);
    close(listener.fd);
    listener.fd = socket(AF_INET, SOCK_STREAM, 0);  // keep the destructor harmless
    Address none;
    CHECK_FALSE(other->resolve("127.0.0.1", std::to_string(closed_port), none, error));
    CHECK(error.find("unable to connect") != std::string::npos);
  }
}

TEST_CASE("errors carry file:line", "[script]") {
  std::string error;
  SECTION("syntax error") {
    ScriptOptions o = options_for("syntax_error.lua");
    CHECK(Script::create(o, error) == nullptr);
    CHECK(starts_with(error, o.path + ":3:"));
  }
  SECTION("error at the top level") {
    ScriptOptions o = options_for("top_error.lua");
    CHECK(Script::create(o, error) == nullptr);
    CHECK(error == o.path + ":3: limit is 3");
  }
  SECTION("missing file") {
    ScriptOptions o = options_for("no_such_script.lua");
    CHECK(Script::create(o, error) == nullptr);
    CHECK(error.find("no_such_script.lua") != std::string::npos);
  }
  SECTION("runtime error in init") {
    ScriptOptions o = options_for("init_error.lua");
    auto s = must_create(o);
    ThreadHandle handle;
    handle.state = s.get();
    CHECK_FALSE(s->init(handle, {}, error));
    CHECK(starts_with(error, o.path + ":4: "));
  }
  SECTION("runtime error in request") {
    ScriptOptions o = options_for("request_error.lua");
    ThreadHandle handle;
    auto s = start_thread(o, handle);
    next_request(*s);
    next_request(*s);
    std::string_view view;
    CHECK_FALSE(s->request(view));
    CHECK(starts_with(s->last_error(), o.path + ":8: "));
  }
  SECTION("error raised inside wrk.format names the caller") {
    ScriptOptions o = options_for("format_error.lua");
    ThreadHandle handle;
    auto s = start_thread(o, handle);
    std::string_view view;
    CHECK_FALSE(s->request(view));
    INFO(s->last_error());
    CHECK(s->last_error() == o.path + ":4: wrk.format: method must be a string, got table");
  }
  SECTION("error raised inside wrk.format after a tail call names the file") {
    ScriptOptions o = options_for("format_error.lua");
    o.env = {{"TAIL", "1"}};
    ThreadHandle handle;
    auto s = start_thread(o, handle);
    std::string_view view;
    CHECK_FALSE(s->request(view));
    CHECK(s->last_error() == o.path + ": wrk.format: path must be a string, got table");
  }
}

TEST_CASE("pelt table: check, name, env, require, teardown", "[script]") {
  ScriptOptions o = options_for("extras.lua");
  o.env = {{"BASE_PATH", "/api"}};
  o.thread_id = 1;
  o.thread_count = 4;
  o.scenario = "smoke";
  ThreadHandle handle;
  auto s = start_thread(o, handle);
  const auto& checks = s->checks();
  CHECK(checks.count("info=1/4 smoke " PELT_VERSION) == 1);
  CHECK(checks.count("greeting=hello pelt") == 1);
  CHECK(checks.count("payload={\"id\":7,\"ok\":true,\"tags\":[\"a\",\"b\"]}") == 1);
  for (const char* name : {"id in range", "uuid shape", "word", "seeded", "pick"}) {
    INFO(name);
    REQUIRE(checks.count(name) == 1);
    CHECK(checks.at(name).passes == 1);
    CHECK(checks.at(name).fails == 0);
  }

  CHECK(next_request(*s) == "GET /api/users/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
  CHECK(s->request_name() == "/users/{id}");
  CHECK(next_request(*s).find("GET /api/health ") == 0);
  CHECK(s->request_name().empty());

  REQUIRE(s->response(200, {}, "body"));
  REQUIRE(s->response(500, {}, ""));
  REQUIRE(s->response(200, {}, "x"));
  CHECK(checks.at("status is 200").passes == 2);
  CHECK(checks.at("status is 200").fails == 1);
  CHECK(checks.at("has body").passes == 2);
  CHECK(checks.at("has body").fails == 1);

  REQUIRE(s->has_teardown());
  std::string error;
  REQUIRE(s->teardown(error));
  CHECK(checks.at("teardown ran").passes == 1);
}

TEST_CASE("request() must return a string", "[script]") {
  ScriptOptions o = options_for("");
  o.path = "/tmp/pelt_script_test_number.lua";
  {
    std::ofstream f(o.path);
    f << "pelt.name('static')\nfunction request() return 42 end\n";
  }
  ThreadHandle handle;
  auto s = start_thread(o, handle);
  std::string_view view;
  CHECK_FALSE(s->request(view));
  CHECK(s->last_error().find("expected a string") != std::string::npos);
  CHECK(s->request_name() == "static");
  unlink(o.path.c_str());
}

}  // namespace pelt

namespace pelt {
namespace {

// A request as wrk.format builds it for the test host, headers already in name order.
std::string formatted(const std::string& method, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const std::string& body = "", bool has_body = false) {
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (has_body) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

// A thread state running `text` as its script, written to /tmp/pelt_script_test_<name>.lua.
std::unique_ptr<Script> thread_running(const std::string& name, const std::string& text,
                                       ThreadHandle& handle) {
  ScriptOptions o = options_for("");
  o.path = "/tmp/pelt_script_test_" + name + ".lua";
  {
    std::ofstream f(o.path);
    f << text;
  }
  return start_thread(o, handle);
}

TEST_CASE("wrk.format reuses built requests only while every other input is unchanged",
          "[script]") {
  ThreadHandle handle;
  auto s = thread_running("format_cache",
                         "wrk.headers['X-Token'] = 'a'\n"
                         "local step = 0\n"
                         "function request()\n"
                         "  step = step + 1\n"
                         "  if step == 5 then wrk.headers['X-Token'] = 'b' end\n"
                         "  if step == 9 then wrk.headers['X-Token'] = nil end\n"
                         "  if step == 13 then wrk.method = 'POST' end\n"
                         "  if step == 17 then wrk.body = 'xy' end\n"
                         "  if step == 21 then wrk.headers['X-N'] = 1 end\n"
                         "  if step == 25 then wrk.headers['X-N'] = 2.5 end\n"
                         "  if step == 29 then wrk.headers['Host'] = 'other.test' end\n"
                         "  return wrk.format(nil, '/p/' .. (step % 2))\n"
                         "end\n", handle);
  using H = std::vector<std::pair<std::string, std::string>>;
  for (int step = 1; step <= 32; ++step) {
    INFO("step " << step);
    const std::string path = "/p/" + std::to_string(step % 2);
    const std::string method = step >= 13 ? "POST" : "GET";
    H headers;
    if (step < 5) headers.push_back({"X-Token", "a"});
    if (step >= 5 && step < 9) headers.push_back({"X-Token", "b"});
    if (step >= 21 && step < 25) headers.push_back({"X-N", "1"});
    if (step >= 25) headers.push_back({"X-N", "2.5"});
    std::string expected = formatted(method, path, headers, step >= 17 ? "xy" : "", step >= 17);
    if (step >= 29) {
      const std::string host = "Host: 127.0.0.1:8080";
      expected.replace(expected.find(host), host.size(), "Host: other.test");
    }
    CHECK(next_request(*s) == expected);
  }
}

TEST_CASE("wrk.format sees changes to wrk.headers when the call passes its own headers",
          "[script]") {
  ThreadHandle handle;
  auto s = thread_running("format_own_headers",
                         "wrk.headers['Host'] = 'h1.test'\n"
                         "local step = 0\n"
                         "function request()\n"
                         "  step = step + 1\n"
                         "  if step == 3 then wrk.headers['Host'] = 'h2.test' end\n"
                         "  return wrk.format('GET', '/q', {['X-A'] = step > 4 and 2 or 1})\n"
                         "end\n", handle);
  for (int step = 1; step <= 6; ++step) {
    INFO("step " << step);
    const std::string host = step < 3 ? "h1.test" : "h2.test";
    CHECK(next_request(*s) == "GET /q HTTP/1.1\r\nHost: " + host + "\r\nX-A: " +
                                  (step > 4 ? "2" : "1") + "\r\n\r\n");
  }
}

TEST_CASE("wrk.format stays exact with more distinct paths than it caches", "[script]") {
  // Repeating paths first (the cache stays on), then 21,000 new ones (past its cap).
  ThreadHandle handle;
  auto s = thread_running("format_many",
                         "local i = 0\n"
                         "function request()\n"
                         "  i = i + 1\n"
                         "  return wrk.format(nil, '/n/' .. (i <= 9000 and i % 100 or i))\n"
                         "end\n", handle);
  for (int i = 1; i <= 30000; ++i) {
    const std::string got = next_request(*s);
    if (i % 997 == 0 || i > 29990) {
      INFO("call " << i);
      CHECK(got == formatted("GET", "/n/" + std::to_string(i <= 9000 ? i % 100 : i), {}));
    }
  }
}

}  // namespace
}  // namespace pelt
