#include "results/metrics.h"
#include "results/redact.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

namespace pelt {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

const MetricFamily* find_family(const std::vector<MetricFamily>& families,
                                const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string label(const ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

// The series of `family` whose labels include every pair in `want`.
const ClientMetric* find_series(const std::vector<MetricFamily>& families,
                                const std::string& family,
                                const std::map<std::string, std::string>& want) {
  const MetricFamily* f = find_family(families, family);
  if (f == nullptr) return nullptr;
  for (const auto& m : f->metric) {
    bool all = true;
    for (const auto& [k, v] : want) all = all && label(m, k) == v;
    if (all) return &m;
  }
  return nullptr;
}

void add_requests(NameStats& ns, const std::string& method, int status,
                  const std::vector<uint64_t>& latencies_us) {
  ns.method = method;
  for (uint64_t v : latencies_us) {
    ns.latency.record(v);
    ++ns.requests.responses;
    ++ns.status[status];
    if (status >= 400) ++ns.requests.failed_responses;
  }
}

WorkerStats sample_stats() {
  WorkerStats s;
  s.scenarios.resize(2);
  ScenarioStats& browse = s.scenarios[0];
  add_requests(browse.names["home"], "GET", 200, {500, 2000, 20000, 2000000});
  add_requests(browse.names["home"], "GET", 404, {700});
  add_requests(browse.names["issue"], "POST", 201, {3000, 4000});
  browse.vus = 7;
  browse.vus_max = 10;
  browse.stage = 2;
  browse.target = 8;
  browse.iterations = 7;
  ScenarioStats& open = s.scenarios[1];
  open.target = 50;
  open.dropped_iterations = 3;
  open.interrupted_iterations = 2;
  s.bytes_written = 1234;
  s.bytes_read = 98765;
  s.errors.status = 1;
  s.errors.timeout = 2;
  s.ledger.sent = 12;
  s.ledger.completed = 7;
  s.ledger.timed_out = 2;
  s.ledger.in_flight = 3;  // 2 waiting now, 1 cut unanswered earlier that waits no more
  s.waiting_now = 2;
  s.checks["status is 200"] = CheckCount{4, 1};
  s.send_lag.record(1500);
  s.send_lag.record(300000);
  return s;
}

MetricsOptions sample_options() {
  MetricsOptions o;
  o.version = "0.1.0";
  o.run_id = "20240101T000000-42";
  o.target = "http://127.0.0.1:8080/api";
  o.scenario_names = {"browse", "open"};
  o.arrival_rate = {false, true};
  return o;
}

TEST_CASE("metrics: families carry the right names, labels and counts", "[metrics]") {
  const WorkerStats s = sample_stats();
  const auto fams =
      build_families(sample_options(), s,
                     {{"http_req_duration p(95)<500", true}, {"http_req_failed rate<0.01", false}});
  const ClientMetric* ok200 =
      find_series(fams, "pelt_http_requests_total",
                  {{"scenario", "browse"}, {"name", "home"}, {"method", "GET"}, {"status", "200"}});
  REQUIRE(ok200 != nullptr);
  CHECK(ok200->counter.value == 4);
  CHECK(label(*ok200, "run_id") == "20240101T000000-42");
  const ClientMetric* nf =
      find_series(fams, "pelt_http_requests_total", {{"name", "home"}, {"status", "404"}});
  REQUIRE(nf != nullptr);
  CHECK(nf->counter.value == 1);
  const ClientMetric* post = find_series(
      fams, "pelt_http_requests_total", {{"name", "issue"}, {"method", "POST"}, {"status", "201"}});
  REQUIRE(post != nullptr);
  CHECK(post->counter.value == 2);
  CHECK(find_family(fams, "pelt_http_requests_total")->metric.size() == 3);

  const ClientMetric* fail = find_series(fams, "pelt_http_request_failures_total",
                                         {{"name", "home"}, {"reason", "status 404"}});
  REQUIRE(fail != nullptr);
  CHECK(fail->counter.value == 1);

  CHECK(find_series(fams, "pelt_vus", {{"scenario", "browse"}})->gauge.value == 7);
  CHECK(find_series(fams, "pelt_vus_max", {{"scenario", "browse"}})->gauge.value == 10);
  CHECK(find_series(fams, "pelt_stage", {{"scenario", "browse"}})->gauge.value == 2);
  CHECK(find_series(fams, "pelt_target", {{"scenario", "browse"}})->gauge.value == 8);
  CHECK(find_series(fams, "pelt_target", {{"scenario", "open"}})->gauge.value == 50);
  CHECK(find_series(fams, "pelt_target_rate", {{"scenario", "open"}})->gauge.value == 50);
  CHECK(find_series(fams, "pelt_target_rate", {{"scenario", "browse"}}) == nullptr);
  CHECK(find_series(fams, "pelt_iterations_total", {{"scenario", "browse"}})->counter.value == 7);
  CHECK(find_series(fams, "pelt_dropped_iterations_total", {{"scenario", "open"}})->counter.value ==
        3);
  CHECK(find_series(fams, "pelt_interrupted_iterations_total", {{"scenario", "open"}})->counter.value ==
        2);
  CHECK(find_series(fams, "pelt_interrupted_iterations_total", {{"scenario", "browse"}})->counter.value ==
        0);
  CHECK(find_series(fams, "pelt_data_sent_bytes_total", {})->counter.value == 1234);
  CHECK(find_series(fams, "pelt_data_received_bytes_total", {})->counter.value == 98765);
  CHECK(find_series(fams, "pelt_checks_total", {{"check", "status is 200"}, {"result", "pass"}})
            ->counter.value == 4);
  CHECK(find_series(fams, "pelt_checks_total", {{"check", "status is 200"}, {"result", "fail"}})
            ->counter.value == 1);
  CHECK(find_series(fams, "pelt_threshold_ok", {{"threshold", "http_req_duration p(95)<500"}})
            ->gauge.value == 1);
  CHECK(find_series(fams, "pelt_threshold_ok", {{"threshold", "http_req_failed rate<0.01"}})
            ->gauge.value == 0);
  CHECK(find_series(fams, "pelt_errors_total", {{"kind", "timeout"}})->counter.value == 2);
  CHECK(find_series(fams, "pelt_errors_total", {{"kind", "connect"}})->counter.value == 0);
  CHECK(find_series(fams, "pelt_requests_in_flight", {})->gauge.value == 2);
  const ClientMetric* info = find_series(fams, "pelt_run_info", {{"scenario", "open"}});
  REQUIRE(info != nullptr);
  CHECK(info->gauge.value == 1);
  CHECK(label(*info, "version") == "0.1.0");
  CHECK(label(*info, "target") == "http://127.0.0.1:8080/api");
  CHECK(find_family(fams, "pelt_run_info")->metric.size() == 2);
}

TEST_CASE("metrics: scenario tags label every series of their scenario", "[metrics]") {
  const WorkerStats s = sample_stats();
  MetricsOptions o = sample_options();
  o.scenario_tags = {{{"team", "web"}, {"env", "staging"}}, {}};
  const pelt::Redactor redactor({"s3cret"});
  o.redactor = &redactor;
  const auto fams = build_families(o, s, {});
  const ClientMetric* ok200 = find_series(
      fams, "pelt_http_requests_total",
      {{"scenario", "browse"}, {"name", "home"}, {"status", "200"}, {"team", "web"}, {"env", "staging"}});
  REQUIRE(ok200 != nullptr);
  CHECK(ok200->counter.value == 4);
  for (const char* family : {"pelt_http_request_duration_seconds", "pelt_http_request_failures_total",
                             "pelt_vus", "pelt_vus_max", "pelt_target", "pelt_iterations_total",
                             "pelt_stage", "pelt_run_info"}) {
    INFO(family);
    CHECK(find_series(fams, family, {{"scenario", "browse"}, {"team", "web"}, {"env", "staging"}}) !=
          nullptr);
  }
  // The other scenario has no tags; series without a scenario get none.
  const ClientMetric* open = find_series(fams, "pelt_target", {{"scenario", "open"}});
  REQUIRE(open != nullptr);
  CHECK(label(*open, "team") == "<none>");
  CHECK(label(*find_series(fams, "pelt_data_sent_bytes_total", {}), "team") == "<none>");
  // Tag values pass through the same redaction as other label values.
  o.scenario_tags = {{{"token", "s3cret"}}};
  const auto redacted = build_families(o, s, {});
  const ClientMetric* vus = find_series(redacted, "pelt_vus", {{"scenario", "browse"}});
  REQUIRE(vus != nullptr);
  CHECK(label(*vus, "token") != "s3cret");
  CHECK(label(*vus, "token") != "<none>");
}

TEST_CASE("metrics: duration buckets are cumulative and match the histogram", "[metrics]") {
  const WorkerStats s = sample_stats();
  MetricsOptions o = sample_options();
  o.buckets = {0.01, 0.001, 1.0, -3};  // unsorted and one invalid: cleaned up
  const auto fams = build_families(o, s, {});
  const ClientMetric* h = find_series(fams, "pelt_http_request_duration_seconds",
                                      {{"scenario", "browse"}, {"name", "home"}});
  REQUIRE(h != nullptr);
  const NameStats& home = s.scenarios[0].names.at("home");
  CHECK(h->histogram.sample_count == home.requests.responses);
  CHECK(h->histogram.sample_sum == Approx(home.latency.mean() * home.latency.count() / 1e6));
  REQUIRE(h->histogram.bucket.size() == 4);
  CHECK(h->histogram.bucket[0].upper_bound == 0.001);
  CHECK(h->histogram.bucket[1].upper_bound == 0.01);
  CHECK(h->histogram.bucket[2].upper_bound == 1.0);
  CHECK(std::isinf(h->histogram.bucket[3].upper_bound));
  CHECK(h->histogram.bucket[0].cumulative_count == home.latency.count_at_or_below(1000));
  CHECK(h->histogram.bucket[0].cumulative_count == 2);  // 500us, 700us
  CHECK(h->histogram.bucket[1].cumulative_count == 3);  // + 2ms
  CHECK(h->histogram.bucket[2].cumulative_count == 4);  // + 20ms
  CHECK(h->histogram.bucket[3].cumulative_count == 5);  // + 2s
  for (size_t i = 1; i < h->histogram.bucket.size(); ++i) {
    CHECK(h->histogram.bucket[i].cumulative_count >= h->histogram.bucket[i - 1].cumulative_count);
  }
  const ClientMetric* lag = find_series(fams, "pelt_send_lag_seconds", {});
  REQUIRE(lag != nullptr);
  CHECK(lag->histogram.sample_count == 2);
  CHECK(lag->histogram.bucket.back().cumulative_count == 2);

  const auto defaults = build_families(sample_options(), s, {});
  const ClientMetric* d =
      find_series(defaults, "pelt_http_request_duration_seconds", {{"name", "issue"}});
  REQUIRE(d != nullptr);
  CHECK(d->histogram.bucket.front().upper_bound == 0.001);
  CHECK(d->histogram.bucket[d->histogram.bucket.size() - 2].upper_bound == 60);
  CHECK(d->histogram.sample_count == 2);
}

TEST_CASE("metrics: label values past the cap fold into other", "[metrics]") {
  WorkerStats s;
  s.scenarios.resize(1);
  for (int i = 0; i < 6; ++i) {
    add_requests(s.scenarios[0].names["route" + std::to_string(i)], "GET", 200,
                 std::vector<uint64_t>(static_cast<size_t>(i + 1), 1000));
  }
  MetricsOptions o = sample_options();
  o.scenario_names = {"browse"};
  o.max_label_values = 4;
  const auto fams = build_families(o, s, {});
  const MetricFamily* req = find_family(fams, "pelt_http_requests_total");
  REQUIRE(req != nullptr);
  CHECK(req->metric.size() == 5);  // route0..route3 + other
  double total = 0;
  for (const auto& m : req->metric) total += m.counter.value;
  CHECK(total == 21);
  const ClientMetric* other = find_series(fams, "pelt_http_requests_total", {{"name", "other"}});
  REQUIRE(other != nullptr);
  CHECK(other->counter.value == 5 + 6);
  const ClientMetric* h =
      find_series(fams, "pelt_http_request_duration_seconds", {{"name", "other"}});
  REQUIRE(h != nullptr);
  CHECK(h->histogram.sample_count == 11);
  CHECK(h->histogram.bucket.back().cumulative_count == 11);
}

TEST_CASE("metrics: request tags label their requests' series, their values capped", "[metrics]") {
  WorkerStats s;
  s.scenarios.resize(1);
  ScenarioStats& sc = s.scenarios[0];
  add_requests(sc.names["home"], "GET", 200, {1000});
  add_requests(sc.names[pelt::NameKey("home", {{"kind", "api"}})], "GET", 200, {1000, 2000});
  // A request's own tag wins over its scenario's.
  add_requests(sc.names[pelt::NameKey("home", {{"team", "blue"}})], "GET", 500, {3000});
  for (int i = 0; i < 6; ++i) {
    add_requests(sc.names[pelt::NameKey("user", {{"id", std::to_string(i)}})], "GET", 200, {500});
  }
  sc.iteration_duration.record(4000);
  MetricsOptions o = sample_options();
  o.scenario_names = {"browse"};
  o.scenario_tags = {{{"team", "web"}}};
  o.max_label_values = 4;
  const auto fams = build_families(o, s, {});
  const ClientMetric* plain = find_series(fams, "pelt_http_requests_total", {{"name", "home"}});
  REQUIRE(plain != nullptr);
  CHECK(plain->counter.value == 1);
  CHECK(label(*plain, "kind") == "<none>");
  CHECK(label(*plain, "team") == "web");
  const ClientMetric* api =
      find_series(fams, "pelt_http_requests_total", {{"name", "home"}, {"kind", "api"}});
  REQUIRE(api != nullptr);
  CHECK(api->counter.value == 2);
  const ClientMetric* blue =
      find_series(fams, "pelt_http_request_failures_total", {{"name", "home"}, {"team", "blue"}});
  REQUIRE(blue != nullptr);
  CHECK(blue->counter.value == 1);
  size_t teams = 0;
  for (const auto& l : blue->label) teams += l.name == "team" ? 1 : 0;
  CHECK(teams == 1);
  const ClientMetric* h =
      find_series(fams, "pelt_http_request_duration_seconds", {{"name", "home"}, {"kind", "api"}});
  REQUIRE(h != nullptr);
  CHECK(h->histogram.sample_count == 2);
  // The id values past the label cap fold into "other", and the counts still add up.
  const ClientMetric* other =
      find_series(fams, "pelt_http_requests_total", {{"name", "user"}, {"id", "other"}});
  REQUIRE(other != nullptr);
  CHECK(other->counter.value == 2);
  const ClientMetric* it = find_series(fams, "pelt_iteration_duration_seconds", {});
  REQUIRE(it != nullptr);
  CHECK(it->histogram.sample_count == 1);
  CHECK(it->histogram.sample_sum == Approx(0.004));
}

TEST_CASE("metrics: secrets never reach label values", "[metrics]") {
  setenv("PELT_TEST_API_TOKEN", "envsecret-98765", 1);
  WorkerStats s;
  s.scenarios.resize(1);
  add_requests(s.scenarios[0].names["Bearer abcdefgh12345"], "GET", 200, {100});
  add_requests(s.scenarios[0].names["login?password=hunter22&user=bob"], "POST", 200, {100});
  add_requests(s.scenarios[0].names["call envsecret-98765"], "GET", 200, {100});
  add_requests(s.scenarios[0].names["x-opt-s3cr3t-value-y"], "GET", 200, {100});
  add_requests(s.scenarios[0].names["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"], "GET",
               200, {100});
  s.checks["Authorization: Basic dXNlcjpwYXNz"] = CheckCount{1, 0};
  s.checks["cookie=sessionid-777777"] = CheckCount{1, 0};
  MetricsOptions o = sample_options();
  o.scenario_names = {"browse"};
  o.target = "https://alice:pa55word@example.test:8443/path?token=qwerty123";
  // The run's policy: secret-named variables (here one given with -e, one from the
  // environment) and the patterns.
  const pelt::Redactor redactor = pelt::Redactor::for_run(pelt::RunConfig{}, {{"MY_SECRET", "s3cr3t-value"}});
  o.redactor = &redactor;
  const auto fams =
      build_families(o, s, {{"http_req_duration{name:token=abcabc123} p(99)<500", true}});
  const std::vector<std::string> secrets = {"abcdefgh12345",
                                            "hunter22",
                                            "envsecret-98765",
                                            "s3cr3t-value",
                                            "eyJhbGciOiJIUzI1NiJ9",
                                            "dXNlcjpwYXNz",
                                            "sessionid-777777",
                                            "pa55word",
                                            "alice",
                                            "qwerty123",
                                            "abcabc123"};
  size_t labels_seen = 0;
  for (const auto& f : fams) {
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        ++labels_seen;
        for (const auto& secret : secrets) {
          INFO(f.name << " " << l.name << "=" << l.value);
          CHECK(l.value.find(secret) == std::string::npos);
        }
      }
    }
  }
  CHECK(labels_seen > 20);
  const ClientMetric* info = find_series(fams, "pelt_run_info", {});
  REQUIRE(info != nullptr);
  CHECK(label(*info, "target") == "https://example.test:8443/path");
  // Harmless text around the secret survives, so the series stays recognisable.
  CHECK(find_series(fams, "pelt_threshold_ok",
                    {{"threshold", "http_req_duration{name:token=[redacted]} p(99)<500"}}) !=
        nullptr);
  CHECK(find_series(fams, "pelt_http_requests_total",
                    {{"name", "login?password=[redacted]&user=bob"}}) != nullptr);
  CHECK(find_series(fams, "pelt_http_requests_total", {{"name", "Bearer [redacted]"}}) != nullptr);
  unsetenv("PELT_TEST_API_TOKEN");
}

TEST_CASE("metrics: listen addresses", "[metrics]") {
  std::string host, error;
  uint16_t port = 1;
  REQUIRE(parse_listen_address("9464", host, port, error));
  CHECK((host == "127.0.0.1" && port == 9464));
  REQUIRE(parse_listen_address(":9465", host, port, error));
  CHECK((host == "127.0.0.1" && port == 9465));
  REQUIRE(parse_listen_address("0.0.0.0:0", host, port, error));
  CHECK((host == "0.0.0.0" && port == 0));
  REQUIRE(parse_listen_address("[::1]:9464", host, port, error));
  CHECK((host == "::1" && port == 9464));
  CHECK_FALSE(parse_listen_address("127.0.0.1:99999", host, port, error));
  CHECK(error.find("0 to 65535") != std::string::npos);
  CHECK_FALSE(parse_listen_address("example.com:9464", host, port, error));
  CHECK_FALSE(parse_listen_address("", host, port, error));
  CHECK_FALSE(parse_listen_address("[::1]9464", host, port, error));
}

// A plain HTTP/1.0 GET; returns the body, or "" on failure.
std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (int i = 0; i < 10000; ++i) {
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// Text exposition -> {"name{labels}" -> value}, labels as written by the server.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

TEST_CASE("metrics: the server serves the latest snapshot", "[metrics]") {
  MetricsOptions o = sample_options();
  o.listen = "127.0.0.1:0";
  o.run_id = "";
  std::string error;
  auto server = MetricsServer::start(o, error);
  REQUIRE(server != nullptr);
  CHECK(error.empty());
  const int port = port_of(server->address());
  CHECK(port > 0);
  CHECK(server->address() == "127.0.0.1:" + std::to_string(port));

  auto before = parse_exposition(http_get(port, "/metrics"));
  CHECK(before.count("pelt_vus{scenario=\"browse\"}") == 1);
  CHECK(before["pelt_vus{scenario=\"browse\"}"] == 0);
  CHECK(server->scrape_count() == 1);

  server->update(sample_stats(), {{"checks rate>0.9", true}});
  auto after = parse_exposition(http_get(port, "/metrics"));
  CHECK(after["pelt_vus{scenario=\"browse\"}"] == 7);
  CHECK(after["pelt_http_requests_total{scenario=\"browse\",name=\"home\",method=\"GET\","
              "status=\"200\"}"] == 4);
  CHECK(after["pelt_http_request_duration_seconds_count{scenario=\"browse\",name=\"home\"}"] == 5);
  CHECK(after["pelt_http_request_duration_seconds_bucket{scenario=\"browse\",name=\"home\","
              "le=\"+Inf\"}"] == 5);
  CHECK(after["pelt_http_request_duration_seconds_bucket{scenario=\"browse\",name=\"home\","
              "le=\"0.001\"}"] == 2);
  CHECK(after["pelt_threshold_ok{threshold=\"checks rate>0.9\"}"] == 1);
  CHECK(after["pelt_data_received_bytes_total"] == 98765);
  CHECK(server->scrape_count() == 2);
}

TEST_CASE("metrics: linger returns after two scrapes", "[metrics]") {
  MetricsOptions o = sample_options();
  o.listen.assign(1, '0');  // port 0: any free port
  std::string error;
  auto server = MetricsServer::start(o, error);
  REQUIRE(server != nullptr);
  const int port = port_of(server->address());
  server->update(sample_stats(), {});
  std::thread scraper([port] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      http_get(port, "/metrics");
    }
  });
  const std::function<bool()> no_stop = [] { return false; };
  const auto t0 = std::chrono::steady_clock::now();
  const int seen = server->linger(std::chrono::seconds(10), 2, no_stop);
  const auto waited = std::chrono::steady_clock::now() - t0;
  scraper.join();
  CHECK(seen == 2);
  CHECK(waited < std::chrono::seconds(5));

  const auto t1 = std::chrono::steady_clock::now();
  CHECK(server->linger(std::chrono::milliseconds(300), 2, no_stop) == 0);  // nobody scrapes: times out
  CHECK(std::chrono::steady_clock::now() - t1 >= std::chrono::milliseconds(290));

  // A stop request (Ctrl-C) ends the linger at once.
  const auto t2 = std::chrono::steady_clock::now();
  CHECK(server->linger(std::chrono::seconds(10), 2, [] { return true; }) == 0);
  CHECK(std::chrono::steady_clock::now() - t2 < std::chrono::seconds(1));
}

TEST_CASE("metrics: start reports a busy or bad address", "[metrics]") {
  MetricsOptions o = sample_options();
  o.listen = "127.0.0.1:0";
  std::string error;
  auto first = MetricsServer::start(o, error);
  REQUIRE(first != nullptr);
  o.listen = first->address();
  auto second = MetricsServer::start(o, error);
  CHECK(second == nullptr);
  CHECK(error == "cannot listen on " + first->address() + ": address in use");
  o.listen = "nonsense:port";
  CHECK(MetricsServer::start(o, error) == nullptr);
  CHECK(error.find("bad metrics address") != std::string::npos);
}

}  // namespace
}  // namespace pelt
