// Threshold expressions: parser, canonical text, metric/aggregation/tag compatibility and
// evaluation against merged WorkerStats.
#include "results/thresholds.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "results/catalogue.h"
#include "results/observe_results.h"

namespace pelt {
namespace {

using Agg = ThresholdExpr::Aggregation;
using Op = ThresholdExpr::Op;

constexpr const char* kAggregationList = "avg, min, max, med, p(N), rate, count or value";
constexpr const char* kOperatorList = "<, <=, >, >=, == or !=";

// Indexed by the enums' values.
constexpr std::array<const char*, 6> kOpText = {"<", "<=", ">", ">=", "==", "!="};
constexpr std::array<const char*, 8> kAggregationText = {"avg", "min",  "max",   "med",
                                                         "p",   "rate", "count", "value"};

// A little scanner over the expression that records the first error.
class Scanner {
 public:
  Scanner(std::string_view text, std::string& error, size_t& error_pos)
      : text_(text), error_(error), error_pos_(error_pos) {}

  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_spaces() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool accept(std::string_view token) {
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }
  // Letters (and the two bytes of "µ") starting here.
  std::string_view word() {
    const size_t start = pos_;
    while (!at_end()) {
      const char c = text_[pos_];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        ++pos_;
      } else if (text_.substr(pos_, 2) == "\xC2\xB5") {
        pos_ += 2;
      } else {
        break;
      }
    }
    return text_.substr(start, pos_ - start);
  }
  // A decimal number with optional sign, fraction and exponent (no inf/nan/hex).
  bool number(double& out, const char* what) {
    const size_t start = pos_;
    size_t i = pos_;
    bool negative = false;
    if (i < text_.size() && (text_[i] == '+' || text_[i] == '-')) negative = text_[i++] == '-';
    auto digit = [&](size_t k) { return k < text_.size() && text_[k] >= '0' && text_[k] <= '9'; };
    if (!digit(i) && !(i < text_.size() && text_[i] == '.' && digit(i + 1))) {
      return fail(start, std::string("expected ") + what);
    }
    double v = 0;
    const char* first = text_.data() + i;
    const auto [end, ec] = std::from_chars(first, text_.data() + text_.size(), v);
    if (ec != std::errc() || !std::isfinite(v)) return fail(start, "number out of range");
    pos_ = i + static_cast<size_t>(end - first);
    out = negative ? -v : v;
    return true;
  }
  bool fail(size_t at, std::string message) {
    error_ = std::move(message);
    error_pos_ = at;
    return false;
  }

