#include "results/summary_merge.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "results/series_decode.h"
#include "results/summary.h"
#include "results/summary_stats.h"
#include "results/thresholds.h"

namespace pelt {
namespace {

using nlohmann::json;
using std::chrono::microseconds;

microseconds micros(double seconds) {
  return microseconds(std::llround(seconds * 1e6));
}

std::chrono::system_clock::time_point from_unix_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(ms)));
}

// The plan and the thresholds as the first summary describes them.
bool read_run_info(const json& doc, RunInfo& info, std::string& error) {
  try {
    info.version = doc.at("version").get<std::string>();
    info.target = doc.at("target").get<std::string>();
    info.quick = doc.at("mode").get<std::string>() == "quick";
    info.latency = info.quick;
    info.source = doc.value("source", "");
    info.connections = doc.value("connections", uint64_t{0});
    info.rate = doc.value("rate", 0.0);
    info.planned_seconds = doc.at("planned_seconds").get<double>();
    for (const json& s : doc.at("scenarios")) {
      ScenarioInfo si;
      si.name = s.at("name").get<std::string>();
      si.executor = s.at("executor").get<std::string>();
      si.tags = s.at("tags").get<std::map<std::string, std::string>>();
      si.start_time = micros(s.at("start_seconds").get<double>());
      for (const json& st : s.at("stages")) {
        StageInfo stage;
        stage.target = st.at("target").get<double>();
        stage.start = micros(st.at("start_seconds").get<double>());
        stage.length = micros(st.at("duration_seconds").get<double>());
        si.arrival_rate = st.at("target_unit").get<std::string>() == "iterations/s";
        si.stages.push_back(stage);
      }
      info.scenarios.push_back(std::move(si));
    }
    for (const json& t : doc.at("thresholds")) {
      ThresholdConfig th;
      th.metric = t.at("metric").get<std::string>();
      th.key = t.at("key").get<std::string>();
      th.expression = t.at("expression").get<std::string>();
      th.abort_on_fail = t.at("abort_on_fail").get<bool>();
      th.tags = t.at("tags").get<std::map<std::string, std::string>>();
      std::string message;
      size_t pos = 0;
      if (!parse_threshold(th.expression, th.parsed, message, pos)) {
        error = "threshold \"" + th.expression + "\": " + message;
        return false;
      }
      info.thresholds.push_back(std::move(th));
    }
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  return true;
}

// What each input says about itself.
struct Part {
  const MergeSource* source = nullptr;
  FleetInfo fleet;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  WorkerStats stats;
};

}  // namespace

