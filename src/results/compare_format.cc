// `pelt compare`'s outputs: the text table and the JSON document (schema pelt.compare/v1).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "results/compare.h"
#include "results/compare_noise.h"
#include "util/units.h"

namespace pelt {
namespace {

using nlohmann::json;

// 1234567.8 -> "1,234,567.8"
std::string grouped(double v, int decimals) {
  std::string digits = fmt::format("{:.{}f}", std::fabs(v), decimals);
  const size_t dot = digits.find('.');
  std::string whole = digits.substr(0, dot);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3)
    whole.insert(static_cast<size_t>(i), ",");
  return (v < 0 ? "-" : "") + whole + (dot == std::string::npos ? "" : digits.substr(dot));
}

std::string ms_text(double ms) {
  if (ms >= 100) return fmt::format("{:.0f} ms", ms);
  if (ms >= 10) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.2f} ms", ms);
}

const char* mark_char(NoiseMark m) {
  switch (m) {
    case NoiseMark::kBeyond:
      return "*";
    case NoiseMark::kWithin:
      return "~";
    case NoiseMark::kBaseline:
    case NoiseMark::kUnknown:
      break;
  }
  return " ";
}

const char* mark_name(NoiseMark m) {
  switch (m) {
    case NoiseMark::kBaseline:
      return "baseline";
    case NoiseMark::kUnknown:
      return "unknown";
    case NoiseMark::kWithin:
      return "within";
    case NoiseMark::kBeyond:
      return "beyond";
  }
  return "unknown";
}

// The change as the table shows it: relative, or percentage points for ratios.
std::string change_text(const CompareRow& row, const CompareCell& c) {
  if (row.unit == "ratio") return c.diff ? fmt::format("{:+.2f}pp", *c.diff * 100) : "";
  if (!c.change) return c.diff ? "new" : "";
  if (std::isinf(*c.change)) return "+inf%";
  return fmt::format("{:+.1f}%", *c.change * 100);
}

std::string pad_left(const std::string& s, size_t width) {
  // Width in characters: count UTF-8 lead bytes only.
  size_t chars = 0;
  for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80 ? 1 : 0;
  return chars >= width ? s : std::string(width - chars, ' ') + s;
}

std::string pad_right(const std::string& s, size_t width) {
  size_t chars = 0;
  for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80 ? 1 : 0;
  return chars >= width ? s : s + std::string(width - chars, ' ');
}

constexpr size_t kValueWidth = 12;   // a figure
constexpr size_t kChangeWidth = 10;  // its change

}  // namespace

std::string format_compare_value(const CompareRow& row, double v) {
  if (row.unit == "req/s") return grouped(v, v >= 1000 ? 0 : 1);
  if (row.unit == "ms") return ms_text(v);
  if (row.unit == "ratio") return fmt::format("{:.2f}%", v * 100);
  if (row.unit == "%") return fmt::format("{:.1f}%", v * 100);
  if (row.unit == "bytes") return format_binary(v) + "B";
  if (row.unit == "B/s" || row.unit == "bytes/s") return format_binary(v) + "B/s";
  return fmt::format("{:.4g}", v) + (row.unit.empty() ? "" : " " + row.unit);
}

void print_comparison(std::FILE* out, const Comparison& c) {
  const size_t n = c.labels.size();
  std::fprintf(out, "\n  pelt compare: %zu runs; the first is the baseline\n", n);
  for (size_t i = 0; i < n; ++i) {
    std::fprintf(out, "    %-24s %s  (%s)\n", c.labels[i].c_str(), c.files[i].c_str(),
                 c.targets[i].c_str());
  }
  size_t name_width = 14;
  for (const CompareSection& s : c.sections) {
    for (const CompareRow& r : s.rows) name_width = std::max(name_width, r.metric.size() + 2);
  }
  // Each run's column: its figure, then (candidates) the change and the mark; as wide as its label.
  std::vector<size_t> widths;
  for (size_t i = 0; i < n; ++i) {
    const size_t extra = i == 0 ? 0 : kChangeWidth + 2;
    widths.push_back(std::max(kValueWidth + extra, c.labels[i].size()) - extra);
  }
  for (const CompareSection& s : c.sections) {
    std::string head = "\n  " + pad_right(s.title, name_width + 2);
    for (size_t i = 0; i < n; ++i)
      head += " " + pad_left(c.labels[i], widths[i] + (i == 0 ? 0 : kChangeWidth + 2));
    std::fprintf(out, "%s\n", head.c_str());
    for (const CompareRow& r : s.rows) {
      std::string line = "    " + pad_right(r.metric, name_width);
      for (size_t i = 0; i < r.cells.size() && i < n; ++i) {
        const CompareCell& cell = r.cells[i];
        line += " " + pad_left(cell.value ? format_compare_value(r, *cell.value) : "\xE2\x80\x94",
                               widths[i]);
        if (i == 0) continue;
        line += " " + pad_left(cell.value ? change_text(r, cell) : "", kChangeWidth) + " " +
                mark_char(cell.mark);
      }
      std::fprintf(out, "%s\n", line.c_str());
    }
  }
  std::fprintf(out,
               "\n  * beyond the noise, ~ within it: the change is larger (smaller) than half the "
               "95%% interval of\n"
               "    the difference, from a moving-block bootstrap over each run's seconds; no "
               "mark: the noise\n"
               "    cannot be told (no time series, or a maximum)\n");
  for (const Ranking& rk : c.rankings) {
    const bool latency = rk.metric == "p(95)";
    const CompareRow unit_row{rk.metric, latency ? "ms" : "req/s", 0, {}};
    const double ratio = rk.best_value != 0 ? rk.worst_value / rk.best_value : 0;
    const char* noise = rk.mark == NoiseMark::kBeyond   ? ", beyond the noise"
                        : rk.mark == NoiseMark::kWithin ? ", within the noise"
                                                        : "";
    std::fprintf(out, "  by %s: %s %s (%s), %s %s (%s, %.2fx%s)\n", rk.metric.c_str(),
                 latency ? "fastest" : "highest", c.labels[rk.best].c_str(),
                 format_compare_value(unit_row, rk.best_value).c_str(),
                 latency ? "slowest" : "lowest", c.labels[rk.worst].c_str(),
                 format_compare_value(unit_row, rk.worst_value).c_str(), ratio, noise);
  }
  if (!c.fail_if.empty()) std::fprintf(out, "\n");
  for (const FailIfOutcome& f : c.fail_if) {
    std::fprintf(out, "  %s fail-if %s: %s\n", f.fired ? "\xE2\x9C\x97" : "\xE2\x9C\x93",
                 f.rule.c_str(), f.text.c_str());
  }
  if (c.failed) std::fprintf(out, "  -> a --fail-if rule fired\n");
  std::fprintf(out, "\n");
}

