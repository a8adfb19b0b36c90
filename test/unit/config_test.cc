// Scenario-file loader: shipped scenarios, field mapping, ${VAR} rules and error messages.
#include "config/config.h"
#include "config/toml_guard.h"
#include "config/config_identity.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "results/thresholds.h"
#include "wire/url.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pelt::ExecutorKind;
using pelt::RunConfig;

namespace {

const std::string kDataDir = std::string(PELT_TEST_DATA_DIR) + "/config";
const std::string kScenarioDir = std::string(PELT_TEST_DATA_DIR) + "/../../scenarios";

// Loads text as if it were the file "t.toml" in base_dir; returns the error ("" on success).
std::string load(const std::string& text, RunConfig& out,
                 const std::map<std::string, std::string>& vars = {},
                 const std::string& base_dir = "") {
  std::string error;
  bool ok = pelt::load_run_config(text, "t.toml", base_dir, vars, out, error);
  CHECK(ok == error.empty());
  return ok ? "" : error;
}

std::string load_error(const std::string& text,
                       const std::map<std::string, std::string>& vars = {}) {
  RunConfig config;
  return load(text, config, vars);
}

std::string file_error(const std::string& name) {
  RunConfig config;
  std::string error;
  const std::string path = kDataDir + "/" + name;
  REQUIRE(fs::exists(path));
  CHECK_FALSE(pelt::load_run_config_file(path, {}, config, error));
  return error;
}

std::string expand(std::string_view text, const std::map<std::string, std::string>& vars,
                   size_t* error_pos = nullptr, std::string* error = nullptr) {
  std::string out = "unchanged";
  std::string message;
  size_t pos = 12345;
  bool ok = pelt::expand_vars(text, vars, out, message, pos);
  if (error_pos != nullptr) *error_pos = ok ? std::string::npos : pos;
  if (error != nullptr) *error = message;
  return ok ? out : "<error>";
}

const char* kMinimal = R"(
[scenarios.a]
executor = "constant-vus"
duration = "1s"
)";

}  // namespace

TEST_CASE("every shipped scenario file loads", "[config]") {
  ::unsetenv("BASE_URL");  // so every file falls back to its default target
  // The full queue-enqueue scenario needs these two from -e.
  const std::map<std::string, std::string> vars = {{"BOOTH_ID", "7"}, {"AUTH_TOKEN", "tok"}};
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kScenarioDir)) {
    if (entry.path().extension() != ".toml") continue;
    ++files;
    RunConfig config;
    std::string error;
    INFO(entry.path().string());
    CHECK(pelt::load_run_config_file(entry.path().string(), vars, config, error));
    CHECK(error == "");
    CHECK_FALSE(config.scenarios.empty());
    CHECK_FALSE(config.thresholds.empty());
    CHECK(config.target.url.rfind("http://127.0.0.1:8080", 0) == 0);
    if (entry.path().stem().string().find("-quick") != std::string::npos) {
      // Quick variants stay short: each scenario ends within 10 seconds.
      for (const auto& s : config.scenarios) {
        auto length = s.duration;
        for (const auto& stage : s.stages) length += stage.duration;
        CHECK(s.start_time + length <= 10s);
      }
    }
  }
  CHECK(files >= 18);
}

TEST_CASE("the coupon-issue scenario maps as written", "[config]") {
  RunConfig config;
  std::string error;
  const std::string path = kScenarioDir + "/coupon-issue.toml";
  REQUIRE(pelt::load_run_config_file(path, {{"BASE_URL", "http://10.0.0.1:9000"}}, config, error));
  CHECK(config.source == path);
  CHECK(config.script == (fs::path(kScenarioDir) / "coupon-issue.lua").lexically_normal().string());
  CHECK(config.target.url == "http://10.0.0.1:9000");
  CHECK(config.target.timeout == 60s);
  CHECK(config.metrics.listen == "127.0.0.1:9464");
  CHECK(config.metrics.buckets.size() == 12);
  CHECK(config.metrics.linger == 5s);
  REQUIRE(config.scenarios.size() == 2);
  const auto& issue = config.scenarios[0];
  CHECK(issue.name == "coupon_issuance");
  CHECK(issue.executor == ExecutorKind::kConstantArrivalRate);
  CHECK(issue.rate == 1000);
  CHECK(issue.time_unit == 1min);
  CHECK(issue.duration == 1min);
  CHECK(issue.pre_allocated_vus == 100);
  CHECK(issue.max_vus == 1000);
  CHECK(issue.script == "");
  CHECK(issue.location == path + ":19:1");
  const auto& browse = config.scenarios[1];
  CHECK(browse.name == "browse");
  CHECK(browse.executor == ExecutorKind::kRampingVus);
  CHECK(browse.start_time == 10s);
  CHECK(browse.start_vus == 0);
  REQUIRE(browse.stages.size() == 3);
  CHECK(browse.stages[1].duration == 1min);
  CHECK(browse.stages[1].target == 50);
  CHECK(browse.think_time.min == 500ms);
  CHECK(browse.think_time.max == 500ms);
  CHECK(browse.script.ends_with("scenarios/browse.lua"));
  REQUIRE(config.thresholds.size() == 5);
  const auto& t = config.thresholds[3];
  CHECK(t.key == "http_req_duration{name:issue}");
  CHECK(t.metric == "http_req_duration");
  CHECK(t.tags == std::map<std::string, std::string>{{"name", "issue"}});
  CHECK(t.expression == "p(99)<500");
  CHECK(t.parsed.aggregation == pelt::ThresholdExpr::Aggregation::kPercentile);
  CHECK(t.parsed.percentile == 99);
  CHECK(t.parsed.value == 500);
  CHECK(t.abort_on_fail);
  CHECK(t.delay_abort_eval == 10s);
  CHECK(config.thresholds[4].metric == "checks");
  CHECK(config.thresholds[4].location == path + ":45:11");
}

