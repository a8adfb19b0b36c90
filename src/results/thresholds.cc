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
#include "results/stats.h"

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

enum class MetricKind { kUnknown, kDuration, kRate, kCounter, kGauge };

// Tag filters a metric may carry (bit set).
enum TagBit : unsigned {
  kTagScenario = 1,
  kTagName = 2,
  kTagMethod = 4,
  kTagStatus = 8,
  kTagStage = 16,
  kTagCheck = 32,
};

struct MetricInfo {
  std::string_view name;  // metric name as written in [thresholds]
  MetricKind kind;        // family of aggregations it supports
  unsigned tags;          // TagBit set of the filters it supports
};

constexpr unsigned kRequestTags = kTagScenario | kTagName | kTagMethod | kTagStage;

constexpr std::array<MetricInfo, 14> kMetrics = {{
    {"http_req_duration", MetricKind::kDuration, kRequestTags},
    {"send_lag", MetricKind::kDuration, 0},
    {"http_req_connecting", MetricKind::kDuration, 0},
    {"http_req_tls_handshaking", MetricKind::kDuration, 0},
    {"http_req_waiting", MetricKind::kDuration, 0},
    {"http_req_failed", MetricKind::kRate, kRequestTags},
    {"checks", MetricKind::kRate, kTagCheck},
    {"http_reqs", MetricKind::kCounter, kRequestTags | kTagStatus},
    {"iterations", MetricKind::kCounter, kTagScenario},
    {"dropped_iterations", MetricKind::kCounter, kTagScenario | kTagStage},
    {"data_sent", MetricKind::kCounter, 0},
    {"data_received", MetricKind::kCounter, 0},
    {"vus", MetricKind::kGauge, kTagScenario},
    {"vus_max", MetricKind::kGauge, kTagScenario},
}};

const MetricInfo* find_metric(const std::string& metric) {
  for (const MetricInfo& m : kMetrics) {
    if (metric == m.name) return &m;
  }
  return nullptr;
}

// A built-in tag's bit; 0 for the scenarios' own tags (from their `tags` tables).
unsigned tag_bit(const std::string& tag) {
  if (tag == "scenario") return kTagScenario;
  if (tag == "name") return kTagName;
  if (tag == "method") return kTagMethod;
  if (tag == "status") return kTagStatus;
  if (tag == "stage") return kTagStage;
  if (tag == "check") return kTagCheck;
  return 0;
}

// What a tag filters: a scenario tag selects scenarios, as `scenario` does.
unsigned filter_bit(const std::string& tag) {
  const unsigned bit = tag_bit(tag);
  return bit != 0 ? bit : kTagScenario;
}

