#include "results/stats.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

namespace {

using pelt::WorkerStats;

// Counts the fields of an aggregate: the largest N for which T{x1, ..., xN} compiles, with each
// x convertible to anything. The merge test below asserts the counts, so a field added to a
// stats struct fails this test until the fixture sets it and the test checks its merge.
struct AnyField {
  template <typename U>
  operator U() const;
};

template <typename T, typename... Fields>
constexpr size_t field_count() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; }) {
    return field_count<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}

static_assert(field_count<pelt::ErrorCounts>() == 5, "ErrorCounts changed: update the merge test");
static_assert(field_count<pelt::Ledger>() == 5, "Ledger changed: update the merge test");
static_assert(field_count<pelt::RequestCounts>() == 3, "RequestCounts changed: update the merge test");
static_assert(field_count<pelt::CheckCount>() == 2, "CheckCount changed: update the merge test");
static_assert(field_count<pelt::StageStats>() == 3, "StageStats changed: update the merge test");
static_assert(field_count<pelt::NameStats>() == 6, "NameStats changed: update the merge test");
static_assert(field_count<pelt::ScenarioStats>() == 12,
              "ScenarioStats changed: update the merge test");
static_assert(field_count<pelt::Http2Stats>() == 16, "Http2Stats changed: update the merge test");
static_assert(field_count<WorkerStats>() == 26, "WorkerStats changed: update the merge test");

// A worker's figures with every field set, scaled by k so two workers differ.
std::unique_ptr<WorkerStats> filled(uint64_t k) {
  auto s = std::make_unique<WorkerStats>();
  s->ledger = {10 * k, 7 * k, 1 * k, 1 * k, 1 * k};
  s->waiting_now = 4 * k;
  s->errors = {1 * k, 2 * k, 3 * k, 4 * k, 5 * k};
  s->error_reasons["connect ECONNREFUSED"] = k;
  s->error_reasons["read EOF"] = 2 * k;
  s->error_samples = {"sample " + std::to_string(k)};
  s->bytes_read = 1000 * k;
  s->bytes_written = 100 * k;
  s->connects = 3 * k;
  s->reconnects = k;
  s->tls_handshakes = 6 * k;
  s->tls_resumed = 5 * k;
  s->status[200] = 6 * k;
  s->status[404] = k;
  s->status[999] = k;
  s->http2 = {k, 2 * k, 3 * k, 4 * k, 5 * k, 6 * k, 7 * k, 8 * k, 9 * k, 10 * k, 11 * k, 12 * k,
              13 * k, 14 * k, 15 * k, 100 / k};
  s->latency.record_n(1000 * k, 7 * k);
  s->service.record(900 * k);
  s->send_lag.record(10 * k);
  s->connect_time.record(50 * k);
  s->tls_time.record(70 * k);
  s->waiting.record(800 * k);
  s->blocked.record_n(30 * k, 2);
  s->receiving.record(20 * k);
  s->req_per_sec.record(5000 * k);
  s->checks["status is 200"] = {6 * k, k};
  s->script_errors = k;
  s->script_error_samples = {"script.lua:" + std::to_string(k) + ": boom"};
  pelt::ScenarioStats sc;
  sc.stages.resize(k);  // worker 1 saw one stage, worker 2 two
  for (auto& st : sc.stages) {
    st.requests = {5, 1, 2};
    st.dropped_iterations = 2;
    st.latency.record(100 * k);
  }
  pelt::NameStats& ns = sc.names["GET /users/{id}"];
  ns.method = k == 1 ? "GET" : "";
  ns.requests = {4 * k, k, 2 * k};
  ns.status[200] = 3 * k;
  ns.status[500] = k;
  ns.failure_reasons["premature close"] = 2 * k;
  ns.latency.record(2000 * k);
  ns.splits[pelt::RequestSplit{pelt::RequestTrend::kWaiting, 200, -1}.key()].record(500 * k);
  sc.names["only in " + std::to_string(k)].requests.responses = 1;
  sc.names[pelt::NameKey("GET /users/{id}", {{"tier", "gold"}})].requests.responses = k;
  sc.capped_tags = {"user_" + std::to_string(k)};
  // Custom metrics: every kind, and a tag set only worker 2 has.
  using pelt::CustomKind;
  const pelt::NameKey errors("errors"), wait("wait"), ok("ok"), depth("depth");
  sc.custom.emplace(errors, pelt::CustomFigures(CustomKind::kCounter, false));
  sc.custom.at(errors).add(1.5 * static_cast<double>(k), 0);
  sc.custom.emplace(wait, pelt::CustomFigures(CustomKind::kTrend, true));
  sc.custom.at(wait).add(10.0 * static_cast<double>(k), 0);
  sc.custom.emplace(ok, pelt::CustomFigures(CustomKind::kRate, false));
  sc.custom.at(ok).add(k == 1 ? 1 : 0, 0);
  sc.custom.emplace(depth, pelt::CustomFigures(CustomKind::kGauge, false));
  sc.custom.at(depth).add(7.0 * static_cast<double>(k), 100 / k);  // worker 1 set it last
  if (k == 2) {
    const pelt::NameKey tagged("errors", {{"kind", "api"}});
    sc.custom.emplace(tagged, pelt::CustomFigures(CustomKind::kCounter, false));
    sc.custom.at(tagged).add(4, 0);
  }
  sc.iterations = 7 * k;
  sc.dropped_iterations = k;
  sc.interrupted_iterations = 3 * k;
  sc.vus = static_cast<uint32_t>(5 * k);
  sc.vus_max = static_cast<uint32_t>(10 * k);
  sc.stage = static_cast<uint32_t>(k - 1);
  sc.target = 50.0 * k;
  sc.iteration_duration.record(3000 * k);
  s->scenarios.push_back(sc);
  return s;
}

}  // namespace

