// Renders web/page.html with the assets cmake/embed_web.cmake compiled in (web_assets.h).
#include "results/html_report.h"

#include <map>
#include <string_view>

#include "web_assets.h"

namespace pelt {
namespace {

// The app's scripts, in the order they must run (later files use earlier ones).
constexpr const char* kAppScripts[] = {kWebJsFormat,   kWebJsDom,     kWebJsCharts,   kWebJsModel,
                                       kWebJsSections, kWebJsDetails, kWebJsCapacity, kWebJsCompare,
                                       kWebJsLive,     kWebJsMain};

// Replaces every {{NAME}} in `page` whose NAME is in `values`; inserted text is not rescanned.
std::string fill_template(std::string_view page, const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(page.size());
  size_t pos = 0;
  while (pos < page.size()) {
    const size_t open = page.find("{{", pos);
    const size_t close = open == std::string_view::npos ? open : page.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(page.substr(pos));
      break;
    }
    const auto it = values.find(std::string(page.substr(open + 2, close - open - 2)));
    out.append(page.substr(pos, open - pos));
    if (it != values.end()) {
      out += it->second;
    } else {
      out.append(page.substr(open, close + 2 - open));
    }
    pos = close + 2;
  }
  return out;
}

std::string render_page(const std::string& mode, const std::string& title,
                        const std::string& data_json) {
  std::string styles = "<style>\n";
  styles += kChartLibCss;
  styles += "\n</style>\n<style>\n";
  styles += kWebAppCss;
  styles += "</style>";

  std::string scripts = "<script type=\"application/json\" id=\"pelt-data\">";
  scripts += data_json;
  scripts += "</script>\n<script>\n/* uPlot ";
  scripts += kChartLibVersion;
  scripts += ", embedded under its license:\n";
  scripts += kChartLibLicense;
  scripts += "*/\n";
  scripts += kChartLibJs;
  scripts += "\n</script>\n<script>\n";
  for (const char* script : kAppScripts) {
    scripts += script;
    scripts += "\n";
  }
  scripts += "</script>";

  return fill_template(kWebPageHtml, {{"VERSION", html_escape(PELT_VERSION)},
                                      {"TITLE", html_escape(title)},
                                      {"MODE", mode},
                                      {"CHART_LIB", std::string("uPlot ") + kChartLibVersion},
                                      {"STYLES", styles},
                                      {"SCRIPTS", scripts}});
}

std::string string_field(const nlohmann::json& doc, const char* key) {
  if (!doc.is_object()) return "";
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string json_for_script(const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_report_html(const nlohmann::json& summary) {
  std::string name = string_field(summary, "source");
  if (name.empty() || name == "command line") name = string_field(summary, "target");
  return render_page("report", name.empty() ? "pelt report" : "pelt report: " + name,
                     json_for_script(summary));
}

std::string render_dashboard_html() {
  return render_page("live", "pelt live", "null");
}

std::string render_compare_html(const nlohmann::json& comparison) {
  std::string title = "pelt compare";
  if (comparison.contains("runs") && comparison["runs"].is_array()) {
    std::string names;
    for (const auto& r : comparison["runs"]) {
      if (r.contains("label") && r["label"].is_string()) names += (names.empty() ? "" : " vs ") + r["label"].get<std::string>();
    }
    if (!names.empty()) title += ": " + names;
  }
  return render_page("compare", title, json_for_script(comparison));
}

}  // namespace pelt