TEST_CASE("every key maps to its field", "[config]") {
  RunConfig config;
  const std::string text = R"(# all keys
[target]
url = "https://example.test:8443/base"
timeout = 15
method = "PUT"
path = "/items"
body = "hello"
headers = { Accept = "*/*", "X-Team" = "web" }
insecure = true

[metrics]
listen = "0.0.0.0:9100"
buckets = [0.01, 0.1, 1]
linger = "250ms"

[scenarios.zeta]
executor = "per-vu-iterations"
vus = 3
iterations = "2k"
max_duration = "90s"
start_time = "1m30s"
graceful_stop = "5s"
think_time = { min = "200ms", max = 1.5 }
headers = { accept = "text/plain", "X-Extra" = "1" }
method = "POST"
path = "/z"
body = "{}"
tags = { team = "checkout", tier = "gold" }

[scenarios.alpha]
executor = "ramping-arrival-rate"
start_rate = "2/s"
time_unit = "1m"
pre_allocated_vus = 4
max_vus = 8
stages = [{ duration = "10s", target = 60 }, { duration = 0, target = "1/s" }]

[scenarios.shared]
executor = "shared-iterations"
vus = 2
iterations = 100

[scenarios.ramp]
executor = "ramping-vus"
start_vus = 2
graceful_ramp_down = "3s"
stages = [{ duration = "5s", target = 4 }]

[thresholds]
"checks{check:status ok}" = ["rate>0.9"]
http_reqs = "count>10"
)";
  REQUIRE(load(text, config) == "");
  CHECK(config.source == "t.toml");
  CHECK(config.target.url == "https://example.test:8443/base");
  CHECK(config.target.timeout == 15s);
  CHECK(config.target.insecure);
  CHECK(config.target.headers == pelt::HeaderList{{"Accept", "*/*"}, {"X-Team", "web"}});
  CHECK(config.metrics.listen == "0.0.0.0:9100");
  CHECK(config.metrics.buckets == std::vector<double>{0.01, 0.1, 1});
  CHECK(config.metrics.linger == 250ms);
  REQUIRE(config.scenarios.size() == 4);
  // File order, not alphabetical.
  const auto& z = config.scenarios[0];
  CHECK(z.name == "zeta");
  CHECK(z.location == "t.toml:16:1");
  CHECK(z.executor == ExecutorKind::kPerVuIterations);
  CHECK(z.vus == 3);
  CHECK(z.iterations == 2000);
  CHECK(z.max_duration == 90s);
  CHECK(z.start_time == 90s);
  CHECK(z.graceful_stop == 5s);
  CHECK(z.think_time.min == 200ms);
  CHECK(z.think_time.max == 1500ms);
  // Scenario headers replace target headers case-insensitively and append new ones.
  CHECK(z.headers ==
        pelt::HeaderList{{"Accept", "text/plain"}, {"X-Team", "web"}, {"X-Extra", "1"}});
  CHECK(z.method == "POST");
  CHECK(z.path == "/z");
  CHECK(z.body == "{}");
  CHECK(z.tags == std::map<std::string, std::string>{{"team", "checkout"}, {"tier", "gold"}});
  const auto& a = config.scenarios[1];
  CHECK(a.name == "alpha");
  CHECK(a.executor == ExecutorKind::kRampingArrivalRate);
  CHECK(a.time_unit == 1min);
  CHECK(a.start_rate == Approx(120));  // "2/s" is 120 per time_unit of one minute
  CHECK(a.pre_allocated_vus == 4);
  CHECK(a.max_vus == 8);
  REQUIRE(a.stages.size() == 2);
  CHECK(a.stages[0].duration == 10s);
  CHECK(a.stages[0].target == 60);
  CHECK(a.stages[1].duration == 0s);
  CHECK(a.stages[1].target == Approx(60));
  // Scenarios without overrides inherit the target's request.
  CHECK(a.method == "PUT");
  CHECK(a.path == "/items");
  CHECK(a.body == "hello");
  CHECK(a.headers == config.target.headers);
  CHECK(a.graceful_stop == 30s);
  const auto& s = config.scenarios[2];
  CHECK(s.executor == ExecutorKind::kSharedIterations);
  CHECK(s.vus == 2);
  CHECK(s.iterations == 100);
  CHECK(s.max_duration == 10min);
  const auto& r = config.scenarios[3];
  CHECK(r.start_vus == 2);
  CHECK(r.graceful_ramp_down == 3s);
  REQUIRE(config.thresholds.size() == 2);
  CHECK(config.thresholds[0].metric == "checks");
  CHECK(config.thresholds[0].tags == std::map<std::string, std::string>{{"check", "status ok"}});
  CHECK(config.thresholds[1].key == "http_reqs");
  CHECK(config.thresholds[1].parsed.aggregation == pelt::ThresholdExpr::Aggregation::kCount);
  CHECK(config.thresholds[1].location == "t.toml:51:13");
}