// A non-negative decimal integer of at most `max` (whole string).
std::optional<uint64_t> parse_index(const std::string& text, uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

const std::string* tag_value(const std::map<std::string, std::string>& tags, const char* key) {
  const auto it = tags.find(key);
  return it == tags.end() ? nullptr : &it->second;
}

// The parts of WorkerStats a threshold's tags select.
struct Selection {
  const WorkerStats* stats = nullptr;           // merged totals
  std::vector<const ScenarioStats*> scenarios;  // the scenarios in scope
  const std::string* name = nullptr;            // name filter, or none
  const std::string* method = nullptr;          // method filter, or none
  std::optional<int> status;                    // status filter, or none
  std::optional<size_t> stage;                  // stage filter, or none
  const std::string* check = nullptr;           // check filter, or none
  bool scenario_filter = false;                 // a scenario tag was given

  bool by_name() const { return name || method || scenario_filter; }
  // NameStats in scope.
  template <typename F>
  void for_each_name(F&& f) const {
    for (const ScenarioStats* sc : scenarios) {
      for (const auto& [n, ns] : sc->names) {
        if (name && n != *name) continue;
        if (method && ns.method != *method) continue;
        f(ns);
      }
    }
  }
  // StageStats of the selected stage in every scenario in scope.
  template <typename F>
  void for_each_stage(F&& f) const {
    for (const ScenarioStats* sc : scenarios) {
      if (*stage < sc->stages.size()) f(sc->stages[*stage]);
    }
  }
};

// Fills `sel`; false when the tags select nothing that exists (no data).
bool select_scope(const ThresholdConfig& th, const ThresholdInputs& in, Selection& sel) {
  sel.stats = in.stats;
  sel.name = tag_value(th.tags, "name");
  sel.method = tag_value(th.tags, "method");
  sel.check = tag_value(th.tags, "check");
  if (const std::string* s = tag_value(th.tags, "status")) {
    sel.status = static_cast<int>(*parse_index(*s, 599));  // validated by check_threshold_tags
  }
  if (const std::string* s = tag_value(th.tags, "stage")) {
    sel.stage = static_cast<size_t>(*parse_index(*s, UINT32_MAX));
  }
  const std::string* scenario = tag_value(th.tags, "scenario");
  bool own_tags = false;  // the filter names tags of the scenarios' `tags` tables
  for (const auto& [tag, value] : th.tags) own_tags = own_tags || tag_bit(tag) == 0;
  sel.scenario_filter = scenario != nullptr || own_tags;
  for (size_t i = 0; i < in.stats->scenarios.size(); ++i) {
    if (scenario) {
      if (!in.scenario_names || i >= in.scenario_names->size()) return false;
      if ((*in.scenario_names)[i] != *scenario) continue;
    }
    if (own_tags) {
      if (!in.scenario_tags || i >= in.scenario_tags->size()) continue;
      const auto& have = (*in.scenario_tags)[i];
      bool match = true;
      for (const auto& [tag, value] : th.tags) {
        if (tag_bit(tag) != 0) continue;
        const auto it = have.find(tag);
        match = match && it != have.end() && it->second == value;
      }
      if (!match) continue;
    }
    sel.scenarios.push_back(&in.stats->scenarios[i]);
  }
  return !(sel.scenario_filter && sel.scenarios.empty());
}

// Requests in scope of the NameStats filter: responses plus requests that got none.
void name_totals(const Selection& sel, uint64_t& total, uint64_t& failed) {
  total = failed = 0;
  sel.for_each_name([&](const NameStats& ns) {
    uint64_t failed_responses = 0;
    for (const auto& [code, n] : ns.status) failed_responses += code >= 400 ? n : 0;
    const uint64_t no_response = ns.failed - std::min(ns.failed, failed_responses);
    total += ns.requests + no_response;
    failed += ns.failed;
  });
}

// http_req_duration and friends: the histogram in scope (microseconds).
Histogram duration_histogram(const std::string& metric, const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  if (metric == "send_lag") return st.send_lag;
  if (metric == "http_req_connecting") return st.connect_time;
  if (metric == "http_req_tls_handshaking") return st.tls_time;
  if (metric == "http_req_waiting") return st.waiting;
  Histogram h;
  if (sel.stage) {
    sel.for_each_stage([&](const StageStats& s) { h.merge(s.latency); });
  } else if (sel.by_name()) {
    sel.for_each_name([&](const NameStats& ns) { h.merge(ns.latency); });
  } else {
    h = st.latency;
  }
  return h;
}

// http_req_failed and checks: (bad or passing, total).
std::pair<uint64_t, uint64_t> rate_parts(const std::string& metric, const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  uint64_t part = 0;
  uint64_t total = 0;
  if (metric == "checks") {
    for (const auto& [name, c] : st.checks) {
      if (sel.check && name != *sel.check) continue;
      part += c.passes;
      total += c.passes + c.fails;
    }
  } else if (sel.stage) {
    // Stage figures do not split failed responses from missing ones; a failure without a
    // response is counted as if it had one.
    uint64_t requests = 0;
    sel.for_each_stage([&](const StageStats& s) {
      requests += s.requests;
      part += s.failed;
    });
    total = std::max(requests, part);
  } else if (sel.by_name()) {
    name_totals(sel, total, part);
  } else {
    uint64_t failed_responses = 0;
    for (size_t code = 400; code < st.status.size(); ++code) failed_responses += st.status[code];
    part = st.ledger.failed + st.ledger.timed_out + failed_responses;
    total = st.ledger.completed + st.ledger.failed + st.ledger.timed_out;
  }
  return {part, total};
}

// Counters: the count in scope.
uint64_t counter_value(const std::string& metric, const Selection& sel) {
  const WorkerStats& st = *sel.stats;
  uint64_t n = 0;
  if (metric == "data_sent") return st.bytes_written;
  if (metric == "data_received") return st.bytes_read;
  if (metric == "iterations") {
    for (const ScenarioStats* sc : sel.scenarios) n += sc->iterations;
  } else if (metric == "dropped_iterations") {
    if (sel.stage) {
      sel.for_each_stage([&](const StageStats& s) { n += s.dropped_iterations; });
    } else {
      for (const ScenarioStats* sc : sel.scenarios) n += sc->dropped_iterations;
    }
  } else if (sel.stage) {  // http_reqs
    sel.for_each_stage([&](const StageStats& s) { n += s.requests; });
  } else if (sel.status) {
    if (sel.by_name()) {
      sel.for_each_name([&](const NameStats& ns) {
        const auto it = ns.status.find(*sel.status);
        n += it == ns.status.end() ? 0 : it->second;
      });
    } else {
      n = st.status[static_cast<size_t>(*sel.status)];
    }
  } else if (sel.by_name()) {
    uint64_t failed = 0;
    name_totals(sel, n, failed);
  } else {
    n = st.ledger.completed + st.ledger.failed + st.ledger.timed_out;
  }
  return n;
}

ThresholdResult no_data(const ThresholdExpr& expr) {
  ThresholdResult r;
  r.text = aggregation_label(expr) + ": no data";
  return r;
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
  const MetricInfo* info = find_metric(metric);
  if (!info) {
    error = "unknown metric '" + metric + "'";
    return false;
  }
  const Agg a = expr.aggregation;
  const char* allowed = "";
  bool ok = false;
  switch (info->kind) {
    case MetricKind::kDuration:
      ok = is_duration_aggregation(a);
      allowed = "avg, min, max, med and p(N)";
      break;
    case MetricKind::kRate:
      ok = a == Agg::kRate;
      allowed = "only rate";
      break;
    case MetricKind::kCounter:
      ok = a == Agg::kCount || a == Agg::kRate;
      allowed = "count and rate (per second)";
      break;
    case MetricKind::kGauge:
      ok = a == Agg::kValue || a == Agg::kMin || a == Agg::kMax;
      allowed = "value, min and max";
      break;
    case MetricKind::kUnknown:
      break;
  }
  if (!ok) {
    error = "metric '" + metric + "' supports " + allowed + ", not " + aggregation_label(expr);
  }
  return ok;
}

bool check_threshold_tags(const std::string& metric, const std::map<std::string, std::string>& tags,
                          std::string& error) {
  const MetricInfo* info = find_metric(metric);
  if (!info) {
    error = "unknown metric '" + metric + "'";
    return false;
  }
  for (const auto& [tag, value] : tags) {
    const unsigned bit = filter_bit(tag);
    if (!(bit & info->tags)) {
      error = "metric '" + metric + "' cannot be filtered by tag '" + tag + "'";
      return false;
    }
    if (bit == kTagStage && !parse_index(value, UINT32_MAX)) {
      error = "stage must be a stage index (0, 1, ...), not '" + value + "'";
      return false;
    }
    if (bit == kTagStatus && !parse_index(value, 599)) {
      error = "status must be a status code (100..599), not '" + value + "'";
      return false;
    }
  }
  const bool stage = tags.count("stage") != 0;
  if (stage && (tags.count("name") || tags.count("method") || tags.count("status"))) {
    error = "stage can only be combined with scenario";
    return false;
  }
  return true;
}

ThresholdResult evaluate_threshold(const ThresholdConfig& threshold, const ThresholdInputs& in) {
  const ThresholdExpr& expr = threshold.parsed;
  ThresholdResult r;
  std::string error;
  if (!check_metric_aggregation(threshold.metric, expr, error) ||
      !check_threshold_tags(threshold.metric, threshold.tags, error)) {
    r.ok = false;  // a threshold that cannot be evaluated never passes silently
    r.text = error;
    return r;
  }
  Selection sel;
  if (!in.stats || !select_scope(threshold, in, sel)) return no_data(expr);
  const std::string label = aggregation_label(expr);
  switch (find_metric(threshold.metric)->kind) {
    case MetricKind::kDuration: {
      const Histogram h = duration_histogram(threshold.metric, sel);
      if (h.count() == 0) return no_data(expr);
      const Agg a = expr.aggregation;
      const double us =
          a == Agg::kAvg   ? h.mean()
          : a == Agg::kMin ? static_cast<double>(h.min())
          : a == Agg::kMax
              ? static_cast<double>(h.max())
              : static_cast<double>(h.percentile(a == Agg::kMed ? 50 : expr.percentile));
      r.observed = us / 1000;
      r.text = fmt::format("{}={:.2f}ms", label, r.observed);
      break;
    }
    case MetricKind::kRate: {
      const auto [part, total] = rate_parts(threshold.metric, sel);
      if (total == 0) return no_data(expr);
      r.observed = static_cast<double>(part) / static_cast<double>(total);
      r.text = fmt::format("rate={:.2f}% ({} of {})", r.observed * 100, part, total);
      break;
    }
    case MetricKind::kCounter: {
      const uint64_t n = counter_value(threshold.metric, sel);
      if (expr.aggregation == Agg::kCount) {
        r.observed = static_cast<double>(n);
        r.text = fmt::format("count={}", n);
      } else {
        if (!(in.elapsed_seconds > 0)) return no_data(expr);
        r.observed = static_cast<double>(n) / in.elapsed_seconds;
        r.text = fmt::format("rate={:.2f}/s", r.observed);
      }
      break;
    }
    case MetricKind::kGauge: {
      // Only the current snapshot is known, so value, min and max all read it.
      if (sel.scenarios.empty()) return no_data(expr);
      uint64_t n = 0;
      for (const ScenarioStats* sc : sel.scenarios) {
        n += threshold.metric == "vus" ? sc->vus : sc->vus_max;
      }
      r.observed = static_cast<double>(n);
      r.text = fmt::format("{}={}", label, n);
      break;
    }
    case MetricKind::kUnknown:
      break;
  }
  r.has_data = true;
  r.ok = compare(r.observed, expr.op, expr.value);
  return r;
}

}  // namespace pelt
