#include "results/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>

#include "results/compare_noise.h"

namespace pelt {
namespace {

using nlohmann::json;

// A number at a JSON path, or nullopt.
std::optional<double> num(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return std::nullopt;
    const auto it = at->find(key);
    if (it == at->end()) return std::nullopt;
    at = &*it;
  }
  return at->is_number() ? std::optional<double>(at->get<double>()) : std::nullopt;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The figures of one scope, by row, and the stats the bootstrap gives for them.
struct RowSpec {
  const char* metric;             // row name
  const char* unit;               // "req/s", "ms", "ratio"
  int better;                     // +1 / -1
  std::optional<NoiseStat> stat;  // its bootstrap statistic (none for max)
  CompareMetric id;               // for --fail-if
};

constexpr std::array<RowSpec, 7> kRunRows = {{
    {"req/s", "req/s", +1, NoiseStat::kRps, CompareMetric::kRps},
    {"p(50)", "ms", -1, NoiseStat::kP50, CompareMetric::kP50},
    {"p(90)", "ms", -1, NoiseStat::kP90, CompareMetric::kP90},
    {"p(95)", "ms", -1, NoiseStat::kP95, CompareMetric::kP95},
    {"p(99)", "ms", -1, NoiseStat::kP99, CompareMetric::kP99},
    {"max", "ms", -1, std::nullopt, CompareMetric::kMax},
    {"error rate", "ratio", -1, NoiseStat::kErrorRate, CompareMetric::kErrorRate},
}};

std::optional<double> run_figure(const json& doc, CompareMetric m) {
  switch (m) {
    case CompareMetric::kRps:
      return num(doc, {"metrics", "http_reqs", "rate"});
    case CompareMetric::kP50:
      return num(doc, {"metrics", "http_req_duration", "med"});
    case CompareMetric::kP90:
      return num(doc, {"metrics", "http_req_duration", "p90"});
    case CompareMetric::kP95:
      return num(doc, {"metrics", "http_req_duration", "p95"});
    case CompareMetric::kP99:
      return num(doc, {"metrics", "http_req_duration", "p99"});
    case CompareMetric::kMax:
      return num(doc, {"metrics", "http_req_duration", "max"});
    case CompareMetric::kErrorRate:
      return num(doc, {"metrics", "http_req_failed", "rate"});
    case CompareMetric::kServer:
      break;
  }
  return std::nullopt;
}

std::optional<double> stage_figure(const json& stage, CompareMetric m) {
  switch (m) {
    case CompareMetric::kRps:
      return num(stage, {"rps"});
    case CompareMetric::kP50:
      return num(stage, {"p50_ms"});
    case CompareMetric::kP95:
      return num(stage, {"p95_ms"});
    case CompareMetric::kP99:
      return num(stage, {"p99_ms"});
    case CompareMetric::kErrorRate:
      return num(stage, {"error_rate"});
    default:
      return std::nullopt;
  }
}

// A whole-run figure. req/s counts the whole seconds of the time series when there is one, so
// that the ramp-up of the first moments and the drain after the load (which the summary's
// rate divides by) do not pass for a difference in throughput.
std::optional<double> figure(const json& doc, const std::vector<SecondSample>& seconds,
                             CompareMetric m) {
  if (m == CompareMetric::kRps && !seconds.empty()) return second_stat(seconds, NoiseStat::kRps);
  return run_figure(doc, m);
}

// A stage of a run: its figures and where it lies in run time.
struct StageRef {
  const json* stage = nullptr;
  double from_s = 0, to_s = 0;
};

std::optional<StageRef> find_stage(const json& doc, const std::string& scenario, int index) {
  if (!doc.contains("scenarios") || !doc["scenarios"].is_array()) return std::nullopt;
  for (const json& sc : doc["scenarios"]) {
    if (str(sc, "name") != scenario || !sc.contains("stages") || !sc["stages"].is_array()) continue;
    for (const json& st : sc["stages"]) {
      if (num(st, {"index"}).value_or(-1) != index) continue;
      StageRef r;
      r.stage = &st;
      r.from_s = num(sc, {"start_seconds"}).value_or(0) + num(st, {"start_seconds"}).value_or(0);
      r.to_s =
          r.from_s + num(st, {"ran_seconds"}).value_or(num(st, {"duration_seconds"}).value_or(0));
      return r;
    }
  }
  return std::nullopt;
}

// Changes smaller than these never count as beyond the noise, however steady the runs were
// (an open-loop run's req/s hardly varies from second to second).
constexpr double kMinRelativeChange = 0.01;  // 1%
constexpr double kMinRatioChange = 0.001;    // 0.1 percentage points (error rates)

bool beyond_noise(const std::string& unit, double diff, std::optional<double> change,
                  double noise) {
  if (std::fabs(diff) <= noise) return false;
  if (unit == "ratio") return std::fabs(diff) >= kMinRatioChange;
  return !change || std::fabs(*change) >= kMinRelativeChange;
}

// Fills changes and noise marks of a row against cell 0.
void judge_row(CompareRow& row, const std::vector<std::optional<double>>& noise) {
  if (row.cells.empty()) return;
  row.cells[0].mark = NoiseMark::kBaseline;
  const std::optional<double> base = row.cells[0].value;
  for (size_t i = 1; i < row.cells.size(); ++i) {
    CompareCell& c = row.cells[i];
    if (!c.value || !base) continue;
    c.diff = *c.value - *base;
    if (*base != 0)
      c.change = *c.diff / *base;
    else if (*c.value == 0)
      c.change = 0.0;
    c.noise = i < noise.size() ? noise[i] : std::nullopt;
    // Latency percentiles of the per-second histograms are bucket midpoints, each within 1/128
    // of its value: that much of a difference may be rounding alone.
    if (c.noise && row.unit == "ms") *c.noise += (std::fabs(*base) + std::fabs(*c.value)) / 128;
    if (c.noise)
      c.mark = beyond_noise(row.unit, *c.diff, c.change, *c.noise) ? NoiseMark::kBeyond
                                                                   : NoiseMark::kWithin;
  }
}

// Noise of every bootstrap statistic, baseline against each run, over run seconds [from, to)
// of each run (a window per run: stages may start at different run times).
std::vector<std::array<std::optional<double>, kNoiseStats>> noise_against_baseline(
    const std::vector<std::vector<SecondSample>>& seconds, const CompareOptions& o, uint64_t salt) {
  std::vector<std::array<std::optional<double>, kNoiseStats>> out(seconds.size());
  for (size_t i = 1; i < seconds.size(); ++i) {
    out[i] = noise_half_widths(seconds[0], seconds[i], o.resamples, o.seed + salt * 1000 + i);
  }
  return out;
}

std::vector<std::optional<double>> column(
    const std::vector<std::array<std::optional<double>, kNoiseStats>>& n,
    std::optional<NoiseStat> stat) {
  std::vector<std::optional<double>> out(n.size());
  if (!stat) return out;
  for (size_t i = 0; i < n.size(); ++i) out[i] = n[i][static_cast<size_t>(*stat)];
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// Rows "LABEL avg" and "LABEL max" for every [observe] query any run has; `figures(i)` gives
// run i's label -> figure object (or null). The unit comes from the run's query list.
template <typename Figures>
void add_server_rows(CompareSection& section, const std::vector<CompareInput>& runs,
                     Figures figures) {
  std::vector<std::string> labels;
  for (size_t i = 0; i < runs.size(); ++i) {
    const json* f = figures(i);
    if (!f) continue;
    for (const auto& [label, unused] : f->items()) {
      if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
    }
  }
  for (const std::string& label : labels) {
    std::string unit;
    for (const CompareInput& r : runs) {
      if (!r.doc.contains("observe") || !r.doc["observe"].contains("queries")) continue;
      for (const json& q : r.doc["observe"]["queries"]) {
        if (str(q, "label") == label && unit.empty()) unit = str(q, "unit");
      }
    }
    for (const char* agg : {"avg", "max"}) {
      CompareRow row{"server " + label + " " + agg, unit, 0, {}};
      for (size_t i = 0; i < runs.size(); ++i) {
        const json* f = figures(i);
        std::optional<double> v;
        if (f && f->contains(label) && (*f)[label].value("status", "") == "ok")
          v = num((*f)[label], {agg});
        row.cells.push_back({v});
      }
      judge_row(row, {});
      section.rows.push_back(std::move(row));
    }
  }
}

}  // namespace

bool parse_fail_if(std::string_view text, FailIf& out, std::string& error) {
  FailIf f;
  f.text = std::string(text);
  const size_t op_at = text.find_first_of("<>");
  if (op_at == std::string_view::npos) {
    error = "--fail-if \"" + f.text +
            "\": expected METRIC OP CHANGE, e.g. \"p(95) > +10%\" or \"req/s < -5%\"";
    return false;
  }
  const std::string metric = trim(text.substr(0, op_at));
  static const std::map<std::string, CompareMetric> kNames = {
      {"req/s", CompareMetric::kRps},
      {"rps", CompareMetric::kRps},
      {"p(50)", CompareMetric::kP50},
      {"med", CompareMetric::kP50},
      {"p(90)", CompareMetric::kP90},
      {"p(95)", CompareMetric::kP95},
      {"p(99)", CompareMetric::kP99},
      {"max", CompareMetric::kMax},
      {"error_rate", CompareMetric::kErrorRate},
      {"errors", CompareMetric::kErrorRate}};
  const auto it = kNames.find(metric);
  if (it == kNames.end()) {
    error = "--fail-if \"" + f.text + "\": unknown figure \"" + metric +
            "\"; use req/s, p(50), p(90), p(95), p(99), max or error_rate";
    return false;
  }
  f.metric = it->second;
  f.greater = text[op_at] == '>';
  size_t rest_at = op_at + 1;
  if (rest_at < text.size() && text[rest_at] == '=') {
    f.or_equal = true;
    ++rest_at;
  }
  std::string rest = trim(text.substr(rest_at));
  size_t unit_at = rest.find_first_not_of("+-0123456789.");
  const std::string number = trim(rest.substr(0, unit_at));
  const std::string unit = unit_at == std::string::npos ? "" : trim(rest.substr(unit_at));
  double value = 0;
  const char* first = number.data() + (number.size() > 0 && number[0] == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(first, number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(value)) {
    error = "--fail-if \"" + f.text +
            "\": expected a change such as +10%, -5%, +20ms or +0.5pp after the operator";
    return false;
  }
  if (unit == "%") {
    f.unit = FailIf::Unit::kPercent;
    f.tolerance = value / 100;
  } else if (unit == "pp" && f.metric == CompareMetric::kErrorRate) {
    f.unit = FailIf::Unit::kPoints;
    f.tolerance = value / 100;
  } else if (unit == "ms" && f.metric != CompareMetric::kRps &&
             f.metric != CompareMetric::kErrorRate) {
    f.unit = FailIf::Unit::kMs;
    f.tolerance = value;
  } else {
    error = "--fail-if \"" + f.text + "\": the change needs a unit: % (relative)" +
            (f.metric == CompareMetric::kErrorRate ? ", or pp (percentage points)"
             : f.metric == CompareMetric::kRps     ? ""
                                                   : ", or ms (absolute)");
    return false;
  }
  out = f;
  return true;
}

std::string default_label(const json& doc) {
  std::string target = str(doc, "target");
  const size_t scheme = target.find("://");
  if (scheme != std::string::npos) target = target.substr(scheme + 3);
  const size_t slash = target.find('/');
  if (slash != std::string::npos) target = target.substr(0, slash);
  const size_t at = target.rfind('@');
  if (at != std::string::npos) target = target.substr(at + 1);
  return target;
}

Comparison compare_runs(const std::vector<CompareInput>& runs, const CompareOptions& o) {
  Comparison c;
  for (const CompareInput& r : runs) {
    c.labels.push_back(r.label);
    c.files.push_back(r.file);
    c.targets.push_back(str(r.doc, "target"));
  }
  if (runs.empty()) return c;

  // The whole run.
  std::vector<std::vector<SecondSample>> run_seconds;
  for (const CompareInput& r : runs) {
    run_seconds.push_back(read_seconds(r.doc, 0, num(r.doc, {"duration_seconds"}).value_or(0)));
  }
  const auto run_noise = noise_against_baseline(run_seconds, o, 0);
  CompareSection whole{"whole run", "run", "", -1, {}};
  for (const RowSpec& spec : kRunRows) {
    CompareRow row{spec.metric, spec.unit, spec.better, {}};
    for (size_t i = 0; i < runs.size(); ++i)
      row.cells.push_back({figure(runs[i].doc, run_seconds[i], spec.id)});
    judge_row(row, column(run_noise, spec.stat));
    whole.rows.push_back(std::move(row));
  }
  c.sections.push_back(std::move(whole));

  // Stages every run has.
  const json& base = runs[0].doc;
  if (base.contains("scenarios") && base["scenarios"].is_array()) {
    uint64_t salt = 1;
    for (const json& sc : base["scenarios"]) {
      const std::string scenario = str(sc, "name");
      const size_t stages =
          sc.contains("stages") && sc["stages"].is_array() ? sc["stages"].size() : 0;
      // One scenario of one stage: its stage is the whole run.
      if (base["scenarios"].size() == 1 && stages == 1) continue;
      for (size_t st = 0; st < stages; ++st) {
        std::vector<StageRef> refs;
        for (const CompareInput& r : runs) {
          const auto ref = find_stage(r.doc, scenario, static_cast<int>(st));
          if (!ref) break;
          refs.push_back(*ref);
        }
        if (refs.size() != runs.size()) continue;
        std::vector<std::vector<SecondSample>> seconds;
        for (size_t i = 0; i < runs.size(); ++i)
          seconds.push_back(read_seconds(runs[i].doc, refs[i].from_s, refs[i].to_s));
        const auto noise = noise_against_baseline(seconds, o, ++salt);
        const json& first = *refs[0].stage;
        const double target = num(first, {"target"}).value_or(0);
        const bool vus = str(first, "target_unit") == "vus";
        CompareSection s;
        s.title = fmt::format("stage {} of {} (target {:g}{})", st + 1, scenario, target,
                              vus ? " VUs" : "/s");
        s.scope = "stage";
        s.scenario = scenario;
        s.stage = static_cast<int>(st);
        for (const RowSpec& spec : kRunRows) {
          if (!stage_figure(first, spec.id)) continue;
          CompareRow row{spec.metric, spec.unit, spec.better, {}};
          for (size_t i = 0; i < refs.size(); ++i) {
            const auto from_series = spec.id == CompareMetric::kRps
                                         ? second_stat(seconds[i], NoiseStat::kRps)
                                         : std::nullopt;
            row.cells.push_back(
                {from_series ? from_series : stage_figure(*refs[i].stage, spec.id)});
          }
          judge_row(row, column(noise, spec.stat));
          s.rows.push_back(std::move(row));
        }
        add_server_rows(s, runs, [&](size_t i) -> const json* {
          const json& st = *refs[i].stage;
          return st.contains("observe") && st["observe"].is_object() ? &st["observe"] : nullptr;
        });
        c.sections.push_back(std::move(s));
      }
    }
  }

  // The server's columns ([observe]) where present: each query's avg and max over the run.
  std::vector<std::optional<json>> run_server(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& d = runs[i].doc;
    if (!d.contains("observe") || !d["observe"].contains("queries") ||
        !d["observe"]["queries"].is_array())
      continue;
    json by_label = json::object();
    for (const json& q : d["observe"]["queries"]) {
      if (q.contains("run") && !str(q, "label").empty()) by_label[str(q, "label")] = q["run"];
    }
    run_server[i] = std::move(by_label);
  }
  CompareSection server{"server (observe)", "server", "", -1, {}};
  add_server_rows(server, runs,
                  [&](size_t i) { return run_server[i] ? &*run_server[i] : nullptr; });
  if (!server.rows.empty()) c.sections.push_back(std::move(server));

  // Rankings: the fastest and slowest by p(95), the highest and lowest req/s.
  for (const auto& [metric, stat, lower_better] :
       {std::tuple{CompareMetric::kP95, NoiseStat::kP95, true},
        std::tuple{CompareMetric::kRps, NoiseStat::kRps, false}}) {
    Ranking rk;
    rk.metric = metric == CompareMetric::kP95 ? "p(95)" : "req/s";
    bool any = false;
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto v = figure(runs[i].doc, run_seconds[i], metric);
      if (!v) continue;
      const bool better = lower_better ? *v < rk.best_value : *v > rk.best_value;
      const bool worse = lower_better ? *v > rk.worst_value : *v < rk.worst_value;
      if (!any || better) rk.best = i, rk.best_value = *v;
      if (!any || worse) rk.worst = i, rk.worst_value = *v;
      any = true;
    }
    if (!any || runs.size() < 2) continue;
    const auto noise =
        noise_half_widths(run_seconds[rk.best], run_seconds[rk.worst], o.resamples, o.seed + 7);
    auto half = noise[static_cast<size_t>(stat)];
    if (half && lower_better) *half += (std::fabs(rk.best_value) + std::fabs(rk.worst_value)) / 128;
    const double gap = rk.worst_value - rk.best_value;
    const std::optional<double> rel =
        rk.best_value != 0 ? std::optional<double>(gap / rk.best_value) : std::nullopt;
    if (half) rk.mark = beyond_noise("", gap, rel, *half) ? NoiseMark::kBeyond : NoiseMark::kWithin;
    c.rankings.push_back(rk);
  }

  // The gates.
  for (const FailIf& f : o.fail_if) {
    const auto base_v = figure(runs[0].doc, run_seconds[0], f.metric);
    for (size_t i = 1; i < runs.size(); ++i) {
      FailIfOutcome out;
      out.rule = f.text;
      out.run = i;
      const auto v = figure(runs[i].doc, run_seconds[i], f.metric);
      if (!v || !base_v) {
        out.text = c.labels[i] + ": no figure to compare";
        c.fail_if.push_back(out);
        continue;
      }
      double change = 0;
      std::string shown;
      switch (f.unit) {
        case FailIf::Unit::kPercent:
          change =
              *base_v != 0 ? (*v - *base_v) / *base_v : (*v == 0 ? 0 : std::copysign(INFINITY, *v));
          shown = fmt::format("{:+.1f}%", change * 100);
          break;
        case FailIf::Unit::kPoints:
          change = *v - *base_v;
          shown = fmt::format("{:+.2f}pp", change * 100);
          break;
        case FailIf::Unit::kMs:
          change = *v - *base_v;
          shown = fmt::format("{:+.1f} ms", change);
          break;
      }
      out.observed = change;
      out.fired = f.greater ? (f.or_equal ? change >= f.tolerance : change > f.tolerance)
                            : (f.or_equal ? change <= f.tolerance : change < f.tolerance);
      const CompareRow& row = c.sections[0].rows[static_cast<size_t>(
          std::find_if(kRunRows.begin(), kRunRows.end(),
                       [&](const RowSpec& s) { return s.id == f.metric; }) -
          kRunRows.begin())];
      const NoiseMark mark = row.cells[i].mark;
      out.text = fmt::format("{}: {} {} ({} -> {}{})", c.labels[i], row.metric, shown,
                             format_compare_value(row, *base_v), format_compare_value(row, *v),
                             mark == NoiseMark::kBeyond   ? ", beyond the noise"
                             : mark == NoiseMark::kWithin ? ", within the noise"
                                                          : "");
      c.failed = c.failed || out.fired;
      c.fail_if.push_back(out);
    }
  }
  return c;
}

}  // namespace pelt