TEST_CASE("defaults when keys are absent", "[config]") {
  RunConfig config;
  REQUIRE(load(kMinimal, config) == "");
  CHECK(config.script == "");
  CHECK(config.target.url == "");
  CHECK(config.target.timeout == 60s);
  CHECK(config.metrics.listen == "");
  CHECK(config.metrics.buckets.empty());
  CHECK(config.thresholds.empty());
  REQUIRE(config.scenarios.size() == 1);
  const auto& s = config.scenarios[0];
  CHECK(s.vus == 1);
  CHECK(s.duration == 1s);
  CHECK(s.method == "GET");
  CHECK(s.path == "");
  CHECK(s.graceful_stop == 30s);
  CHECK(s.think_time.max == 0s);
  CHECK_FALSE(s.queue_when_busy);
}

TEST_CASE("scripts and CA files resolve against the directory of the file", "[config]") {
  const fs::path dir = fs::temp_directory_path() / "pelt_config_test_paths";
  fs::create_directories(dir / "lua");
  std::ofstream(dir / "lua" / "main.lua") << "-- main\n";
  std::ofstream(dir / "other.lua") << "-- other\n";
  std::ofstream(dir / "ca.pem") << "pem\n";
  RunConfig config;
  const std::string text = R"(script = "lua/main.lua"
[target]
url = "https://127.0.0.1:8443"
cacert = "ca.pem"
[scenarios.a]
executor = "constant-vus"
duration = "1s"
script = "lua/../other.lua"
)";
  REQUIRE(load(text, config, {}, dir.string()) == "");
  CHECK(config.base_dir == dir.string());
  CHECK(config.script == (dir / "lua" / "main.lua").string());
  CHECK(config.target.cacert == (dir / "ca.pem").string());
  CHECK(config.scenarios[0].script == (dir / "other.lua").string());
  CHECK(load_error("script = \"/nonexistent/pelt/x.lua\"\n" + std::string(kMinimal)) ==
        "t.toml:1:10: script not found: /nonexistent/pelt/x.lua");
  fs::remove_all(dir);
}

TEST_CASE("expand_vars handles the VAR and VAR:-default forms", "[config]") {
  const std::map<std::string, std::string> vars = {
      {"HOST", "10.0.0.1"}, {"EMPTY", ""}, {"PORT", "9000"}};
  CHECK(expand("plain text", vars) == "plain text");
  CHECK(expand("http://${HOST}:${PORT}/", vars) == "http://10.0.0.1:9000/");
  CHECK(expand("${MISSING_PELT_VAR:-fallback}", vars) == "fallback");
  CHECK(expand("${HOST:-fallback}", vars) == "10.0.0.1");
  CHECK(expand("[${EMPTY}]", vars) == "[]");                          // set but empty
  CHECK(expand("${EMPTY:-used}", vars) == "used");                    // :- also covers empty values
  CHECK(expand("${MISSING_PELT_VAR:-}", vars) == "");                 // empty default
  CHECK(expand("${MISSING_PELT_VAR:-${HOST}}", vars) == "10.0.0.1");  // nested default
  CHECK(expand("${MISSING_PELT_VAR:-a${MISSING_PELT_2:-b}c}d", vars) == "abcd");
  CHECK(expand("cost: $5, $${HOST}, $", vars) == "cost: $5, ${HOST}, $");  // $${ is literal
  CHECK(expand("${A:-x}", {{"A", "y"}}) == "y");

  size_t pos = 0;
  std::string error;
  CHECK(expand("url=${MISSING_PELT_VAR}", vars, &pos, &error) == "<error>");
  CHECK(pos == 4);
  CHECK(error ==
        "${MISSING_PELT_VAR} is not set: pass -e MISSING_PELT_VAR=VALUE, export it, or give a "
        "default with ${MISSING_PELT_VAR:-VALUE}");
  CHECK(expand("ab${HOST", vars, &pos, &error) == "<error>");
  CHECK(pos == 2);
  CHECK(error == "unterminated ${HOST: add the closing }");
  CHECK(expand("${1X}", vars, &pos, &error) == "<error>");
  CHECK(pos == 2);
  CHECK(expand("${}", vars, &pos, &error) == "<error>");
  CHECK(pos == 2);
  CHECK(expand("${HOST-x}", vars, &pos, &error) == "<error>");
  CHECK(pos == 6);
  CHECK(error == "bad ${HOST...}: write ${HOST} or ${HOST:-default}");
  CHECK(expand("${X:-${MISSING_PELT_VAR}}", vars, &pos, &error) == "<error>");
  CHECK(pos == 5);
}

