#include "cli/report_command.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/runner.h"
#include "results/html_report.h"
#include "results/junit.h"
#include "util/atomic_file.h"

namespace pelt {
namespace {

struct ReportArgs {
  std::string input;       // the summary document, "-" for standard input
  std::string html_path;   // -o: the HTML report, empty when not asked for
  std::string junit_path;  // --junit: the JUnit XML, empty when not asked for
  bool help = false;       // -h / --help
};

// Parses the arguments after "report". Returns false with `error` set.
bool parse_report_args(const std::vector<std::string>& args, ReportArgs& out, std::string& error) {
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string name = a, value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      name = a.substr(0, a.find('='));
      value = a.substr(a.find('=') + 1);
      has_value = true;
    }
    const auto take = [&](std::string& dest) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          error = "option " + name + " needs a file name";
          return false;
        }
        value = args[++i];
      }
      if (value.empty()) {
        error = "option " + name + " needs a file name";
        return false;
      }
      dest = value;
      return true;
    };
    if (name == "-h" || name == "--help") {
      out.help = true;
    } else if (name == "-o" || name == "--output") {
      if (!take(out.html_path)) return false;
    } else if (name == "--junit") {
      if (!take(out.junit_path)) return false;
    } else if (a.size() > 1 && a[0] == '-') {
      error = "unknown option " + a + " for pelt report";
      return false;
    } else if (!out.input.empty()) {
      error = "pelt report takes one summary file, got \"" + out.input + "\" and \"" + a + "\"";
      return false;
    } else {
      out.input = a;
    }
  }
  if (out.help) return true;
  if (out.input.empty()) {
    error = "pelt report needs a summary file: pelt report SUMMARY.json -o REPORT.html";
    return false;
  }
  if (out.html_path.empty() && out.junit_path.empty()) {
    error = "nothing to write: give -o REPORT.html and/or --junit REPORT.xml";
    return false;
  }
  return true;
}

bool read_input(const std::string& path, std::string& text, std::string& error) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
    return true;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  text = ss.str();
  return true;
}

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix.
std::string parse_error_reason(const std::string& what) {
  size_t pos = what.find("column ");
  if (pos != std::string::npos) pos = what.find(": ", pos);
  return pos == std::string::npos ? what : what.substr(pos + 2);
}

}  // namespace

bool is_report_command(const std::vector<std::string>& args) {
  return args.size() > 1 && args[1] == "report";
}

std::string report_usage_text() {
  return "Usage: pelt report SUMMARY.json [-o REPORT.html] [--junit REPORT.xml]\n"
         "\n"
         "Builds reports from a summary written by --summary-json / --json (schema\n"
         "pelt.summary/v1 or v2). '-' reads the summary from standard input.\n"
         "  -o, --output FILE   one self-contained HTML file: charts, thresholds, stages, errors\n"
         "      --junit FILE    JUnit XML for CI: one test case per threshold and per check\n"
         "  -h, --help          print this help\n"
         "\n"
         "Exit codes: 0 written, 2 bad command line or summary, 1 an output could not be "
         "written.\n";
}

bool load_summary_document(const std::string& text, const std::string& label, nlohmann::json& out,
                           std::string& error) {
  try {
    out = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based offset of the character that could not be read.
    size_t line = 1, column = 1;
    const size_t end = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error = label + ":" + std::to_string(line) + ":" + std::to_string(column) +
            ": not JSON: " + parse_error_reason(e.what());
    return false;
  }
  if (!out.is_object()) {
    error = label + ": not a pelt summary (the document is not a JSON object)";
    return false;
  }
  const auto schema = out.find("schema");
  if (schema == out.end() || !schema->is_string()) {
    error = label + ": not a pelt summary (no \"schema\" field; write one with --summary-json)";
    return false;
  }
  const std::string name = schema->get<std::string>();
  if (name != "pelt.summary/v1" && name != "pelt.summary/v2") {
    error = label + ": schema \"" + name +
            "\" is not supported: expected pelt.summary/v1 or pelt.summary/v2";
    return false;
  }
  return true;
}

int run_report_command(const std::vector<std::string>& args) {
  ReportArgs ra;
  std::string error;
  if (!parse_report_args(args, ra, error)) {
    std::fprintf(stderr, "pelt: report: %s\n", error.c_str());
    return kExitUsage;
  }
  if (ra.help) {
    std::fputs(report_usage_text().c_str(), stdout);
    return kExitOk;
  }
  std::string text;
  nlohmann::json doc;
  const std::string label = ra.input == "-" ? "<stdin>" : ra.input;
  if (!read_input(ra.input, text, error) || !load_summary_document(text, label, doc, error)) {
    std::fprintf(stderr, "pelt: report: %s\n", error.c_str());
    return kExitUsage;
  }
  const auto write = [&](const std::string& path, const std::string& content) {
    if (!write_file_atomic(path, content, error)) {
      std::fprintf(stderr, "pelt: report: %s\n", error.c_str());
      return false;
    }
    std::printf("wrote %s (%zu bytes)\n", path.c_str(), content.size());
    return true;
  };
  if (!ra.html_path.empty() && !write(ra.html_path, render_report_html(doc))) return kExitRunFailed;
  if (!ra.junit_path.empty() && !write(ra.junit_path, render_junit_xml(doc))) return kExitRunFailed;
  return kExitOk;
}

}  // namespace pelt