std::string segment_list(const std::vector<uint32_t>& indexes, uint32_t count) {
  std::string out;
  for (uint32_t i : indexes)
    out += (out.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(count);
  return out;
}

bool merge_summaries(const std::vector<MergeSource>& inputs, bool allow_partial, MergedRun& out,
                     std::string& error) {
  if (inputs.empty()) {
    error = "nothing to merge";
    return false;
  }
  std::vector<Part> parts(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const MergeSource& in = inputs[i];
    Part& p = parts[i];
    p.source = &in;
    const std::string schema = in.doc.value("schema", "");
    if (schema != kSummarySchema) {
      error = in.label + ": schema \"" + schema + "\" cannot be merged (this pelt merges " +
              kSummarySchema + ")";
      return false;
    }
    if (!in.doc.contains("fleet") || !in.doc.contains("stats")) {
      error = in.label +
              ": no exact figures (\"fleet\" and \"stats\"): written by an older pelt; run it with "
              "this version";
      return false;
    }
    if (!fleet_from_json(in.doc.at("fleet"), p.fleet, p.start_ms, p.end_ms, error) ||
        !stats_from_json(in.doc.at("stats"), p.stats, error)) {
      error = in.label + ": " + error;
      return false;
    }
  }
  // They must belong together.
  const Part& first = parts.front();
  std::map<uint32_t, const Part*> owner;
  for (const Part& p : parts) {
    if (p.fleet.scenario_sha256 != first.fleet.scenario_sha256) {
      error = first.source->label + " and " + p.source->label +
              " ran different scenario files (plan sha256 " +
              first.fleet.scenario_sha256.substr(0, 12) + "... and " +
              p.fleet.scenario_sha256.substr(0, 12) + "...)";
      return false;
    }
    if (p.fleet.segment_count != first.fleet.segment_count) {
      error = first.source->label + " is a part of " + std::to_string(first.fleet.segment_count) +
              " and " + p.source->label + " of " + std::to_string(p.fleet.segment_count) +
              ": segments of different splits";
      return false;
    }
    for (uint32_t s : p.fleet.segments) {
      auto [it, fresh] = owner.emplace(s, &p);
      if (!fresh) {
        error = it->second->source->label + " and " + p.source->label + " both hold segment " +
                segment_list({s}, p.fleet.segment_count) + " (overlapping segments)";
        return false;
      }
    }
  }
  const uint32_t n = first.fleet.segment_count;
  std::vector<uint32_t> missing;
  for (uint32_t s = 0; s < n; ++s) {
    if (!owner.count(s)) missing.push_back(s);
  }
  if (!missing.empty()) {
    const std::string what =
        std::string(missing.size() == 1 ? "missing segment " : "missing segments ") +
        segment_list(missing, n);
    if (!allow_partial) {
      error = what + " (merge with --allow-partial to report the others alone)";
      return false;
    }
    out.notes.push_back("partial merge: " + what + "; the figures and thresholds cover " +
                        std::to_string(n - missing.size()) + " of " + std::to_string(n) +
                        " segments");
  }

  auto report = std::make_unique<RunReport>();
  RunInfo& info = report->info;
  if (!read_run_info(first.source->doc, info, error)) {
    error = first.source->label + ": " + error;
    return false;
  }
  int64_t start_ms = first.start_ms, end_ms = first.end_ms;
  for (const Part& p : parts) {
    start_ms = std::min(start_ms, p.start_ms);
    end_ms = std::max(end_ms, p.end_ms);
  }
  const std::string run_id = first.source->doc.value("run_id", "");
  bool same_run = true;
  for (const Part& p : parts) same_run = same_run && p.source->doc.value("run_id", "") == run_id;
  info.run_id = same_run ? run_id : "merged-" + run_id;
  info.started_at = from_unix_ms(start_ms);
  info.threads = 0;
  for (const Part& p : parts) {
    const json& d = p.source->doc;
    // (connections and rate are the whole plan's -c and -R, the same in every summary)
    info.threads += d.value("threads", 0);
    info.planned_seconds = std::max(info.planned_seconds, d.value("planned_seconds", 0.0));
    if (p.stats.scenarios.size() != info.scenarios.size()) {
      error = p.source->label + ": stats has " + std::to_string(p.stats.scenarios.size()) +
              " scenarios, the plan " + std::to_string(info.scenarios.size());
      return false;
    }
    report->stats.merge(p.stats);
    report->interrupted = report->interrupted || d.value("interrupted", false);
    if (d.value("aborted", false) && !report->aborted) {
      report->aborted = true;
      report->abort_reason = p.fleet.instance + ": " + d.value("abort_reason", "");
    }
  }
  FleetInfo& fleet = info.fleet;
  fleet.merged = true;
  fleet.segment_count = n;
  fleet.scenario_sha256 = first.fleet.scenario_sha256;
  fleet.missing = missing;
  for (const auto& [s, p] : owner) {
    fleet.segments.push_back(s);
    if (std::find(fleet.instances.begin(), fleet.instances.end(), p->fleet.instance) ==
        fleet.instances.end()) {
      fleet.instances.push_back(p->fleet.instance);
    }
  }

  // The seconds of every instance on one axis, starting at the earliest start.
  auto series = std::make_unique<TimeSeries>();
  std::deque<TimeSeries::Bucket> buckets;
  const std::vector<std::string> names = info.scenario_names();
  for (const Part& p : parts) {
    const json& d = p.source->doc;
    if (!d.contains("timeseries")) continue;
    std::deque<TimeSeries::Bucket> mine;
    int64_t series_start_ms = 0;
    if (!timeseries_from_json(d.at("timeseries"), names, mine, series_start_ms, error)) {
      error = p.source->label + ": " + error;
      return false;
    }
    const int64_t offset = std::llround(static_cast<double>(series_start_ms - start_ms) / 1000.0);
    merge_buckets(buckets, mine, static_cast<uint64_t>(std::max<int64_t>(0, offset)));
  }
  series->assign(std::move(buckets));

  report->elapsed_seconds = static_cast<double>(end_ms - start_ms) / 1000.0;
  report->ended_at = from_unix_ms(end_ms);
  report->index_scenarios();
  report->thresholds =
      evaluate_thresholds(info, report->stats, report->elapsed_seconds, ThresholdPhase::kEnd);
  for (const ThresholdOutcome& o : report->thresholds)
    report->thresholds_ok = report->thresholds_ok && o.result.ok;
  report->breaking_point = find_breaking_point(*report);
  report->timeseries = series.get();
  out.report = std::move(report);
  out.series = std::move(series);
  return true;
}

}  // namespace pelt
