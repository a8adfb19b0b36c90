// Scenario-file loader: error reporting and the typed value readers the sections share.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>
#include <string_view>

#include "config/config_loader.h"
#include "util/units.h"

namespace pelt::config_detail {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxSeconds = 1'000'000'000;  // ~31 years: longest duration accepted
constexpr std::string_view kThinkKeys[] = {"min", "max"};
constexpr char kDurationHint[] =
    "use a number with a unit (us, ms, s, m, h), e.g. \"30s\" or \"1m30s\", or a number of "
    "seconds";

// HTTP token characters (RFC 9110), used for methods and header names.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                            std::tolower(static_cast<unsigned char>(b[j - 1]))
                        ? 0
                        : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "nothing";
  }
}

std::vector<Entry> ordered(const toml::table& table) {
  std::vector<Entry> entries;
  for (auto&& [key, node] : table) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  return entries;
}

std::string closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    size_t d = edit_distance(word, candidate);
    if (d < best_distance && d < word.size()) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

void merge_headers(HeaderList& into, const HeaderList& overrides) {
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& header : overrides) {
    auto it = std::find_if(into.begin(), into.end(),
                           [&](const auto& old) { return same(old.first, header.first); });
    if (it != into.end()) {
      it->second = header.second;
    } else {
      into.push_back(header);
    }
  }
}

// Reporting

bool Loader::fail(uint32_t line, uint32_t column, const std::string& message) {
  if (error_.empty()) error_ = fmt::format("{}:{}:{}: {}", source_, line, column, message);
  return false;
}

bool Loader::fail(const toml::node& node, const std::string& message) {
  return fail(node.source().begin.line, node.source().begin.column, message);
}

bool Loader::fail(const toml::key& key, const std::string& message) {
  return fail(key.source().begin.line, key.source().begin.column, message);
}

std::string Loader::location(const toml::source_region& region) const {
  return fmt::format("{}:{}:{}", source_, region.begin.line, region.begin.column);
}

// Readers

bool Loader::check_key(const toml::key& key, std::span<const std::string_view> allowed,
                       std::string_view where) {
  std::string_view name = key.str();
  if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) return true;
  std::string guess = closest(name, allowed);
  std::string hint = guess.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", guess);
  return fail(key, fmt::format("unknown key \"{}\" {}{}; allowed keys: {}", name, where, hint,
                               join(allowed)));
}

bool Loader::read_string(const toml::node& node, const std::string& what, std::string& out) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    return fail(node, fmt::format("{} must be a string, not {}", what, type_name(node)));
  }
  std::string message;
  size_t pos = 0;
  if (!expand_vars(value->get(), vars_, out, message, pos)) {
    const auto& region = node.source();
    uint32_t column = region.begin.column;
    // Inside a one-line string the offset maps onto columns after the opening quote.
    if (region.begin.line == region.end.line) column += 1 + static_cast<uint32_t>(pos);
    return fail(region.begin.line, column, message);
  }
  return true;
}

bool Loader::read_bool(const toml::node& node, const std::string& what, bool& out) {
  const auto* value = node.as_boolean();
  if (value == nullptr) {
    return fail(node, fmt::format("{} must be true or false, not {}", what, type_name(node)));
  }
  out = value->get();
  return true;
}

bool Loader::read_number(const toml::node& node, const std::string& what, double& out) {
  if (const auto* i = node.as_integer()) {
    out = static_cast<double>(i->get());
    return true;
  }
  if (const auto* f = node.as_floating_point()) {
    if (!std::isfinite(f->get())) return fail(node, fmt::format("{} must be finite", what));
    out = f->get();
    return true;
  }
  return fail(node, fmt::format("{} must be a number, not {}", what, type_name(node)));
}