TEST_CASE("vars given with -e win over the environment", "[config]") {
  ::setenv("PELT_CONFIG_TEST_HOST", "from-env", 1);
  const std::string text =
      "[target]\nurl = \"http://${PELT_CONFIG_TEST_HOST}:1/\"\n" + std::string(kMinimal);
  RunConfig config;
  REQUIRE(load(text, config) == "");
  CHECK(config.target.url == "http://from-env:1/");
  REQUIRE(load(text, config, {{"PELT_CONFIG_TEST_HOST", "from-e"}}) == "");
  CHECK(config.target.url == "http://from-e:1/");
  ::unsetenv("PELT_CONFIG_TEST_HOST");
  CHECK(load_error(text) ==
        "t.toml:2:15: ${PELT_CONFIG_TEST_HOST} is not set: pass -e PELT_CONFIG_TEST_HOST=VALUE, "
        "export it, or give a default with ${PELT_CONFIG_TEST_HOST:-VALUE}");
}

TEST_CASE("a failed load leaves the output untouched", "[config]") {
  RunConfig config;
  config.source = "keep";
  config.scenarios.resize(3);
  std::string error;
  CHECK_FALSE(
      pelt::load_run_config("[scenarios.a]\nexecutor = 1\n", "t.toml", "", {}, config, error));
  CHECK(error == "t.toml:2:12: scenarios.a.executor must be a string, not an integer");
  CHECK(config.source == "keep");
  CHECK(config.scenarios.size() == 3);
  CHECK_FALSE(pelt::load_run_config_file("/nonexistent/pelt/x.toml", {}, config, error));
  CHECK(error == "/nonexistent/pelt/x.toml: cannot open the scenario file");
}