 private:
  std::string_view text_;  // the whole expression
  size_t pos_ = 0;         // byte offset of the next character to read
  std::string& error_;     // caller's error message
  size_t& error_pos_;      // caller's error offset
};

bool is_duration_aggregation(Agg a) {
  return a == Agg::kAvg || a == Agg::kMin || a == Agg::kMax || a == Agg::kMed ||
         a == Agg::kPercentile;
}

// Milliseconds per unit as a fraction (exact division keeps "100us" at exactly 0.1 ms);
// a zero numerator means the unit is unknown.
std::pair<double, double> unit_ms(std::string_view unit) {
  if (unit == "ns") return {1, 1e6};
  if (unit == "us" || unit == "\xC2\xB5s") return {1, 1e3};
  if (unit == "ms") return {1, 1};
  if (unit == "s") return {1e3, 1};
  if (unit == "m") return {60e3, 1};
  if (unit == "h") return {3600e3, 1};
  return {0, 1};
}

bool parse_aggregation(Scanner& in, ThresholdExpr& out) {
  const size_t start = in.pos();
  const std::string_view name = in.word();
  if (name.empty()) {
    return in.fail(start, std::string("expected an aggregation (") + kAggregationList + ")");
  }
  for (size_t i = 0; i < kAggregationText.size(); ++i) {
    if (name == kAggregationText[i] && name != "p") {
      out.aggregation = static_cast<Agg>(i);
      return true;
    }
  }
  if (name != "p") {
    return in.fail(start, "unknown aggregation '" + std::string(name) + "' (expected " +
                              kAggregationList + ")");
  }
  out.aggregation = Agg::kPercentile;
  in.skip_spaces();
  if (!in.accept("(")) return in.fail(in.pos(), "expected '(' after p, as in p(95)");
  in.skip_spaces();
  const size_t number_at = in.pos();
  if (!in.number(out.percentile, "a percentile between 0 and 100")) return false;
  if (out.percentile < 0 || out.percentile > 100) {
    return in.fail(number_at, "percentile must be between 0 and 100");
  }
  in.skip_spaces();
  if (!in.accept(")")) return in.fail(in.pos(), "expected ')' to close p(");
  return true;
}

bool parse_operator(Scanner& in, Op& op) {
  // Longest first; "===" is accepted as k6 does.
  static constexpr std::array<std::pair<std::string_view, Op>, 7> kOps = {{
      {"===", Op::kEq},
      {"<=", Op::kLe},
      {">=", Op::kGe},
      {"==", Op::kEq},
      {"!=", Op::kNe},
      {"<", Op::kLt},
      {">", Op::kGt},
  }};
  for (const auto& [text, o] : kOps) {
    if (in.accept(text)) {
      op = o;
      return true;
    }
  }
  return in.fail(in.pos(), std::string("expected a comparison operator (") + kOperatorList + ")");
}

// The right-hand side: a number, optionally with a unit, or several number+unit parts
// ("1m30s"). Durations end up in milliseconds.
bool parse_value(Scanner& in, Agg aggregation, double& out) {
  if (!in.number(out, "a number")) return false;
  in.skip_spaces();
  size_t unit_at = in.pos();
  std::string_view unit = in.word();
  if (unit.empty()) return true;
  double total = 0;
  while (true) {
    const auto [mul, div] = unit_ms(unit);
    if (mul == 0) {
      return in.fail(unit_at,
                     "unknown unit '" + std::string(unit) + "' (expected ns, us, ms, s, m or h)");
    }
    if (!is_duration_aggregation(aggregation)) {
      return in.fail(unit_at, "a duration unit only goes with avg, min, max, med or p(N)");
    }
    total += out * mul / div;
    if (!std::isfinite(total)) return in.fail(unit_at, "number out of range");
    if (!(in.peek() >= '0' && in.peek() <= '9')) break;
    if (!in.number(out, "a number")) return false;
    unit_at = in.pos();
    unit = in.word();
    if (unit.empty()) return in.fail(unit_at, "expected a unit after the number");
  }
  out = total;
  return true;
}

std::string number_text(double v) {
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc()) return "0";
  return std::string(buf.data(), end);
}

const char* op_text(Op op) {
  return kOpText[static_cast<size_t>(op)];
}

std::string aggregation_label(const ThresholdExpr& expr) {
  if (expr.aggregation == Agg::kPercentile) return "p(" + number_text(expr.percentile) + ")";
  return kAggregationText[static_cast<size_t>(expr.aggregation)];
}

bool compare(double observed, Op op, double value) {
  switch (op) {
    case Op::kLt:
      return observed < value;
    case Op::kLe:
      return observed <= value;
    case Op::kGt:
      return observed > value;
    case Op::kGe:
      return observed >= value;
    case Op::kEq:
      return observed == value;
    case Op::kNe:
      return observed != value;
  }
  return false;
}

ThresholdResult no_data(const ThresholdExpr& expr) {
  ThresholdResult r;
  r.text = aggregation_label(expr) + ": no data";
  return r;
}

// At the end, a filter that selects nothing (a typo in a tag value) never passes unnoticed.
ThresholdResult finish(ThresholdResult r, const ThresholdConfig& threshold,
                       const ThresholdInputs& in, bool end) {
  if (!end) return r;
  const std::string unmatched = unmatched_filters(threshold.tags, in, !r.has_data);
  if (!r.has_data || !unmatched.empty()) {
    r.warning = "selected no samples" + (unmatched.empty() ? "" : ": " + unmatched);
  }
  return r;
}

// "12.5" for a custom metric's values (a time trend's are in ms).
std::string value_text(const MetricDef& metric, double v) {
  return metric.is_time ? fmt::format("{:.2f}ms", v) : fmt::format("{:g}", v);
}