TEST_CASE("WorkerStats::merge adds every field", "[stats]") {
  auto a = filled(1);
  auto b = filled(2);
  a->merge(*b);
  CHECK(a->ledger.sent == 30);
  CHECK(a->ledger.completed == 21);
  CHECK(a->ledger.failed == 3);
  CHECK(a->ledger.timed_out == 3);
  CHECK(a->ledger.in_flight == 3);
  CHECK(a->ledger.balanced());
  CHECK(a->waiting_now == 12);
  CHECK(a->errors.connect == 3);
  CHECK(a->errors.read == 6);
  CHECK(a->errors.write == 9);
  CHECK(a->errors.timeout == 12);
  CHECK(a->errors.status == 15);
  CHECK(a->errors.socket_total() == 30);
  CHECK(a->error_reasons["connect ECONNREFUSED"] == 3);
  CHECK(a->error_reasons["read EOF"] == 6);
  CHECK(a->error_samples == std::vector<std::string>{"sample 1", "sample 2"});
  CHECK(a->bytes_read == 3000);
  CHECK(a->bytes_written == 300);
  CHECK(a->connects == 9);
  CHECK(a->reconnects == 3);
  CHECK(a->tls_handshakes == 18);
  CHECK(a->tls_resumed == 15);
  CHECK(a->status[200] == 18);
  CHECK(a->status[404] == 3);
  CHECK(a->http2.connections == 3);
  CHECK(a->http2.streams == 6);
  CHECK(a->http2.header_bytes_sent == 9);
  CHECK(a->http2.header_fields_sent == 12);
  CHECK(a->http2.header_bytes_received == 15);
  CHECK(a->http2.header_fields_received == 18);
  CHECK(a->http2.bytes_sent == 21);
  CHECK(a->http2.bytes_received == 24);
  CHECK(a->http2.goaways == 27);
  CHECK(a->http2.retried == 30);
  CHECK(a->http2.resets_received == 33);
  CHECK(a->http2.resets_sent == 36);
  CHECK(a->http2.queued == 39);
  CHECK(a->http2.flow_control_stalls == 42);
  CHECK(a->http2.alpn_fallbacks == 45);
  CHECK(a->http2.peer_max_concurrent_streams == 50);  // the lowest
  CHECK(a->status[999] == 3);
  CHECK(a->non_2xx_3xx() == 6);
  CHECK(a->latency.count() == 21);
  CHECK(a->latency.min() == 1000);
  CHECK(a->latency.max() == 2000);
  CHECK(a->service.count() == 2);
  CHECK(a->send_lag.count() == 2);
  CHECK(a->connect_time.count() == 2);
  CHECK(a->tls_time.count() == 2);
  CHECK(a->waiting.max() == 1600);
  CHECK(a->blocked.count() == 4);
  CHECK(a->blocked.max() == 60);
  CHECK(a->receiving.count() == 2);
  CHECK(a->receiving.min() == 20);
  CHECK(a->req_per_sec.count() == 2);
  CHECK(a->checks["status is 200"].passes == 18);
  CHECK(a->checks["status is 200"].fails == 3);
  CHECK(a->script_errors == 3);
  CHECK(a->script_error_samples.size() == 2);

  REQUIRE(a->scenarios.size() == 1);
  const pelt::ScenarioStats& sc = a->scenarios[0];
  REQUIRE(sc.stages.size() == 2);  // grown to the longer side
  CHECK(sc.stages[0].requests.responses == 10);
  CHECK(sc.stages[0].requests.failed_responses == 2);
  CHECK(sc.stages[0].requests.no_response == 4);
  CHECK(sc.stages[0].requests.ended() == 14);
  CHECK(sc.stages[0].requests.failed() == 6);
  CHECK(sc.stages[0].dropped_iterations == 4);
  CHECK(sc.stages[0].latency.count() == 2);
  CHECK(sc.stages[1].requests.responses == 5);
  CHECK(sc.stages[1].latency.min() == 200);
  REQUIRE(sc.names.count("GET /users/{id}") == 1);
  const pelt::NameStats& ns = sc.names.at("GET /users/{id}");
  CHECK(ns.method == "GET");
  CHECK(ns.requests.responses == 12);
  CHECK(ns.requests.failed_responses == 3);
  CHECK(ns.requests.no_response == 6);
  CHECK(ns.status.at(200) == 9);
  CHECK(ns.status.at(500) == 3);
  CHECK(ns.failure_reasons.at("premature close") == 6);
  CHECK(ns.latency.count() == 2);
  REQUIRE(ns.splits.size() == 1);
  CHECK(ns.splits.begin()->second.count() == 2);
  CHECK(ns.splits.begin()->second.max() == 1000);
  CHECK(sc.names.count("only in 1") == 1);
  CHECK(sc.names.count("only in 2") == 1);
  CHECK(sc.names.at(pelt::NameKey("GET /users/{id}", {{"tier", "gold"}})).requests.responses == 3);
  CHECK(sc.names.size() == 4);
  CHECK(sc.capped_tags == std::set<std::string>{"user_1", "user_2"});
  REQUIRE(sc.custom.size() == 5);
  const pelt::CustomFigures& errors = sc.custom.at(pelt::NameKey("errors"));
  CHECK(errors.kind == pelt::CustomKind::kCounter);
  CHECK(errors.samples == 2);
  CHECK(errors.sum == Approx(4.5));
  CHECK(errors.min == Approx(1.5));
  CHECK(errors.max == Approx(3));
  const pelt::CustomFigures& wait = sc.custom.at(pelt::NameKey("wait"));
  CHECK(wait.is_time);
  REQUIRE(wait.trend != nullptr);
  CHECK(wait.trend->count() == 2);
  CHECK(wait.trend->quantile(50) == Approx(15000));
  CHECK(sc.custom.at(pelt::NameKey("ok")).nonzero == 1);
  CHECK(sc.custom.at(pelt::NameKey("ok")).samples == 2);
  const pelt::CustomFigures& depth = sc.custom.at(pelt::NameKey("depth"));
  CHECK(depth.last == Approx(7));  // set at 100 ns, after worker 2's 50 ns
  CHECK(depth.last_ns == 100);
  CHECK(depth.max == Approx(14));
  CHECK(sc.custom.at(pelt::NameKey("errors", {{"kind", "api"}})).sum == Approx(4));
  CHECK(sc.iterations == 21);
  CHECK(sc.dropped_iterations == 3);
  CHECK(sc.interrupted_iterations == 9);
  CHECK(sc.vus == 15);  // per-worker shares add
  CHECK(sc.vus_max == 30);
  CHECK(sc.stage == 1);  // furthest stage
  CHECK(sc.target == Approx(150));
  CHECK(sc.iteration_duration.count() == 2);
  CHECK(sc.iteration_duration.quantile(50) == Approx(4500));
}