TEST_CASE("bad files give file:line:col messages", "[config]") {
  struct Case {
    const char* file;           // under test/data/config
    const char* where_and_msg;  // expected message after the file name
  };
  const std::vector<Case> cases = {
      {"bad-syntax.toml", ":3:11: Error while parsing key-value pair: expected value, saw '\\n'"},
      {"bad-unknown-key.toml",
       ":3:1: unknown key \"tiemout\" in [target] (did you mean \"timeout\"?); allowed keys: url, "
       "timeout, method, path, body, headers, insecure, cacert, http, streams, h2c"},
      {"bad-top-key.toml",
       ":4:2: unknown key \"scenario\" at the top level (did you mean \"scenarios\"?); allowed "
       "keys: script, target, metrics, scenarios, thresholds, outputs, execution, observe"},
      {"bad-type.toml", ":3:12: target.insecure must be true or false, not a string"},
      {"bad-duration.toml",
       ":4:12: bad duration \"10x\" for scenarios.a.duration: use a number with a unit (us, ms, "
       "s, m, h), e.g. \"30s\" or \"1m30s\", or a number of seconds"},
      {"bad-negative-duration.toml", ":4:14: scenarios.a.start_time must not be negative, got -5"},
      {"bad-unset-var.toml",
       ":2:15: ${PELT_CONFIG_TEST_UNSET_HOST} is not set: pass -e "
       "PELT_CONFIG_TEST_UNSET_HOST=VALUE, export it, or give a default with "
       "${PELT_CONFIG_TEST_UNSET_HOST:-VALUE}"},
      {"bad-var-syntax.toml", ":3:16: unterminated ${ID: add the closing }"},
      {"bad-executor.toml",
       ":2:12: unknown executor \"constant-vu\" (did you mean \"constant-vus\"?); use one of "
       "constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, "
       "per-vu-iterations, shared-iterations, capacity-search"},
      {"bad-executor-key.toml",
       ":3:1: key \"rate\" does not apply to executor ramping-vus (it is for "
       "constant-arrival-rate); ramping-vus takes start_vus, stages, graceful_ramp_down and the "
       "common keys executor, start_time, graceful_stop, think_time, script, headers, method, "
       "path, body, tags"},
      {"bad-missing-executor.toml",
       ":1:1: scenario \"browse\" has no executor: add executor = \"...\", one of constant-vus, "
       "ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations, "
       "shared-iterations, capacity-search"},
      {"bad-missing-duration.toml",
       ":1:1: scenario \"steady\" (constant-vus) needs duration, e.g. duration = \"30s\""},
      {"bad-max-vus.toml",
       ":6:11: scenarios.issue.max_vus (10) must be at least pre_allocated_vus (50)"},
      {"bad-max-vus-zero.toml",
       ":6:11: scenarios.issue.max_vus (0) must be at least pre_allocated_vus (50)"},
      {"bad-ramping-no-vus.toml",
       ":4:10: scenario \"ramp\" never runs a VU: start_vus and every stage target are 0; raise "
       "start_vus or a target"},
      {"bad-threshold-expected.toml",
       ":6:1: bad tag filter in \"http_req_duration{expected_response:yes}\": expected_response "
       "must be true or false, not 'yes'"},
      {"bad-no-stages.toml",
       ":4:10: scenarios.ramp.stages must be a non-empty array of stages, e.g. [{ duration = "
       "\"30s\", target = 10 }]"},
      {"bad-stage-target.toml",
       ":5:32: scenarios.ramp.stages[1].target must not be negative, got -1"},
      {"bad-stage-key.toml",
       ":3:31: unknown key \"traget\" in scenarios.ramp.stages[0] (did you mean \"target\"?); "
       "allowed keys: duration, target"},
      {"bad-no-scenarios.toml",
       ":1:1: no scenarios: add a [scenarios.NAME] table with an executor, e.g. executor = "
       "\"constant-vus\""},
      {"bad-rate.toml", ":3:8: scenarios.steady.rate must be above 0"},
      {"bad-vus-zero.toml", ":3:7: scenarios.a.vus must be at least 1, got 0"},
      {"bad-shared-iterations.toml",
       ":4:14: scenarios.batch.iterations (5) must be at least vus (10)"},
      {"bad-think-time.toml", ":4:34: scenarios.a.think_time.max is less than min"},
      {"bad-url.toml",
       ":2:7: target.url must start with http:// or https://, got \"ftp://127.0.0.1/\""},
      {"bad-header.toml",
       ":3:13: bad header name \"Bad Header\" in target.headers: use letters, digits and -"},
      {"bad-metrics-listen.toml",
       ":6:10: metrics.listen must be HOST:PORT, e.g. \"127.0.0.1:9464\", got \"localhost\""},
      {"bad-buckets.toml", ":6:17: metrics.buckets must be positive and strictly increasing"},
      {"bad-threshold-metric.toml",
       ":6:1: unknown metric \"http_req_duraton\" in [thresholds] (did you mean "
       "\"http_req_duration\"?); metrics: http_reqs, http_req_duration, http_req_failed, "
       "http_req_connecting, http_req_tls_handshaking, http_req_waiting, http_req_blocked, "
       "http_req_sending, http_req_receiving, service_time, send_lag, checks, iterations, "
       "iteration_duration, dropped_iterations, interrupted_iterations, data_received, "
       "data_sent, vus, vus_max"},
      {"bad-threshold-tag.toml",
       ":6:1: unknown tag \"nme\" in \"http_req_duration{nme:issue}\" (did you mean \"name\"?); "
       "tags: scenario, name, method, status, stage, expected_response"},
      {"bad-tag-name.toml",
       ":5:24: bad tag name \"team-name\" in scenarios.a.tags: a tag is a Prometheus label, so "
       "use letters, digits and _, not starting with a digit or __"},
      {"bad-tag-reserved.toml",
       ":7:1: tag \"status\" in scenarios.a.tags is a label pelt sets itself; pick another name"},
      {"bad-threshold-abort.toml",
       ":6:63: thresholds.\"http_req_failed\".abort_on_fail must be true or false, not a "
       "string"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    CHECK(file_error(c.file) == kDataDir + "/" + c.file + c.where_and_msg);
  }
  // The resolved path is shown, so the user sees where pelt looked.
  const std::string missing = kDataDir + "/bad-missing-script.toml";
  CHECK(file_error("bad-missing-script.toml") ==
        missing + ":1:10: script not found: " + kDataDir + "/no-such-script.lua");
  // Every bad file in the directory has its expected message here (or in the next test case).
  std::set<std::string> covered = {"bad-threshold.toml", "bad-threshold-aggregation.toml",
                                   "bad-missing-script.toml"};
  for (const auto& c : cases) covered.insert(c.file);
  for (const auto& entry : fs::directory_iterator(kDataDir)) {
    const std::string name = entry.path().filename().string();
    INFO(name);
    if (name.starts_with("bad-")) CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("bad threshold expressions point inside the string", "[config]") {
  // The message text comes from the threshold parser; the column is the string's column + 1 +
  // the parser's offset ("p(95<200": the missing ")" at offset 4).
  pelt::ThresholdExpr expr;
  std::string message;
  size_t pos = 0;
  REQUIRE_FALSE(pelt::parse_threshold("p(95<200", expr, message, pos));
  REQUIRE(pos == 4);
  CHECK(file_error("bad-threshold.toml") ==
        kDataDir + "/bad-threshold.toml:6:41: bad threshold \"p(95<200\" for http_req_duration: " +
            message);

  REQUIRE(pelt::parse_threshold("p(95)<200", expr, message, pos));
  REQUIRE_FALSE(pelt::check_metric_aggregation("http_req_failed", expr, message));
  CHECK(file_error("bad-threshold-aggregation.toml") ==
        kDataDir + "/bad-threshold-aggregation.toml:6:20: threshold \"p(95)<200\" for " +
            "http_req_failed: " + message);
}

TEST_CASE("more validation messages", "[config]") {
  const std::string a = "[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"1s\"\n";
  CHECK(load_error(a + "vuss = 3\n") ==
        "t.toml:4:1: unknown key \"vuss\" in [scenarios.a] (did you mean \"vus\"?); allowed "
        "keys: executor, start_time, graceful_stop, think_time, script, headers, method, path, "
        "body, tags, vus, duration");
  CHECK(load_error(a + "method = \"GE T\"\n") ==
        "t.toml:4:10: bad method \"GE T\" for scenarios.a.method: use a name such as GET or POST");
  CHECK(load_error(a + "path = \"items\"\n") ==
        "t.toml:4:8: scenarios.a.path must start with \"/\", got \"items\"");
  CHECK(load_error(a + "vus = 2.5\n") ==
        "t.toml:4:7: scenarios.a.vus must be a whole number, not a float");
  CHECK(load_error(a + "think_time = { min = \"1s\" }\n") ==
        "t.toml:4:14: scenarios.a.think_time needs both min and max, e.g. { min = \"0.2s\", max "
        "= \"1s\" }");
  CHECK(load_error("[scenarios.\"a b\"]\nexecutor = \"constant-vus\"\n") ==
        "t.toml:1:12: bad scenario name \"a b\": use letters, digits, _ and -");
  CHECK(load_error("[scenarios]\n") ==
        "t.toml:1:1: no scenarios: add a [scenarios.NAME] table with an executor, e.g. executor "
        "= \"constant-vus\"");
  CHECK(
      load_error("[scenarios.r]\nexecutor = \"constant-arrival-rate\"\nrate = 5\nduration = 1\n") ==
      "t.toml:1:1: scenario \"r\" (constant-arrival-rate) needs pre_allocated_vus, e.g. "
      "pre_allocated_vus = 10");
  CHECK(load_error("[scenarios.r]\nexecutor = \"ramping-vus\"\n") ==
        "t.toml:1:1: scenario \"r\" (ramping-vus) needs stages, e.g. stages = [{ duration = "
        "\"30s\", target = 10 }]");
  CHECK(load_error(a + "duration = 0\n").starts_with("t.toml:"));  // duplicate key (toml++)
  CHECK(load_error("[scenarios.a]\nexecutor = \"constant-vus\"\nduration = 0\n") ==
        "t.toml:3:12: scenarios.a.duration must be above 0");
  CHECK(load_error(std::string(kMinimal) + "[thresholds]\nhttp_req_failed = 5\n") ==
        "t.toml:6:19: thresholds for http_req_failed must be an array of expressions, e.g. "
        "[\"p(95)<500\"] ([] shows the metric in the summary without a threshold)");
  CHECK(load_error(std::string(kMinimal) + "[thresholds]\nchecks = [{ abort_on_fail = true }]\n") ==
        "t.toml:6:11: threshold table for checks needs threshold = \"...\", e.g. { threshold = "
        "\"p(99)<500\", abort_on_fail = true }");
  CHECK(load_error(std::string(kMinimal) + "[thresholds]\n\"http_req_duration{name}\" = "
                                           "[\"p(95)<1\"]\n") ==
        "t.toml:6:1: bad tag filter \"name\" in \"http_req_duration{name}\": write tag:value, "
        "e.g. name:issue");
  // Threshold filters may name the scenarios' own tags; the message lists them.
  const std::string tagged = a + "tags = { team = \"web\", tier = \"free\" }\n";
  RunConfig config;
  CHECK(load(tagged + "[thresholds]\n\"http_req_duration{team:web}\" = [\"p(95)<1\"]\n", config) ==
        "");
  REQUIRE(config.thresholds.size() == 1);
  CHECK(config.thresholds[0].tags == std::map<std::string, std::string>{{"team", "web"}});
  CHECK(load_error(tagged + "[thresholds]\n\"http_req_duration{taem:web}\" = [\"p(95)<1\"]\n") ==
        "t.toml:6:1: unknown tag \"taem\" in \"http_req_duration{taem:web}\" (did you mean "
        "\"team\"?); tags: scenario, name, method, status, stage, expected_response; the "
        "scenarios' tags: team, tier");
  CHECK(load_error(tagged + "[thresholds]\n\"send_lag{team:web}\" = [\"p(95)<1\"]\n") ==
        "t.toml:6:1: bad tag filter in \"send_lag{team:web}\": metric 'send_lag' cannot be "
        "filtered by tag 'team'");
  CHECK(load_error(tagged + "[thresholds]\n\"checks{team:web}\" = [\"rate>0.9\"]\n")
            .starts_with("t.toml:6:1: unknown tag \"team\" in \"checks{team:web}\""));
  // URL problems beyond the scheme and host come from the URL parser the run uses.
  pelt::Url url;
  std::string url_error;
  REQUIRE_FALSE(pelt::parse_url("http://127.0.0.1:99999/", url, url_error));
  CHECK(load_error("[target]\nurl = \"http://127.0.0.1:99999/\"\n" + std::string(kMinimal)) ==
        "t.toml:2:7: target.url: " + url_error);
  CHECK(load_error("[target]\nurl = \"http:///x\"\n" + std::string(kMinimal)) ==
        "t.toml:2:7: target.url has no host: \"http:///x\"");
  // ${VAR} errors inside a scenario value point at the "$".
  CHECK(load_error(a + "body = '{\"id\": ${PELT_CONFIG_TEST_NOPE}}'\n")
            .starts_with("t.toml:4:16: ${PELT_CONFIG_TEST_NOPE} is not set"));
}

TEST_CASE("a key of thousands of dotted parts is refused before the parser recurses", "[config]") {
  std::string deep = "[target]\nurl = \"http://127.0.0.1:1/\"\n[scenarios.a]\nexecutor = \"constant-vus\"\n"
                     "duration = \"1s\"\n";
  std::string key = "x";
  for (int i = 0; i < 100000; ++i) key += ".x";
  pelt::RunConfig out;
  std::string error;
  CHECK_FALSE(pelt::load_run_config(deep + key + " = 1\n", "deep.toml", ".", {}, out, error));
  CHECK(error == "deep.toml:6:257: a key with more than 128 dotted parts: nest tables instead");
  // The same in a table header, and with quoted parts.
  std::string header = "[\"a\"";
  for (int i = 0; i < 200; ++i) header += ". 'b'";
  CHECK_FALSE(pelt::load_run_config(deep + header + "]\n", "deep.toml", ".", {}, out, error));
  CHECK_THAT(error, Catch::Contains("more than 128 dotted parts"));
  // Dots elsewhere are no keys: floats, dates, strings, comments.
  uint32_t line = 0, column = 0;
  std::string message;
  CHECK(pelt::check_key_depth("a.b.c = 1.5\nd = 2024-01-01T10:00:00.123Z\ne = \"x.y.z\" # a.b.c\n",
                              3, line, column, message));
  CHECK_FALSE(pelt::check_key_depth("a.b.c.d = 1\n", 3, line, column, message));
  CHECK(line == 1);
  CHECK(column == 7);
}

TEST_CASE("[execution] segment names this instance's part of the plan", "[config]") {
  const std::string scenario = "[scenarios.a]\nexecutor = \"constant-vus\"\nvus = 4\nduration = \"1s\"\n";
  RunConfig config;
  CHECK(load("[execution]\nsegment = \"${SEG:-2/4}\"\n" + scenario, config) == "");
  CHECK(config.execution.segment == "2/4");
  CHECK(load(scenario, config) == "");
  CHECK(config.execution.segment.empty());
  CHECK(load_error("[execution]\nsegment = \"4/4\"\n" + scenario) ==
        "t.toml:2:11: execution.segment \"4/4\": I must be below N (I is 0-based: 0/4 .. 3/4)");
  CHECK(load_error("[execution]\nsegment = 3\n" + scenario).find("t.toml:2:11: execution.segment must be a string") == 0);
  CHECK(load_error("[execution]\nsegments = \"0/2\"\n" + scenario).find("t.toml:2:1: unknown key \"segments\" in [execution]") == 0);
}

TEST_CASE("the plan's identity ignores what differs between a fleet's instances", "[config]") {
  const std::string scenario = "[scenarios.a]\nexecutor = \"constant-vus\"\nvus = 4\nduration = \"1s\"\n";
  RunConfig a, b, c, d;
  REQUIRE(load("[execution]\nsegment = \"0/2\"\n[metrics]\nlisten = \"127.0.0.1:9464\"\n" + scenario, a) == "");
  REQUIRE(load("[execution]\nsegment = \"1/2\"\n" + scenario, b) == "");
  REQUIRE(load(scenario + "[thresholds]\nhttp_reqs = [\"count>10\"]\n", c) == "");
  REQUIRE(load("[target]\nurl = \"http://127.0.0.1:${PORT}/\"\n" + scenario, d, {{"PORT", "81"}}) == "");
  const std::string id = pelt::plan_identity(a);
  CHECK(id.size() == 64);
  CHECK(id == pelt::plan_identity(b));
  CHECK(id != pelt::plan_identity(c));
  RunConfig d2;
  REQUIRE(load("[target]\nurl = \"http://127.0.0.1:${PORT}/\"\n" + scenario, d2, {{"PORT", "82"}}) == "");
  CHECK(pelt::plan_identity(d) != pelt::plan_identity(d2));  // expanded values count
}

TEST_CASE("[target] http, streams and h2c", "[config]") {
  const std::string scenario = "\n[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"1s\"\n";
  RunConfig c;
  CHECK(load("[target]\nurl = \"https://127.0.0.1:1/\"\nhttp = \"2\"\nstreams = 10\n" + scenario, c)
            .empty());
  CHECK(c.target.http == pelt::HttpVersion::kHttp2);
  CHECK(c.target.streams == 10);
  RunConfig d;
  CHECK(load("[target]\nh2c = true\nurl = \"http://127.0.0.1:1/\"\n" + scenario, d).empty());
  CHECK(d.target.http == pelt::HttpVersion::kHttp2);
  CHECK(d.target.streams == 1);
  RunConfig e;
  CHECK(load("[target]\nurl = \"http://127.0.0.1:1/\"\nhttp = \"auto\"\n" + scenario, e).empty());
  CHECK(e.target.http == pelt::HttpVersion::kAuto);
  CHECK(load_error("[target]\nurl = \"http://127.0.0.1:1/\"\nhttp = \"3\"\n" + scenario) ==
        "t.toml:3:8: target.http must be \"1.1\", \"2\" or \"auto\", got \"3\"");
  CHECK(load_error("[target]\nurl = \"http://127.0.0.1:1/\"\nstreams = 0\n" + scenario) ==
        "t.toml:3:11: target.streams must be at least 1, got 0");
  CHECK(load_error("[target]\nurl = \"https://127.0.0.1:1/\"\nh2c = true\n" + scenario) ==
        "t.toml:3:7: target.h2c = true is cleartext HTTP/2 and needs an http:// url; over "
        "https, http = \"2\" negotiates h2 by ALPN");
  CHECK(load_error("[target]\nurl = \"http://127.0.0.1:1/\"\nh2c = true\nhttp = \"1.1\"\n" +
                   scenario) ==
        "t.toml:3:7: target.h2c = true is HTTP/2: it cannot go with http = \"1.1\"");
}

TEST_CASE("threshold keys: quotes around tag values go, as in k6; [] declares a sub-metric",
          "[config]") {
  RunConfig config;
  REQUIRE(load(std::string(kMinimal) +
                   "[thresholds]\n"
                   "'http_req_duration{method:\"GET\"}' = [\"p(95)<1\"]\n"
                   "\"http_req_duration{name:'checkout', scenario : \\\"a\\\" }\" = [\"p(95)<1\"]\n"
                   "'http_reqs{\"status\":\"404\"}' = []\n"
                   "'http_reqs{ status : 404 }' = [\"count<1\"]\n",
               config) == "");
  REQUIRE(config.thresholds.size() == 3);
  CHECK(config.thresholds[0].tags == std::map<std::string, std::string>{{"method", "GET"}});
  CHECK(config.thresholds[1].tags ==
        std::map<std::string, std::string>{{"name", "checkout"}, {"scenario", "a"}});
  CHECK(config.thresholds[2].tags == std::map<std::string, std::string>{{"status", "404"}});
  CHECK(config.thresholds[2].expression == "count<1");
  // Every key declares a sub-metric; keys with the same filters declare it once.
  REQUIRE(config.submetrics.size() == 3);
  CHECK(config.submetrics[0].key == "http_req_duration{method:\"GET\"}");
  CHECK(config.submetrics[2].metric == "http_reqs");
  CHECK(config.submetrics[2].key == "http_reqs{\"status\":\"404\"}");
  CHECK(config.submetrics[2].tags == std::map<std::string, std::string>{{"status", "404"}});
}

TEST_CASE("executors: k6's defaults and what k6 rejects", "[config]") {
  RunConfig config;
  // start_vus defaults to 1, as in k6.
  REQUIRE(load("[scenarios.r]\nexecutor = \"ramping-vus\"\nstages = [{ duration = \"10s\", "
               "target = 0 }]\n",
               config) == "");
  CHECK(config.scenarios[0].start_vus == 1);
  // start_vus 0 and every target 0: never a VU.
  CHECK(load_error("[scenarios.r]\nexecutor = \"ramping-vus\"\nstart_vus = 0\nstages = [{ "
                   "duration = \"10s\", target = 0 }, { duration = \"5s\", target = 0 }]\n") ==
        "t.toml:4:10: scenario \"r\" never runs a VU: start_vus and every stage target are 0; "
        "raise start_vus or a target");
  CHECK(load("[scenarios.r]\nexecutor = \"ramping-vus\"\nstart_vus = 0\nstages = [{ duration = "
             "\"10s\", target = 0 }, { duration = \"5s\", target = 3 }]\n",
             config) == "");
  // max_vus = 0 written out is below pre_allocated_vus, not "unset".
  CHECK(load_error("[scenarios.o]\nexecutor = \"constant-arrival-rate\"\nrate = 10\nduration = "
                   "\"1s\"\npre_allocated_vus = 5\nmax_vus = 0\n") ==
        "t.toml:6:11: scenarios.o.max_vus (0) must be at least pre_allocated_vus (5)");
  REQUIRE(load("[scenarios.o]\nexecutor = \"constant-arrival-rate\"\nrate = 10\nduration = "
               "\"1s\"\npre_allocated_vus = 5\n",
               config) == "");
  CHECK(config.scenarios[0].max_vus == 0);  // unset: the plan uses pre_allocated_vus
}

TEST_CASE("threshold filters: with a script, any tag may be a request's own", "[config]") {
  const std::string text = std::string("script = \"counter.lua\"\n") + kMinimal +
                           "[thresholds]\n\"http_req_duration{kind:api}\" = [\"p(95)<1\"]\n"
                           "\"http_reqs{kind:'page',expected_response:true}\" = []\n";
  RunConfig config;
  CHECK(load(text, config, {}, std::string(PELT_TEST_DATA_DIR) + "/lua") == "");
  REQUIRE(config.thresholds.size() == 1);
  CHECK(config.thresholds[0].tags == std::map<std::string, std::string>{{"kind", "api"}});
  REQUIRE(config.submetrics.size() == 2);
  CHECK(config.submetrics[1].tags ==
        std::map<std::string, std::string>{{"expected_response", "true"}, {"kind", "page"}});
  // Without a script no request carries tags of its own: an unknown tag is a mistake.
  CHECK(load_error(std::string(kMinimal) +
                   "[thresholds]\n\"http_req_duration{kind:api}\" = [\"p(95)<1\"]\n")
            .starts_with("t.toml:6:1: unknown tag \"kind\""));
}
