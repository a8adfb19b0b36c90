#include "results/junit.h"

#include <catch2/catch.hpp>
#include <string>

namespace pelt {
namespace {

using nlohmann::json;

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

json sample() {
  return json::parse(R"({
    "schema": "pelt.summary/v2", "version": "0.1.0", "run_id": "r1", "source": "shop.toml",
    "target": "http://127.0.0.1:8080", "mode": "scenario", "threads": 2,
    "command_line": "pelt run shop.toml", "started_at": "2025-12-06T05:46:40.000Z",
    "duration_seconds": 60.412,
    "thresholds": [
      {"metric": "http_req_duration", "key": "http_req_duration", "expression": "p(95)<300",
       "ok": false, "has_data": true, "observed": 500.736, "text": "p(95)=500.74ms"},
      {"metric": "http_req_failed", "key": "http_req_failed", "expression": "rate<0.05",
       "ok": true, "has_data": true, "observed": 0.04, "text": "rate=4.00%"},
      {"metric": "checks", "key": "checks{check:login}", "expression": "rate>0.9",
       "ok": true, "has_data": false, "observed": 0, "text": "no data"}
    ],
    "checks": [{"name": "status is 200", "passes": 12248, "fails": 461},
               {"name": "has <items> & \"more\"", "passes": 10, "fails": 0}],
    "metrics": {"http_reqs": {"count": 12777}, "http_req_failed": {"rate": 0.0414, "fails": 529},
                "http_req_duration": {"med": 23.1, "p95": 500.736, "p99": 1036.2}},
    "ledger": {"sent": 12814, "completed": 12709, "failed": 45, "timed_out": 23, "in_flight": 37},
    "breaking_point": {"scenario": "shop", "stage": 2, "description": "p(95)=667ms crossed p(95)<300"}
  })");
}

TEST_CASE("junit: a suite with a case per threshold and per check", "[junit]") {
  const std::string xml = render_junit_xml(sample());
  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0) == 0);
  CHECK(occurrences(xml, "<testsuite ") == 1);
  CHECK(occurrences(xml, "<testcase ") == 5);
  CHECK(occurrences(xml, "<failure ") == 2);
  CHECK(occurrences(xml, "<skipped ") == 1);
  CHECK(xml.find("tests=\"5\" failures=\"2\" errors=\"0\" skipped=\"1\" time=\"60.412\"") !=
        std::string::npos);
  CHECK(xml.find("timestamp=\"2025-12-06T05:46:40\"") != std::string::npos);
  // The crossed threshold names the observed value and the expression.
  CHECK(xml.find("name=\"http_req_duration p(95)&lt;300\"") != std::string::npos);
  CHECK(xml.find("message=\"p(95)=500.74ms crossed p(95)&lt;300\"") != std::string::npos);
  // The failed check gives its counts; the passing one has no failure.
  CHECK(xml.find("message=\"461 of 12709 checks failed\"") != std::string::npos);
  CHECK(xml.find("passes: 12248&#10;fails: 461") != std::string::npos);
  CHECK(xml.find("name=\"has &lt;items&gt; &amp; &quot;more&quot;\"") != std::string::npos);
  // Run metadata as properties.
  CHECK(xml.find("<property name=\"pelt.target\" value=\"http://127.0.0.1:8080\"/>") !=
        std::string::npos);
  CHECK(xml.find("<property name=\"pelt.http_reqs\" value=\"12777\"/>") != std::string::npos);
  CHECK(xml.find("<property name=\"pelt.ledger.in_flight\" value=\"37\"/>") != std::string::npos);
  CHECK(xml.find("name=\"pelt.breaking_point\" value=\"shop stage 3: p(95)=667ms crossed "
                 "p(95)&lt;300\"") != std::string::npos);
  CHECK(xml.find("<system-out>") != std::string::npos);
}

TEST_CASE("junit: a run without thresholds or checks is an empty suite", "[junit]") {
  const std::string xml =
      render_junit_xml(json{{"schema", "pelt.summary/v1"}, {"target", "http://h/"}});
  CHECK(occurrences(xml, "<testcase ") == 0);
  CHECK(xml.find("<testsuite name=\"pelt: http://h/\" tests=\"0\" failures=\"0\"") !=
        std::string::npos);
}

TEST_CASE("junit: unexpected field types do not throw", "[junit]") {
  const json doc = json::parse(R"({"thresholds": [{"ok": "yes", "expression": 5}, 3],
                                   "checks": [{"name": 7, "passes": "x", "fails": -1}],
                                   "ledger": [], "metrics": 1, "interrupted": "no"})");
  const std::string xml = render_junit_xml(doc);
  CHECK(occurrences(xml, "<testcase ") == 2);
  CHECK(render_junit_xml(json::array()).find("tests=\"0\"") != std::string::npos);
}

TEST_CASE("junit: xml_escape keeps text well-formed", "[junit]") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(xml_escape("line\nnext\ttab\r") == "line&#10;next&#9;tab&#13;");
  CHECK(xml_escape(std::string("nul\0bell\x07", 9)) ==
        "nul\xEF\xBF\xBD"
        "bell\xEF\xBF\xBD");
  CHECK(xml_escape("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
  CHECK(xml_escape("\xC0\xAF overlong") == "\xEF\xBF\xBD\xEF\xBF\xBD overlong");
  CHECK(xml_escape("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80") ==
        "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  CHECK(xml_escape("\xEF\xBF\xBE") == "\xEF\xBF\xBD");  // U+FFFE is not an XML character
}

}  // namespace
}  // namespace pelt
