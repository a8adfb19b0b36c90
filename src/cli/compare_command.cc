#include "cli/compare_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/report_command.h"
#include "engine/runner.h"
#include "results/compare.h"
#include "results/html_report.h"
#include "util/atomic_file.h"

namespace pelt {
namespace {

struct CompareArgs {
  std::vector<std::string> files;   // the summaries, baseline first
  std::vector<std::string> labels;  // --label, in file order
  std::vector<FailIf> fail_if;      // --fail-if rules
  bool json = false;                // --json: the comparison as JSON on stdout
  std::string html_path;            // --html FILE
  bool help = false;                // -h / --help
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  return out;
}

bool parse_args(const std::vector<std::string>& args, CompareArgs& out, std::string& error) {
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string name = a, value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      name = a.substr(0, a.find('='));
      value = a.substr(a.find('=') + 1);
      has_value = true;
    }
    const auto take = [&](const char* what) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          error = "option " + name + " needs " + what;
          return false;
        }
        value = args[++i];
      }
      if (value.empty()) {
        error = "option " + name + " needs " + what;
        return false;
      }
      return true;
    };
    if (name == "-h" || name == "--help") {
      out.help = true;
    } else if (name == "--label" || name == "-l") {
      if (!take("a name")) return false;
      for (const std::string& l : split_commas(value)) out.labels.push_back(l);
    } else if (name == "--fail-if") {
      if (!take("a rule such as \"p(95) > +10%\"")) return false;
      FailIf f;
      if (!parse_fail_if(value, f, error)) return false;
      out.fail_if.push_back(f);
    } else if (name == "--json") {
      if (has_value) {
        error = "--json takes no value: it prints the comparison as JSON on standard output";
        return false;
      }
      out.json = true;
    } else if (name == "--html") {
      if (!take("a file name")) return false;
      out.html_path = value;
    } else if (a.size() > 1 && a[0] == '-') {
      error = "unknown option " + a + " for pelt compare (see pelt compare --help)";
      return false;
    } else {
      out.files.push_back(a);
    }
  }
  if (out.help) return true;
  if (out.files.size() < 2) {
    error =
        "pelt compare needs at least two summaries: pelt compare BASELINE.json OTHER.json [...]";
    return false;
  }
  if (!out.labels.empty() && out.labels.size() != out.files.size()) {
    error = "--label gives " + std::to_string(out.labels.size()) + " names for " +
            std::to_string(out.files.size()) + " summaries: give one per summary, in order";
    return false;
  }
  return true;
}

bool read_file(const std::string& path, std::string& text, std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  text = ss.str();
  return true;
}

// Labels for runs without --label: the target's host, or the file's name when hosts repeat.
void default_labels(std::vector<CompareInput>& runs) {
  std::vector<std::string> hosts;
  for (const CompareInput& r : runs) hosts.push_back(default_label(r.doc));
  for (size_t i = 0; i < runs.size(); ++i) {
    const bool unique = !hosts[i].empty() && std::count(hosts.begin(), hosts.end(), hosts[i]) == 1;
    runs[i].label = unique ? hosts[i] : std::filesystem::path(runs[i].file).stem().string();
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!seen.insert(runs[i].label).second) runs[i].label += "#" + std::to_string(i + 1);
  }
}

}  // namespace

bool is_compare_command(const std::vector<std::string>& args) {
  return args.size() > 1 && args[1] == "compare";
}

std::string compare_usage_text() {
  return "Usage: pelt compare BASELINE.json OTHER.json [MORE.json ...] [options]\n"
         "\n"
         "Puts summaries written by --summary-json (schema pelt.summary/v2) side by side: req/s,\n"
         "p50/p90/p95/p99/max and error rate of the whole run, per stage where the runs share\n"
         "stages, and the server's columns ([observe]) where present. Each figure gets its change\n"
         "against the first run and a mark: * beyond the runs' own noise, ~ within it (a "
         "bootstrap\n"
         "over each run's seconds; docs/CAPACITY.md).\n"
         "  -l, --label NAME[,NAME]  a name per summary, in order (default: the target's host)\n"
         "      --fail-if RULE       exit 99 when a run regresses against the baseline beyond the\n"
         "                           tolerance: \"p(95) > +10%\", \"req/s < -5%\", \"error_rate > "
         "+0.5pp\",\n"
         "                           \"p(99) > +20ms\" (repeatable)\n"
         "      --json               the comparison as JSON on standard output instead of the "
         "table\n"
         "      --html FILE          a self-contained comparison page\n"
         "  -h, --help               print this help\n"
         "\n"
         "Exit codes: 0 compared, 99 a --fail-if rule fired, 2 bad command line or summary, 1 the\n"
         "page could not be written.\n";
}

int run_compare_command(const std::vector<std::string>& args) {
  CompareArgs ca;
  std::string error;
  if (!parse_args(args, ca, error)) {
    std::fprintf(stderr, "pelt: compare: %s\n", error.c_str());
    return kExitUsage;
  }
  if (ca.help) {
    std::fputs(compare_usage_text().c_str(), stdout);
    return kExitOk;
  }
  std::vector<CompareInput> runs;
  for (const std::string& file : ca.files) {
    CompareInput in;
    in.file = file;
    std::string text;
    if (!read_file(file, text, error) || !load_summary_document(text, file, in.doc, error)) {
      std::fprintf(stderr, "pelt: compare: %s\n", error.c_str());
      return kExitUsage;
    }
    const std::string schema = in.doc["schema"].get<std::string>();
    if (schema != "pelt.summary/v2") {
      std::fprintf(
          stderr,
          "pelt: compare: %s: schema \"%s\" is not supported: pelt compare reads pelt.summary/v2 "
          "(written by --summary-json of this pelt); run the test again to get one\n",
          file.c_str(), schema.c_str());
      return kExitUsage;
    }
    runs.push_back(std::move(in));
  }
  if (ca.labels.empty()) {
    default_labels(runs);
  } else {
    for (size_t i = 0; i < runs.size(); ++i) runs[i].label = ca.labels[i];
  }
  CompareOptions options;
  options.fail_if = ca.fail_if;
  const Comparison c = compare_runs(runs, options);
  if (ca.json) {
    std::fputs((comparison_json(c, runs, false).dump(2) + "\n").c_str(), stdout);
  } else {
    print_comparison(stdout, c);
  }
  std::fflush(stdout);
  if (!ca.html_path.empty()) {
    const std::string page = render_compare_html(comparison_json(c, runs, true));
    if (!write_file_atomic(ca.html_path, page, error)) {
      std::fprintf(stderr, "pelt: compare: %s\n", error.c_str());
      return kExitRunFailed;
    }
    std::fprintf(stderr, "wrote %s (%zu bytes)\n", ca.html_path.c_str(), page.size());
  }
  return c.failed ? kExitThresholds : kExitOk;
}

}  // namespace pelt