bool Loader::read_u64(const toml::node& node, const std::string& what, uint64_t min,
                      uint64_t& out) {
  uint64_t value = 0;
  if (const auto* i = node.as_integer()) {
    if (i->get() < 0) {
      return fail(node, fmt::format("{} must be at least {}, got {}", what, min, i->get()));
    }
    value = static_cast<uint64_t>(i->get());
  } else if (node.is_string()) {
    std::string text;
    if (!read_string(node, what, text)) return false;
    std::string message;
    if (!parse_count(text, value, message)) {
      return fail(node, fmt::format("bad count \"{}\" for {}: use a whole number, e.g. 100 or "
                                    "\"10k\"",
                                    text, what));
    }
  } else {
    return fail(node, fmt::format("{} must be a whole number, not {}", what, type_name(node)));
  }
  if (value < min)
    return fail(node, fmt::format("{} must be at least {}, got {}", what, min, value));
  out = value;
  return true;
}

bool Loader::read_u32(const toml::node& node, const std::string& what, uint32_t min,
                      uint32_t& out) {
  uint64_t value = 0;
  if (!read_u64(node, what, min, value)) return false;
  if (value > UINT32_MAX) {
    return fail(node, fmt::format("{} is too large ({}; at most {})", what, value, UINT32_MAX));
  }
  out = static_cast<uint32_t>(value);
  return true;
}

bool Loader::read_duration(const toml::node& node, const std::string& what,
                           std::chrono::microseconds& out) {
  if (const auto* i = node.as_integer()) {
    if (i->get() < 0) {
      return fail(node, fmt::format("{} must not be negative, got {}", what, i->get()));
    }
    if (i->get() > kMaxSeconds) return fail(node, fmt::format("{} is too long", what));
    out = std::chrono::seconds(i->get());
    return true;
  }
  if (const auto* f = node.as_floating_point()) {
    double v = f->get();
    if (!std::isfinite(v) || v < 0) {
      return fail(node, fmt::format("{} must be a non-negative number of seconds", what));
    }
    if (v > static_cast<double>(kMaxSeconds))
      return fail(node, fmt::format("{} is too long", what));
    out = std::chrono::microseconds(std::llround(v * 1e6));
    return true;
  }
  if (!node.is_string()) {
    return fail(node, fmt::format("{} must be a duration such as \"30s\" or a number of seconds, "
                                  "not {}",
                                  what, type_name(node)));
  }
  std::string text;
  if (!read_string(node, what, text)) return false;
  std::string message;
  if (!parse_duration(text, out, message)) {
    return fail(node, fmt::format("bad duration \"{}\" for {}: {}", text, what, kDurationHint));
  }
  return true;
}

bool Loader::read_rate(const toml::node& node, const std::string& what, double& out,
                       bool& per_second) {
  if (node.is_string()) {
    std::string text;
    if (!read_string(node, what, text)) return false;
    std::string message;
    if (!parse_rate(text, out, message)) {
      return fail(node, fmt::format("bad rate \"{}\" for {}: use a number (per time_unit) or a "
                                    "string such as \"100/s\" or \"1000/1m\"",
                                    text, what));
    }
    per_second = true;
  } else {
    if (!read_number(node, what, out)) return false;
    per_second = false;
  }
  if (out < 0) return fail(node, fmt::format("{} must not be negative", what));
  return true;
}

bool Loader::read_headers(const toml::node& node, const std::string& what, HeaderList& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("{} must be a table such as {{ \"Accept\" = \"*/*\" }}, not {}",
                                  what, type_name(node)));
  }
  out.clear();
  for (const auto& [key, value] : ordered(*table)) {
    std::string name(key->str());
    if (!is_token(name)) {
      return fail(
          *key, fmt::format("bad header name \"{}\" in {}: use letters, digits and -", name, what));
    }
    std::string text;
    if (!read_string(*value, what + "." + name, text)) return false;
    if (text.find_first_of("\r\n") != std::string::npos) {
      return fail(*value, fmt::format("header {} must not contain line breaks", name));
    }
    out.emplace_back(std::move(name), std::move(text));
  }
  return true;
}

