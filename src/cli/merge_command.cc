#include "cli/merge_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/report_command.h"
#include "engine/runner.h"
#include "results/html_report.h"
#include "results/summary.h"
#include "results/summary_merge.h"
#include "util/atomic_file.h"

namespace pelt {
namespace {

struct MergeArgs {
  std::vector<std::string> inputs;  // summary documents
  std::string json_path;            // --summary-json: the fleet's summary
  std::string html_path;            // --report: the fleet's HTML report
  bool allow_partial = false;       // merge although segments are missing
  bool quiet = false;               // no text summary on stdout
  bool help = false;                // -h / --help
};

bool parse_merge_args(const std::vector<std::string>& args, MergeArgs& out, std::string& error) {
  for (size_t i = 2; i < args.size(); ++i) {
    std::string a = args[i], value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
      has_value = true;
    }
    const auto take = [&](std::string& dest) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          error = "option " + a + " needs a file name";
          return false;
        }
        value = args[++i];
      }
      if (value.empty()) {
        error = "option " + a + " needs a file name";
        return false;
      }
      dest = value;
      return true;
    };
    if (a == "-h" || a == "--help") {
      out.help = true;
    } else if (a == "--summary-json" || a == "--json") {
      if (!take(out.json_path)) return false;
    } else if (a == "--report") {
      if (!take(out.html_path)) return false;
    } else if (a == "--allow-partial") {
      out.allow_partial = true;
    } else if (a == "--quiet" || a == "-q") {
      out.quiet = true;
    } else if (a.size() > 1 && a[0] == '-') {
      error = "unknown option " + a + " for pelt merge (see pelt merge --help)";
      return false;
    } else {
      out.inputs.push_back(a);
    }
  }
  if (!out.help && out.inputs.empty()) {
    error =
        "pelt merge needs the instances' summaries: pelt merge A.json B.json ... [--summary-json "
        "OUT]";
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

}  // namespace

bool is_merge_command(const std::vector<std::string>& args) {
  return args.size() > 1 && args[1] == "merge";
}

std::string merge_usage_text() {
  return "Usage: pelt merge A.json B.json ... [--summary-json OUT] [--report OUT.html] "
         "[--allow-partial]\n"
         "\n"
         "Merges the summaries (--summary-json) of the instances of one fleet run\n"
         "(pelt run --segment I/N) into the fleet's: counts summed, histograms merged\n"
         "exactly, per-second series aligned by wall-clock time, thresholds judged again.\n"
         "  --summary-json FILE  the fleet's summary document (mergeable again)\n"
         "  --report FILE.html   the fleet's HTML report\n"
         "  --allow-partial      merge although segments are missing (says which)\n"
         "  --quiet              no summary on standard output\n"
         "\n"
         "Exit codes: 0 every threshold held, 99 a threshold was crossed, 2 the summaries\n"
         "cannot be merged (different plans or schema versions, overlapping or missing\n"
         "segments) or a bad command line, 1 an output could not be written.\n";
}

int run_merge_command(const std::vector<std::string>& args) {
  MergeArgs ma;
  std::string error;
  if (!parse_merge_args(args, ma, error)) {
    std::fprintf(stderr, "pelt: merge: %s\n", error.c_str());
    return kExitUsage;
  }
  if (ma.help) {
    std::fputs(merge_usage_text().c_str(), stdout);
    return kExitOk;
  }
  std::vector<MergeSource> sources;
  for (const std::string& path : ma.inputs) {
    MergeSource src;
    src.label = path;
    std::string text;
    if (!read_file(path, text, error) || !load_summary_document(text, path, src.doc, error)) {
      std::fprintf(stderr, "pelt: merge: %s\n", error.c_str());
      return kExitUsage;
    }
    sources.push_back(std::move(src));
  }
  MergedRun merged;
  if (!merge_summaries(sources, ma.allow_partial, merged, error)) {
    std::fprintf(stderr, "pelt: merge: %s\n", error.c_str());
    return kExitUsage;
  }
  RunReport& report = *merged.report;
  std::string command = "pelt merge";
  for (size_t i = 2; i < args.size(); ++i) command += " " + args[i];
  report.info.command_line = command;
  const FleetInfo& fleet = report.info.fleet;
  std::fprintf(stderr, "pelt: merge: %zu summaries, segments %s\n", sources.size(),
               segment_list(fleet.segments, fleet.segment_count).c_str());
  for (const std::string& note : merged.notes)
    std::fprintf(stderr, "pelt: merge: %s\n", note.c_str());
  if (!ma.quiet) {
    if (report.info.quick) {
      print_wrk_summary(stdout, report);
    } else {
      print_run_summary(stdout, report);
    }
    std::fflush(stdout);
  }
  int code = report.thresholds_ok ? kExitOk : kExitThresholds;
  if (!ma.json_path.empty() && !write_summary_json(ma.json_path, report, error)) {
    std::fprintf(stderr, "pelt: merge: %s\n", error.c_str());
    code = kExitRunFailed;
  }
  if (!ma.html_path.empty() &&
      !write_file_atomic(ma.html_path, render_report_html(build_summary_json(report)), error)) {
    std::fprintf(stderr, "pelt: merge: %s\n", error.c_str());
    code = kExitRunFailed;
  }
  return code;
}

}  // namespace pelt