json comparison_json(const Comparison& c, const std::vector<CompareInput>& runs, bool with_series) {
  json j;
  j["schema"] = "pelt.compare/v1";
  j["baseline"] = 0;
  json rs = json::array();
  for (size_t i = 0; i < c.labels.size(); ++i) {
    json r = {{"label", c.labels[i]}, {"file", c.files[i]}, {"target", c.targets[i]}};
    if (i < runs.size()) {
      const json& d = runs[i].doc;
      for (const char* key : {"source", "started_at", "run_id", "version"}) {
        if (d.contains(key) && d[key].is_string()) r[key] = d[key];
      }
      if (d.contains("duration_seconds")) r["duration_seconds"] = d["duration_seconds"];
      if (with_series) {
        json t = json::array(), rps = json::array(), p95 = json::array();
        const double duration = d.value("duration_seconds", 0.0);
        const auto seconds = read_seconds(d, 0, duration);
        for (const SecondSample& s : seconds) {
          t.push_back(s.start_s);
          rps.push_back(static_cast<double>(s.requests) / s.width_s);
          const auto p = second_stat({s}, NoiseStat::kP95);
          p95.push_back(p ? json(*p) : json(nullptr));
        }
        r["series"] = {{"t", t}, {"rps", rps}, {"p95_ms", p95}};
      }
    }
    rs.push_back(r);
  }
  j["runs"] = rs;
  json sections = json::array();
  for (const CompareSection& s : c.sections) {
    json rows = json::array();
    for (const CompareRow& r : s.rows) {
      json values = json::array(), changes = json::array(), diffs = json::array(),
           noise = json::array(), marks = json::array(), ratios = json::array();
      const std::optional<double> base = r.cells.empty() ? std::nullopt : r.cells[0].value;
      for (const CompareCell& cell : r.cells) {
        values.push_back(cell.value ? json(*cell.value) : json(nullptr));
        ratios.push_back(cell.value && base && *base != 0 ? json(*cell.value / *base)
                                                          : json(nullptr));
        changes.push_back(cell.change && std::isfinite(*cell.change) ? json(*cell.change)
                                                                     : json(nullptr));
        diffs.push_back(cell.diff ? json(*cell.diff) : json(nullptr));
        noise.push_back(cell.noise ? json(*cell.noise) : json(nullptr));
        marks.push_back(mark_name(cell.mark));
      }
      rows.push_back({{"metric", r.metric},
                      {"unit", r.unit},
                      {"better", r.better > 0   ? json("higher")
                                 : r.better < 0 ? json("lower")
                                                : json(nullptr)},
                      {"values", values},
                      {"ratios", ratios},
                      {"changes", changes},
                      {"diffs", diffs},
                      {"noise", noise},
                      {"marks", marks}});
    }
    json sj = {{"title", s.title}, {"scope", s.scope}, {"rows", rows}};
    if (s.scope == "stage") {
      sj["scenario"] = s.scenario;
      sj["stage"] = s.stage;
    }
    sections.push_back(sj);
  }
  j["sections"] = sections;
  json rankings = json::array();
  for (const Ranking& rk : c.rankings) {
    rankings.push_back({{"metric", rk.metric},
                        {"best", rk.best},
                        {"best_label", c.labels[rk.best]},
                        {"best_value", rk.best_value},
                        {"worst", rk.worst},
                        {"worst_label", c.labels[rk.worst]},
                        {"worst_value", rk.worst_value},
                        {"noise", mark_name(rk.mark)}});
  }
  j["rankings"] = rankings;
  json gates = json::array();
  for (const FailIfOutcome& f : c.fail_if) {
    gates.push_back(
        {{"rule", f.rule},
         {"run", f.run},
         {"label", c.labels[f.run]},
         {"fired", f.fired},
         {"observed", f.observed && std::isfinite(*f.observed) ? json(*f.observed) : json(nullptr)},
         {"text", f.text}});
  }
  j["fail_if"] = gates;
  j["failed"] = c.failed;
  j["noise_method"] =
      "moving-block bootstrap over each run's per-second buckets (blocks of ceil(n^(1/3)) buckets, "
      "resampled independently per run); a change is beyond the noise when it is larger than half "
      "the "
      "width of the 95% interval of the bootstrap differences";
  return j;
}

}  // namespace pelt