bool Loader::read_tags(const toml::node& node, const std::string& what,
                       std::map<std::string, std::string>& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fail(node, fmt::format("{} must be a table such as {{ team = \"web\" }}, not {}", what,
                                  type_name(node)));
  }
  // Tags become Prometheus labels: the names must be valid label names and must not take the
  // place of a label pelt (or Prometheus, when it scrapes) sets itself.
  static const std::set<std::string_view> kReserved = {
      "scenario", "name",   "method",  "status", "reason", "stage",    "run_id", "check",
      "result",   "kind",   "version", "target", "threshold", "le",    "quantile", "job",
      "instance"};
  for (const auto& [key, value] : ordered(*table)) {
    const std::string name(key->str());
    const bool valid =
        !name.empty() && !(name[0] >= '0' && name[0] <= '9') && !name.starts_with("__") &&
        std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_';
        });
    if (!valid) {
      return fail(*key, fmt::format("bad tag name \"{}\" in {}: a tag is a Prometheus label, so use "
                                    "letters, digits and _, not starting with a digit or __",
                                    name, what));
    }
    if (kReserved.count(name) > 0) {
      return fail(*key, fmt::format("tag \"{}\" in {} is a label pelt sets itself; pick another "
                                    "name",
                                    name, what));
    }
    std::string text;
    if (!read_string(*value, what + "." + name, text)) return false;
    out[name] = std::move(text);
  }
  return true;
}

bool Loader::read_method(const toml::node& node, const std::string& what, std::string& out) {
  std::string text;
  if (!read_string(node, what, text)) return false;
  if (!is_token(text)) {
    return fail(
        node, fmt::format("bad method \"{}\" for {}: use a name such as GET or POST", text, what));
  }
  out = std::move(text);
  return true;
}

bool Loader::read_path(const toml::node& node, const std::string& what, std::string& out) {
  std::string text;
  if (!read_string(node, what, text)) return false;
  if (!text.empty() && text[0] != '/') {
    return fail(node, fmt::format("{} must start with \"/\", got \"{}\"", what, text));
  }
  if (text.find_first_of(" \r\n") != std::string::npos) {
    return fail(node, fmt::format("{} must not contain spaces or line breaks", what));
  }
  out = std::move(text);
  return true;
}

bool Loader::read_think_time(const toml::node& node, const std::string& what, ThinkTime& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    std::chrono::microseconds pause{0};
    if (!read_duration(node, what, pause)) return false;
    out = ThinkTime{pause, pause};
    return true;
  }
  const toml::node* min = nullptr;
  const toml::node* max = nullptr;
  for (const auto& [key, value] : ordered(*table)) {
    if (!check_key(*key, kThinkKeys, "in " + what)) return false;
    (key->str() == "min" ? min : max) = value;
  }
  if (min == nullptr || max == nullptr) {
    return fail(node, fmt::format("{} needs both min and max, e.g. {{ min = \"0.2s\", max = "
                                  "\"1s\" }}",
                                  what));
  }
  ThinkTime think;
  if (!read_duration(*min, what + ".min", think.min)) return false;
  if (!read_duration(*max, what + ".max", think.max)) return false;
  if (think.max < think.min) return fail(*max, fmt::format("{}.max is less than min", what));
  out = think;
  return true;
}

bool Loader::read_file_path(const toml::node& node, const std::string& what, std::string_view kind,
                            std::string& out) {
  std::string text;
  if (!read_string(node, what, text)) return false;
  if (text.empty()) return fail(node, fmt::format("{} must not be empty", what));
  fs::path path(text);
  if (path.is_relative() && !base_dir_.empty()) path = fs::path(base_dir_) / path;
  std::string resolved = path.lexically_normal().string();
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    return fail(node, fmt::format("{} not found: {}", kind, resolved));
  }
  out = std::move(resolved);
  return true;
}

}  // namespace pelt::config_detail