TEST_CASE("merge into an empty WorkerStats copies, and grows the scenario list", "[stats]") {
  auto empty = std::make_unique<WorkerStats>();
  auto b = filled(2);
  empty->merge(*b);
  CHECK(empty->ledger.sent == 20);
  REQUIRE(empty->scenarios.size() == 1);
  CHECK(empty->scenarios[0].stages.size() == 2);
  CHECK(empty->scenarios[0].names.at("GET /users/{id}").method.empty());
  CHECK(empty->latency.count() == 14);
}

TEST_CASE("error and script samples are capped", "[stats]") {
  auto a = std::make_unique<WorkerStats>();
  for (int i = 0; i < 20; ++i) {
    a->add_error_reason("connect ECONNREFUSED",
                        "connect to 127.0.0.1:1: refused #" + std::to_string(i));
    a->add_script_error("script.lua:" + std::to_string(i) + ": boom");
  }
  CHECK(a->error_reasons["connect ECONNREFUSED"] == 20);
  CHECK(a->error_samples.size() == WorkerStats::kMaxSamples);
  CHECK(a->error_samples.front() == "connect to 127.0.0.1:1: refused #0");
  CHECK(a->script_errors == 20);
  CHECK(a->script_error_samples.size() == WorkerStats::kMaxSamples);
  CHECK(a->script_error_samples.back() == "script.lua:4: boom");

  // The same message twice is kept once.
  auto b = std::make_unique<WorkerStats>();
  b->add_error_reason("read EOF", "same");
  b->add_error_reason("read EOF", "same");
  CHECK(b->error_samples.size() == 1);
  CHECK(b->error_reasons["read EOF"] == 2);

  // Merging keeps the cap and the first samples.
  b->merge(*a);
  CHECK(b->error_samples.size() == WorkerStats::kMaxSamples);
  CHECK(b->error_samples.front() == "same");
  CHECK(b->script_error_samples.size() == WorkerStats::kMaxSamples);
  CHECK(b->script_errors == 20);
}

