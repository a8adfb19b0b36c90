#include "results/junit.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace pelt {
namespace {

using nlohmann::json;

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the UTF-8 sequence starting at text[i] and its code point; 0 when invalid.
size_t decode_utf8(const std::string& text, size_t i, uint32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  cp = len == 1 ? c : c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// XML 1.0's Char production.
bool xml_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

std::string str(const json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

double num(const json& doc, const char* key) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_number() ? it->get<double>() : 0.0;
}

uint64_t count(const json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_number()) return 0;
  const double v = it->get<double>();
  return v > 0 ? static_cast<uint64_t>(std::llround(v)) : 0;
}

const json kEmpty = json::object();

bool flag(const json& doc, const char* key, bool fallback) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

const json& field(const json& doc, const char* key) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? *it : kEmpty;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// "2025-12-06T05:46:40.000Z" -> "2025-12-06T05:46:40" (the form JUnit readers expect).
std::string junit_timestamp(const std::string& iso) {
  if (iso.size() < 19 || iso[10] != 'T') return "";
  return iso.substr(0, 19);
}

std::string attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + xml_escape(value) + "\"";
}

std::string property(const std::string& name, const std::string& value) {
  return "      <property" + attr("name", name) + attr("value", value) + "/>\n";
}

struct Cases {
  std::string xml;      // the <testcase> elements
  size_t tests = 0;     // testcases
  size_t failures = 0;  // testcases with a <failure>
  size_t skipped = 0;   // testcases with <skipped>
};

void add_thresholds(const json& doc, Cases& out) {
  const auto it = doc.find("thresholds");
  if (it == doc.end() || !it->is_array()) return;
  for (const json& t : *it) {
    if (!t.is_object()) continue;
    std::string metric = str(t, "key");
    if (metric.empty()) metric = str(t, "metric");
    const std::string expr = str(t, "expression");
    const bool ok = flag(t, "ok", true);
    const bool has_data = flag(t, "has_data", true);
    std::string observed = str(t, "text");
    if (observed.empty()) observed = str(t, "observed");
    ++out.tests;
    out.xml += "    <testcase" + attr("classname", "pelt.thresholds") +
               attr("name", metric + " " + expr) + attr("time", "0") + ">\n";
    if (!ok) {
      ++out.failures;
      out.xml += "      <failure" + attr("type", "threshold crossed") +
                 attr("message", observed + " crossed " + expr) + ">" +
                 xml_escape("metric: " + metric + "\nthreshold: " + expr +
                            "\nobserved: " + observed + " (value " + str(t, "observed") + ")" +
                            (flag(t, "abort_on_fail", false) ? "\nabort_on_fail: true" : "")) +
                 "</failure>\n";
    } else if (!has_data) {
      ++out.skipped;
      out.xml += "      <skipped" + attr("message", "no data for " + metric) + "/>\n";
    }
    out.xml += "    </testcase>\n";
  }
}

void add_checks(const json& doc, Cases& out) {
  const auto it = doc.find("checks");
  if (it == doc.end() || !it->is_array()) return;
  for (const json& c : *it) {
    if (!c.is_object()) continue;
    const uint64_t passes = count(c, "passes"), fails = count(c, "fails");
    ++out.tests;
    out.xml += "    <testcase" + attr("classname", "pelt.checks") + attr("name", str(c, "name")) +
               attr("time", "0") + ">\n";
    if (fails > 0) {
      ++out.failures;
      const std::string counts = std::to_string(fails) + " of " + std::to_string(passes + fails);
      out.xml +=
          "      <failure" + attr("type", "check failed") +
          attr("message", counts + " checks failed") + ">" +
          xml_escape("passes: " + std::to_string(passes) + "\nfails: " + std::to_string(fails)) +
          "</failure>\n";
    }
    out.xml += "    </testcase>\n";
  }
}