// A custom counter, gauge or trend (rates go the built-in way): fills r; leaves r.text empty
// when there is nothing to compare during the run.
void evaluate_custom(const MetricDef& metric, const Selection* sel, const ThresholdInputs& in,
                     const ThresholdExpr& expr, bool end, ThresholdResult& r) {
  const CustomFigures f = sel ? read_custom(metric, *sel) : CustomFigures();
  const std::string label = aggregation_label(expr);
  const Agg a = expr.aggregation;
  r.has_data = f.samples != 0;
  if (!r.has_data && !end) return;
  switch (metric.type) {
    case MetricType::kCounter:
      if (a == Agg::kCount) {
        r.observed = f.sum;
        r.text = fmt::format("count={:g}", f.sum);
      } else {
        r.observed = in.elapsed_seconds > 0 ? f.sum / in.elapsed_seconds : 0;
        r.text = fmt::format("rate={:.2f}/s", r.observed);
      }
      break;
    case MetricType::kGauge:
      r.observed = !r.has_data ? 0 : a == Agg::kMin ? f.min : a == Agg::kMax ? f.max : f.last;
      r.text = fmt::format("{}={:g}", label, r.observed);
      break;
    case MetricType::kTrend: {
      const Histogram h = f.trend ? *f.trend : Histogram();
      const double scaled = a == Agg::kAvg   ? h.mean()
                            : a == Agg::kMin ? static_cast<double>(h.min())
                            : a == Agg::kMax ? static_cast<double>(h.max())
                                             : h.quantile(a == Agg::kMed ? 50 : expr.percentile);
      r.observed = scaled / 1000;  // values are kept x 1000
      r.text = label + "=" + value_text(metric, r.observed);
      break;
    }
    case MetricType::kRate:
      break;
  }
  if (!r.has_data) r.text += ", no data";
  r.ok = compare(r.observed, expr.op, expr.value);
}

}  // namespace

bool parse_threshold(std::string_view text, ThresholdExpr& out, std::string& error,
                     size_t& error_pos) {
  ThresholdExpr expr;
  Scanner in(text, error, error_pos);
  in.skip_spaces();
  if (in.at_end()) return in.fail(in.pos(), "empty threshold expression (e.g. p(95)<200)");
  if (!parse_aggregation(in, expr)) return false;
  in.skip_spaces();
  if (!parse_operator(in, expr.op)) return false;
  in.skip_spaces();
  if (!parse_value(in, expr.aggregation, expr.value)) return false;
  in.skip_spaces();
  if (!in.at_end()) {
    return in.fail(in.pos(), "unexpected '" + std::string(1, in.peek()) + "' after the value");
  }
  out = expr;
  return true;
}

std::string describe(const ThresholdExpr& expr) {
  return aggregation_label(expr) + op_text(expr.op) + number_text(expr.value);
}

bool check_metric_aggregation(const std::string& metric, const ThresholdExpr& expr,
                              std::string& error) {
  const MetricDef* info = find_metric(metric);
  if (!info) {
    error = "unknown metric '" + metric + "'";
    return false;
  }
  return check_aggregation(*info, expr, error);
}

bool check_aggregation(const MetricDef& def, const ThresholdExpr& expr, std::string& error) {
  const MetricDef* info = &def;
  const std::string metric(def.name);
  const Agg a = expr.aggregation;
  const char* allowed = "";
  bool ok = false;
  switch (info->type) {
    case MetricType::kTrend:
      ok = is_duration_aggregation(a);
      allowed = "avg, min, max, med and p(N)";
      break;
    case MetricType::kRate:
      ok = a == Agg::kRate;
      allowed = "only rate";
      break;
    case MetricType::kCounter:
      ok = a == Agg::kCount || a == Agg::kRate;
      allowed = "count and rate (per second)";
      break;
    case MetricType::kGauge:
      ok = a == Agg::kValue || a == Agg::kMin || a == Agg::kMax;
      allowed = "value, min and max";
      break;
  }
  if (!ok) {
    error = "metric '" + metric + "' supports " + allowed + ", not " + aggregation_label(expr);
  }
  return ok;
}

