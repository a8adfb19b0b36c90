// Per-request tags from Lua (pelt.tag and the tags table request() returns), and how they file a
// request's figures: one entry per name and tag set, with the caps.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "engine/scenario.h"
#include "lua/script.h"
#include "results/catalogue.h"
#include "results/thresholds.h"

namespace pelt {
namespace {

// A thread state running `text` (written to a temporary file), init() done.
std::unique_ptr<Script> run_script(const std::string& text, ThreadHandle& handle) {
  ScriptOptions o;
  o.path = "/tmp/pelt_script_tags_test_" + std::to_string(getpid()) + ".lua";
  {
    std::ofstream f(o.path);
    f << text;
  }
  o.scheme = "http";
  o.host = "127.0.0.1";
  o.port = "8080";
  std::string error;
  auto s = Script::create(o, error);
  unlink(o.path.c_str());
  INFO(error);
  REQUIRE(s != nullptr);
  handle.state = s.get();
  REQUIRE(s->init(handle, {"http://x/"}, error));
  return s;
}

// The tags of the next request, as "k=v,k=v".
std::string next_tags(Script& s) {
  std::string_view view;
  const bool ok = s.request(view);
  INFO(s.last_error());
  REQUIRE(ok);
  std::string out;
  for (const auto& [k, v] : s.request_tags())
    out += (out.empty() ? "" : ",") + std::string(k) + "=" + std::string(v);
  return out;
}

}  // namespace

TEST_CASE("pelt.tag tags one request inside request(), every request outside it",
          "[script][tags]") {
  ThreadHandle handle;
  auto s = run_script(
      "pelt.tag('region', 'eu')\n"
      "local n = 0\n"
      "function request()\n"
      "  n = n + 1\n"
      "  if n == 1 then pelt.tag('kind', 'api') end\n"
      "  if n == 2 then pelt.tag('region', 'us'); pelt.tag('code', 7); pelt.tag('hit', true) end\n"
      "  if n == 3 then return wrk.format(nil, '/x'), { kind = 'page', name = 'X page' } end\n"
      "  if n == 4 then pelt.tag('region', nil) end\n"
      "  return wrk.format(nil, '/')\n"
      "end\n",
      handle);
  CHECK(next_tags(*s) == "kind=api,region=eu");
  CHECK(next_tags(*s) == "code=7,hit=true,region=us");  // sorted; the request's value wins
  CHECK(next_tags(*s) == "kind=page,region=eu");
  CHECK(s->request_name() == "X page");  // a name tag is pelt.name
  CHECK(next_tags(*s) == "region=eu");   // nil removes this request's tag, not the default
  CHECK(next_tags(*s) == "region=eu");
}

TEST_CASE("scripts without tags pay nothing: no tags", "[script][tags]") {
  ThreadHandle handle;
  auto s = run_script("function request() return wrk.format(nil, '/') end\n", handle);
  CHECK(next_tags(*s).empty());
  CHECK(s->request_tags().empty());
}

TEST_CASE("bad tags are Lua errors naming the problem", "[script][tags]") {
  struct Case {
    const char* body;     // request()'s body
    const char* message;  // part of the error
  };
  const Case cases[] = {
      {"pelt.tag('status', '200')", "tag \"status\" is one pelt sets itself"},
      {"pelt.tag('expected_response', 'true')", "is one pelt sets itself"},
      {"pelt.tag('a-b', 'x')", "bad tag name \"a-b\""},
      {"pelt.tag('__x', 'x')", "bad tag name"},
      {"pelt.tag('k', {})", "must be a string, number or boolean, not table"},
      {"for i = 1, 9 do pelt.tag('k' .. i, 'v') end", "more than 8 tags"},
      {"return 'GET / HTTP/1.1\\r\\n\\r\\n', { ['bad key'] = 1 }", "the tags request() returned"},
      {"return 'GET / HTTP/1.1\\r\\n\\r\\n', 5", "expected a table of tags"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    ThreadHandle handle;
    const std::string body = c.body;
    auto s = run_script("function request()\n" + body +
                            (body.starts_with("return") ? "" : "\nreturn wrk.format(nil, '/')") +
                            "\nend\n",
                        handle);
    std::string_view view;
    CHECK_FALSE(s->request(view));
    CHECK_THAT(s->last_error(), Catch::Contains(c.message));
  }
}

TEST_CASE("a request's tags file its figures under its name and tag set, capped", "[tags]") {
  ScenarioConfig config;
  ScenarioSetup setup;
  setup.config = &config;
  setup.default_name = "/";
  setup.default_method = "GET";
  ScenarioStats stats;
  ScenarioContext ctx(0, std::move(setup), stats);
  const std::vector<TagView> api = {{"kind", "api"}};
  const std::vector<TagView> page = {{"kind", "page"}};
  NameStats* a = ctx.name_stats("home", "GET", api);
  NameStats* b = ctx.name_stats("home", "GET", page);
  NameStats* c = ctx.name_stats("home", "GET");
  CHECK(a != b);
  CHECK(a != c);
  CHECK(ctx.name_stats("home", "GET", api) == a);  // found again, no new entry
  CHECK(stats.names.count(NameKey("home", {{"kind", "api"}})) == 1);
  CHECK(stats.names.count("home") == 1);
  CHECK(stats.names.size() == 4);  // with the default name "/"

  // Past kMaxTagValues values of one tag, new values are "other", and the scenario says so.
  for (size_t i = 0; i < WorkerStats::kMaxTagValues + 5; ++i) {
    const std::string user = "u" + std::to_string(i);
    const std::vector<TagView> tags = {{"user", user}};
    ctx.name_stats("profile", "GET", tags);
  }
  CHECK(stats.names.count(NameKey("profile", {{"user", "other"}})) == 1);
  CHECK(stats.names.count(NameKey("profile", {{"user", "u99"}})) == 1);
  CHECK(stats.names.count(NameKey("profile", {{"user", "u100"}})) == 0);
  CHECK(stats.capped_tags == std::set<std::string>{"user"});
}

TEST_CASE("threshold filters on request tags: the request's own, then its scenario's", "[tags]") {
  WorkerStats st;
  st.scenarios.resize(2);
  auto add = [](ScenarioStats& sc, const NameKey& key, uint64_t n, uint64_t ms) {
    NameStats& ns = sc.names[key];
    ns.method = "GET";
    ns.requests.responses += n;
    ns.status[200] += n;
    for (uint64_t i = 0; i < n; ++i) ns.latency.record(ms * 1000);
  };
  add(st.scenarios[0], NameKey("home", {{"kind", "api"}}), 3, 10);
  add(st.scenarios[0], NameKey("home", {{"kind", "page"}, {"team", "blue"}}), 2, 20);
  add(st.scenarios[0], NameKey("home"), 1, 30);
  add(st.scenarios[1], NameKey("home", {{"kind", "api"}}), 4, 40);
  std::vector<std::string> names = {"a", "b"};
  std::vector<std::map<std::string, std::string>> tags = {{{"team", "red"}}, {}};
  ThresholdInputs in;
  in.stats = &st;
  in.scenario_names = &names;
  in.scenario_tags = &tags;
  in.elapsed_seconds = 1;
  auto eval = [&](const std::string& metric, const std::string& expression,
                  std::map<std::string, std::string> filter) {
    ThresholdConfig th;
    th.metric = metric;
    th.tags = std::move(filter);
    th.expression = expression;
    std::string error;
    size_t pos = 0;
    REQUIRE(parse_threshold(expression, th.parsed, error, pos));
    return evaluate_threshold(th, in, ThresholdPhase::kEnd);
  };
  CHECK(eval("http_reqs", "count==7", {{"kind", "api"}}).ok);
  CHECK(eval("http_reqs", "count==3", {{"kind", "api"}, {"scenario", "a"}}).ok);
  CHECK(eval("http_req_duration", "max<1", {{"kind", "api"}}).observed == Approx(40));
  CHECK(eval("http_req_duration", "avg<1", {{"kind", "page"}}).observed == Approx(20));
  // team: blue on its own requests, red from scenario a's tags for the others of a.
  CHECK(eval("http_reqs", "count==2", {{"team", "blue"}}).ok);
  CHECK(eval("http_reqs", "count==4", {{"team", "red"}}).ok);
  CHECK(eval("http_reqs", "count==6", {{"name", "home"}, {"scenario", "a"}}).ok);
  // A typo in a request tag value selects nothing, and says what was seen.
  ThresholdResult r = eval("http_req_duration", "p(95)<100", {{"kind", "api "}});
  CHECK_FALSE(r.has_data);
  CHECK(r.warning == "selected no samples: no sample has kind = \"api \" (values: api, page)");
}

}  // namespace pelt