std::string properties(const json& doc) {
  std::string out = "    <properties>\n";
  const auto add = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) out += property(name, value);
  };
  for (const char* key : {"version", "run_id", "command_line", "source", "target", "mode",
                          "threads", "started_at", "ended_at", "duration_seconds"}) {
    add(std::string("pelt.") + key, str(doc, key));
  }
  const json& metrics = field(doc, "metrics");
  add("pelt.http_reqs", std::to_string(count(field(metrics, "http_reqs"), "count")));
  add("pelt.http_req_failed.rate", fixed(num(field(metrics, "http_req_failed"), "rate"), 6));
  const json& dur = field(metrics, "http_req_duration");
  for (const char* p : {"med", "p95", "p99"}) {
    add(std::string("pelt.http_req_duration.") + p + "_ms", fixed(num(dur, p), 3));
  }
  const json& ledger = field(doc, "ledger");
  for (const char* key : {"sent", "completed", "failed", "timed_out", "in_flight"}) {
    add(std::string("pelt.ledger.") + key, std::to_string(count(ledger, key)));
  }
  const auto bp = doc.find("breaking_point");
  if (bp != doc.end() && bp->is_object()) {
    add("pelt.breaking_point", str(*bp, "scenario") + " stage " +
                                   std::to_string(count(*bp, "stage") + 1) + ": " +
                                   str(*bp, "description"));
  }
  if (flag(doc, "interrupted", false)) add("pelt.interrupted", "true");
  if (flag(doc, "aborted", false)) add("pelt.aborted", str(doc, "abort_reason"));
  return out + "    </properties>\n";
}

std::string system_out(const json& doc) {
  const json& metrics = field(doc, "metrics");
  const json& ledger = field(doc, "ledger");
  const json& failed = field(metrics, "http_req_failed");
  std::string text = "requests: " + std::to_string(count(field(metrics, "http_reqs"), "count")) +
                     ", failed: " + std::to_string(count(failed, "fails")) + " (" +
                     fixed(100.0 * num(failed, "rate"), 2) +
                     "%), p95: " + fixed(num(field(metrics, "http_req_duration"), "p95"), 3) +
                     " ms\n";
  text += "ledger: sent " + std::to_string(count(ledger, "sent")) + " = completed " +
          std::to_string(count(ledger, "completed")) + " + failed " +
          std::to_string(count(ledger, "failed")) + " + timed out " +
          std::to_string(count(ledger, "timed_out")) + " + in flight " +
          std::to_string(count(ledger, "in_flight")) + "\n";
  return "    <system-out>" + xml_escape(text) + "</system-out>\n";
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(text, i, cp);
    if (len == 0 || !xml_char(cp)) {
      out += kReplacement;
      i += len == 0 ? 1 : len;
      continue;
    }
    switch (cp) {
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
        out += "&apos;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out.append(text, i, len);
    }
    i += len;
  }
  return out;
}

std::string render_junit_xml(const json& summary) {
  const json& doc = summary.is_object() ? summary : kEmpty;
  Cases cases;
  add_thresholds(doc, cases);
  add_checks(doc, cases);
  std::string name = str(doc, "source");
  if (name.empty() || name == "command line") name = str(doc, "target");
  const std::string time = fixed(num(doc, "duration_seconds"), 3);
  const std::string counts = attr("tests", std::to_string(cases.tests)) +
                             attr("failures", std::to_string(cases.failures)) + attr("errors", "0");
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites" + attr("name", "pelt") + counts + attr("time", time) + ">\n";
  xml += "  <testsuite" + attr("name", "pelt: " + name) + counts +
         attr("skipped", std::to_string(cases.skipped)) + attr("time", time);
  const std::string stamp = junit_timestamp(str(doc, "started_at"));
  if (!stamp.empty()) xml += attr("timestamp", stamp);
  xml += attr("id", "0") + attr("package", "pelt") + ">\n";
  xml += properties(doc);
  xml += cases.xml;
  xml += system_out(doc);
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

}  // namespace pelt