bool check_threshold_tags(const std::string& metric, const std::map<std::string, std::string>& tags,
                          std::string& error) {
  const MetricDef* info = find_metric(metric);
  if (!info) {
    error = "unknown metric '" + metric + "'";
    return false;
  }
  return check_tags(*info, tags, error);
}

ThresholdResult evaluate_threshold(const ThresholdConfig& threshold, const ThresholdInputs& in,
                                   ThresholdPhase phase) {
  if (is_observe_metric(threshold.metric)) return evaluate_observe_threshold(threshold, in.observe);
  const ThresholdExpr& expr = threshold.parsed;
  ThresholdResult r;
  std::string error;
  const std::optional<MetricDef> def = find_metric(threshold.metric, in);
  if (!def) error = "unknown metric '" + threshold.metric + "'";
  if (!def || !check_aggregation(*def, expr, error) || !check_tags(*def, threshold.tags, error)) {
    r.ok = false;  // a threshold that cannot be evaluated never passes silently
    r.text = error;
    return r;
  }
  const bool end = phase == ThresholdPhase::kEnd;
  Selection sel;
  const bool selected = in.stats && select(threshold.tags, in, sel);
  const MetricDef& metric = *def;
  const std::string label = aggregation_label(expr);
  if (metric.custom && metric.type != MetricType::kRate) {
    evaluate_custom(metric, selected ? &sel : nullptr, in, expr, end, r);
    if (r.text.empty()) return no_data(expr);  // (during the run, without samples)
    return finish(r, threshold, in, end);
  }
  // Without samples: during the run the threshold holds; at the end k6's rule applies.
  bool verdict = true;  // compare r.observed (else the threshold holds)
  switch (metric.type) {
    case MetricType::kTrend: {
      const Histogram h = selected ? read_trend(metric, sel) : Histogram();
      r.has_data = h.count() != 0;
      if (!r.has_data) {
        if (!end) return no_data(expr);
        r.text = fmt::format("{}=0.00ms, no data", label);  // k6: an empty trend reads 0
        break;
      }
      const Agg a = expr.aggregation;
      const double us = a == Agg::kAvg   ? h.mean()
                        : a == Agg::kMin ? static_cast<double>(h.min())
                        : a == Agg::kMax ? static_cast<double>(h.max())
                                         : h.quantile(a == Agg::kMed ? 50 : expr.percentile);
      r.observed = us / 1000;
      r.text = fmt::format("{}={:.2f}ms", label, r.observed);
      break;
    }
    case MetricType::kRate: {
      const RateParts parts = selected ? read_rate(metric, sel) : RateParts{};
      r.has_data = parts.total != 0;
      if (!r.has_data) {
        r.text = label + ": no data";  // k6: an empty rate holds
        verdict = false;
        break;
      }
      r.observed = static_cast<double>(parts.part) / static_cast<double>(parts.total);
      r.text = fmt::format("rate={:.2f}% ({} of {})", r.observed * 100, parts.part, parts.total);
      break;
    }
    case MetricType::kCounter: {
      // A count of zero is a measurement, but a filter that selects nothing has no data.
      if (!selected && !end) return no_data(expr);
      const uint64_t n = selected ? read_counter(metric, sel) : 0;
      r.has_data = selected;
      if (expr.aggregation == Agg::kCount) {
        r.observed = static_cast<double>(n);
        r.text = fmt::format("count={}", n);
      } else if (in.elapsed_seconds > 0) {
        r.observed = static_cast<double>(n) / in.elapsed_seconds;
        r.text = fmt::format("rate={:.2f}/s", r.observed);
      } else {
        if (!end) return no_data(expr);
        r.has_data = false;
        r.text = "rate=0.00/s, no data";
      }
      break;
    }
    case MetricType::kGauge: {
      r.has_data = selected && !sel.scenarios.empty();
      if (!r.has_data) {
        if (!end) return no_data(expr);
        r.text = fmt::format("{}=0, no data", label);
        break;
      }
      const uint64_t n = read_gauge(metric, sel);
      r.observed = static_cast<double>(n);
      r.text = fmt::format("{}={}", label, n);
      break;
    }
  }
  r.ok = !verdict || compare(r.observed, expr.op, expr.value);
  return finish(r, threshold, in, end);
}

}  // namespace pelt
