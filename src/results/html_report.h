// The HTML report (`pelt report`, one self-contained file) and the live dashboard's page. Both
// are the same page: web/page.html with the styles, the chart library and the app from web/
// inlined; the report also carries the summary document as JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pelt {

// One HTML file that opens without network access: CSS, chart library, app and `summary`
// (a pelt.summary/v1 or v2 document) all inline.
std::string render_report_html(const nlohmann::json& summary);

// The live dashboard's page: the same app in live mode; it loads /api/summary and /events.
std::string render_dashboard_html();

// `pelt compare --html`: the same app in compare mode, with `comparison` (a pelt.compare/v1
// document, results/compare.h) inline.
std::string render_compare_html(const nlohmann::json& comparison);

// `value` as JSON that is safe inside <script type="application/json">: '<', '>' and '&'
// (and U+2028/U+2029) are written as \u escapes, so no string can end the element or open a
// comment. Invalid UTF-8 is replaced by U+FFFD.
std::string json_for_script(const nlohmann::json& value);

// Text escaped for HTML element content and attribute values.
std::string html_escape(const std::string& text);

}  // namespace pelt
