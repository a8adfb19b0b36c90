#include "results/html_report.h"

#include <catch2/catch.hpp>
#include <string>

namespace pelt {
namespace {

using nlohmann::json;

const std::string kDataOpen = "<script type=\"application/json\" id=\"pelt-data\">";

// The text of the data element, up to the first "</script" after it (as an HTML parser ends it).
std::string data_block(const std::string& page) {
  const size_t open = page.find(kDataOpen);
  REQUIRE(open != std::string::npos);
  const size_t start = open + kDataOpen.size();
  const size_t end = page.find("</script", start);
  REQUIRE(end != std::string::npos);
  return page.substr(start, end - start);
}

json hostile_doc() {
  return json{{"schema", "pelt.summary/v2"},
              {"source", "x</script><script>alert(1)</script>.toml"},
              {"target", "http://127.0.0.1:8080/?a=1&b=<2>"},
              {"error_samples", {"read: </SCRIPT> <!-- --> & \"quoted\"", "line\u2028sep\u2029"}},
              {"names", {{{"name", "/checkout</script><!--"}, {"requests", 12}}}},
              {"metrics", {{"http_reqs", {{"count", 1000}}}}}};
}

TEST_CASE("report: the data cannot end its script element or open a comment", "[report]") {
  const json doc = hostile_doc();
  const std::string escaped = json_for_script(doc);
  CHECK(escaped.find('<') == std::string::npos);
  CHECK(escaped.find('>') == std::string::npos);
  CHECK(escaped.find('&') == std::string::npos);
  CHECK(escaped.find("\xE2\x80\xA8") == std::string::npos);
  CHECK(escaped.find("\xE2\x80\xA9") == std::string::npos);
  CHECK(json::parse(escaped) == doc);

  const std::string page = render_report_html(doc);
  CHECK(json::parse(data_block(page)) == doc);
}

TEST_CASE("report: invalid UTF-8 in the document does not throw", "[report]") {
  const json doc = {{"schema", "pelt.summary/v1"},
                    {"error_samples", {std::string("bad \xFF\xFE byte")}}};
  const std::string page = render_report_html(doc);
  CHECK(json::parse(data_block(page))["error_samples"][0] == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
}

TEST_CASE("report: one self-contained file", "[report]") {
  const std::string page = render_report_html(hostile_doc());
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("data-mode=\"report\"") != std::string::npos);
  // Every template field is filled.
  for (const char* field : {"{{STYLES}}", "{{SCRIPTS}}", "{{MODE}}", "{{TITLE}}", "{{VERSION}}"}) {
    CHECK(page.find(field) == std::string::npos);
  }
  // Nothing is loaded from elsewhere: no src= attributes, no stylesheet links, no imports.
  CHECK(page.find(" src=") == std::string::npos);
  CHECK(page.find("rel=\"stylesheet\"") == std::string::npos);
  CHECK(page.find("@import") == std::string::npos);
  // The chart library and the app are inline, and the title is escaped.
  CHECK(page.find("var uPlot=") != std::string::npos);
  CHECK(page.find("function render(doc)") != std::string::npos);
  CHECK(page.find("<title>pelt report: "
                  "x&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;.toml</title>") !=
        std::string::npos);
  // Exactly three scripts: the data, the chart library, the app.
  size_t scripts = 0;
  for (size_t at = page.find("<script"); at != std::string::npos; at = page.find("<script", at + 1))
    ++scripts;
  CHECK(scripts == 3);
}

TEST_CASE("report: the dashboard page is the same app in live mode", "[report]") {
  const std::string page = render_dashboard_html();
  CHECK(page.find("data-mode=\"live\"") != std::string::npos);
  CHECK(data_block(page) == "null");
  CHECK(page.find("function startLive(") != std::string::npos);
}

TEST_CASE("report: html_escape", "[report]") {
  CHECK(html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(html_escape("plain") == "plain");
}

}  // namespace
}  // namespace pelt