TEST_CASE("ledger balance and non-2xx/3xx", "[stats]") {
  pelt::Ledger l{10, 6, 2, 1, 1};
  CHECK(l.balanced());
  l.completed++;
  CHECK_FALSE(l.balanced());
  pelt::Ledger other{5, 5, 0, 0, 0};
  pelt::Ledger m{10, 6, 2, 1, 1};
  m.merge(other);
  CHECK(m.sent == 15);
  CHECK(m.balanced());

  auto s = std::make_unique<WorkerStats>();
  s->status[101] = 1;
  s->status[200] = 5;
  s->status[302] = 2;
  s->status[399] = 1;
  s->status[400] = 3;
  s->status[503] = 4;
  CHECK(s->non_2xx_3xx() == 8);
}

TEST_CASE("request names past the cap fold into other when merged", "[stats]") {
  pelt::ScenarioStats a, b;
  for (size_t i = 0; i < WorkerStats::kMaxNames; ++i) {
    std::string name = std::to_string(i);
    name.insert(name.begin(), 'a');
    a.names[name].requests.responses = 1;
  }
  b.names["a0"].requests.responses = 2;
  b.names["new one"].requests.responses = 5;
  b.names["new two"].requests.responses = 6;
  a.merge(b);
  CHECK(a.names.at("a0").requests.responses == 3);
  CHECK(a.names.count("new one") == 0);
  CHECK(a.names.at("other").requests.responses == 11);
  CHECK(a.names.size() == WorkerStats::kMaxNames + 1);
}

TEST_CASE("merging names keeps the caps: names fold into other, tag sets into their name",
          "[stats]") {
  pelt::ScenarioStats a;
  for (size_t i = 0; i < WorkerStats::kMaxNames; ++i) a.names["n" + std::to_string(i)];
  pelt::ScenarioStats b;
  b.names["n1"].requests.responses = 1;                                 // known: kept
  b.names["new"].requests.responses = 2;                                // past the cap: other
  b.names[pelt::NameKey("n2", {{"k", "v"}})].requests.responses = 3;    // tag set of a known name
  b.names[pelt::NameKey("new2", {{"k", "v"}})].requests.responses = 4;  // unknown name: other
  a.merge(b);
  CHECK(a.names.at("n1").requests.responses == 1);
  CHECK(a.names.at("other").requests.responses == 6);
  CHECK(a.names.at(pelt::NameKey("n2", {{"k", "v"}})).requests.responses == 3);
  CHECK(a.names.count("new") == 0);

  pelt::ScenarioStats c;
  for (size_t i = 0; i < WorkerStats::kMaxTagSets; ++i) {
    c.names[pelt::NameKey("x", {{"k", std::to_string(i)}})];
  }
  pelt::ScenarioStats d;
  d.names[pelt::NameKey("x", {{"k", "one more"}})].requests.responses = 5;
  c.merge(d);
  CHECK(c.names.at("x").requests.responses == 5);  // counted under its name alone
  CHECK(c.capped_tags.count("") == 1);
  CHECK(pelt::NameKey("x", {{"a", "1"}, {"b", "2"}}).label() == "x {a=1, b=2}");
  CHECK(pelt::NameKey("x").label() == "x");
}
