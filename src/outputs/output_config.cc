#include "outputs/output_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "util/units.h"
#include "wire/url.h"

namespace pelt {
namespace {

constexpr std::array<std::string_view, 3> kKindNames = {"influxdb", "influxdb2", "prometheus-rw"};
constexpr std::array<std::string_view, 8> kReservedLabels = {
    "run_id", "scenario", "name", "method", "status", "le", "quantile", "time"};
// Query parameters that carry secrets; a URL holding one is refused.
constexpr std::array<std::string_view, 10> kSecretParams = {
    "token",  "access_token", "password",      "passwd", "pwd",
    "apikey", "api_key",      "authorization", "p",      "u"};
constexpr std::array<std::string_view, 5> kTableKeys = {"type", "url", "tags", "labels",
                                                        "flush_interval"};
constexpr auto kMinFlushInterval = std::chrono::milliseconds(100);

std::string known_kinds() {
  std::string s;
  for (std::string_view k : kKindNames) s += (s.empty() ? "" : ", ") + std::string(k);
  return s;
}

bool kind_from_name(std::string_view name, OutputKind& kind) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (name == kKindNames[i]) {
      kind = static_cast<OutputKind>(i);
      return true;
    }
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; in query strings (plus_is_space) '+' is a space too.
std::string percent_decode(std::string_view s, bool plus_is_space = true) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const char* output_kind_name(OutputKind kind) {
  return kKindNames[static_cast<size_t>(kind)].data();
}

const char* output_credentials_hint(OutputKind kind) {
  switch (kind) {
    case OutputKind::kInfluxDb:
      return "PELT_INFLUXDB_USERNAME and PELT_INFLUXDB_PASSWORD";
    case OutputKind::kInfluxDb2:
      return "PELT_INFLUXDB_TOKEN";
    case OutputKind::kPrometheusRw:
      return "PELT_RW_USERNAME and PELT_RW_PASSWORD, or PELT_RW_BEARER_TOKEN";
  }
  return "";
}

bool check_label_name(std::string_view name, std::string& error) {
  const bool valid =
      !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
      std::all_of(name.begin(), name.end(),
                  [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  if (!valid) {
    error = fmt::format(
        "bad label name \"{}\": use letters, digits and _, not starting with a digit", name);
    return false;
  }
  if (name.starts_with("__")) {
    error = fmt::format("bad label name \"{}\": names starting with __ are reserved", name);
    return false;
  }
  if (std::find(kReservedLabels.begin(), kReservedLabels.end(), name) != kReservedLabels.end()) {
    error = fmt::format("label \"{}\" is set by pelt itself; choose another name", name);
    return false;
  }
  return true;
}

bool split_output_url(OutputKind kind, const std::string& url, OutputEndpoint& out,
                      std::string& error) {
  out = OutputEndpoint{};
  const std::string kind_name = output_kind_name(kind);
  Url u;
  std::string url_error;
  if (!parse_url(url, u, url_error)) {
    error = kind_name + ": " + url_error;
    return false;
  }
  if (!u.userinfo.empty()) {
    error = kind_name + ": the URL must not hold user:password@; set " +
            output_credentials_hint(kind) + " in the environment instead";
    return false;
  }
  out.origin = u.scheme + "://" + u.host_header();
  const size_t q = u.path_query.find('?');
  out.path = u.path_query.substr(0, q);
  const size_t hash = out.path.find('#');
  if (hash != std::string::npos) out.path.resize(hash);
  std::string_view query =
      q == std::string::npos ? std::string_view() : std::string_view(u.path_query).substr(q + 1);
  if (const size_t h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = percent_decode(pair.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (std::find(kSecretParams.begin(), kSecretParams.end(), lower(key)) != kSecretParams.end()) {
      error = kind_name + ": the URL carries a credential (\"" + key +
              "=\"); secrets are never taken from the command line or the scenario file: set " +
              output_credentials_hint(kind) + " in the environment";
      return false;
    }
    out.query[key] = value;
  }
  if (kind == OutputKind::kPrometheusRw) {
    if (out.path.empty() || out.path == "/") {
      error = kind_name + ": \"" + url +
              "\" has no path; Prometheus receives remote write at /api/v1/write";
      return false;
    }
    return true;
  }
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  for (const auto& [key, value] : out.query) {
    const bool known =
        kind == OutputKind::kInfluxDb ? key == "rp" : (key == "org" || key == "bucket");
    if (!known) {
      error = kind_name + ": unknown URL parameter \"" + key +
              "\" (known: " + (kind == OutputKind::kInfluxDb ? "rp" : "org, bucket") + ")";
      return false;
    }
  }
  if (kind == OutputKind::kInfluxDb) {
    const size_t slash = out.path.rfind('/');
    out.database = percent_decode(out.path.substr(slash + 1), false);
    out.path_prefix = out.path.substr(0, slash);
    if (out.database.empty()) {
      error = kind_name + ": \"" + url +
              "\" names no database; write it as the URL path, e.g. http://127.0.0.1:8086/pelt";
      return false;
    }
  }
  return true;
}

std::vector<OutputConfig> parse_out_flags(const std::vector<std::string>& values,
                                          std::string& error) {
  std::vector<OutputConfig> out;
  for (const std::string& value : values) {
    const size_t eq = value.find('=');
    const std::string kind_text = value.substr(0, eq);
    OutputConfig config;
    config.origin = "--out";
    if (eq == std::string::npos || eq == 0) {
      error =
          "--out \"" + value + "\": expected KIND=URL, e.g. influxdb=http://127.0.0.1:8086/pelt";
      return {};
    }
    if (!kind_from_name(kind_text, config.kind)) {
      error = "--out: unknown output \"" + kind_text + "\" (known: " + known_kinds() + ")";
      return {};
    }
    config.url = value.substr(eq + 1);
    OutputEndpoint endpoint;
    if (!split_output_url(config.kind, config.url, endpoint, error)) {
      error = "--out " + error;
      return {};
    }
    out.push_back(std::move(config));
  }
  return out;
}

bool parse_out_labels(const std::vector<std::string>& values,
                      std::map<std::string, std::string>& out, std::string& error) {
  for (const std::string& value : values) {
    const size_t eq = value.find('=');
    if (eq == std::string::npos) {
      error = "--out-label \"" + value + "\": expected KEY=VALUE, e.g. env=ci";
      return false;
    }
    const std::string key = value.substr(0, eq);
    std::string name_error;
    if (!check_label_name(key, name_error)) {
      error = "--out-label: " + name_error;
      return false;
    }
    if (eq + 1 == value.size()) {
      error = "--out-label \"" + value + "\": the value is empty";
      return false;
    }
    out[key] = value.substr(eq + 1);
  }
  return true;
}

void add_output_labels(std::vector<OutputConfig>& outputs,
                       const std::map<std::string, std::string>& labels) {
  for (OutputConfig& o : outputs) {
    for (const auto& [k, v] : labels) o.tags[k] = v;
  }
}

std::vector<OutputConfig> parse_output_tables(const toml::node& outputs, const std::string& source,
                                              std::string& error) {
  const auto where = [&](const toml::node& n) {
    return fmt::format("{}:{}:{}", source, n.source().begin.line, n.source().begin.column);
  };
  const toml::array* array = outputs.as_array();
  if (array == nullptr) {
    error = where(outputs) + ": outputs must be an array of tables: write each as [[outputs]]";
    return {};
  }
  std::vector<OutputConfig> out;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& entry = *array->get(i);
    const std::string name = fmt::format("outputs[{}]", i);
    const toml::table* table = entry.as_table();
    if (table == nullptr) {
      error = where(entry) + ": " + name + " must be a table with type and url";
      return {};
    }
    OutputConfig config;
    config.origin = where(entry);
    const toml::node* type = table->get("type");
    const toml::node* url = table->get("url");
    for (const auto& [key, value] : *table) {
      if (std::find(kTableKeys.begin(), kTableKeys.end(), key.str()) == kTableKeys.end()) {
        error = fmt::format(
            "{}: {}: unknown key \"{}\" (known: type, url, tags, labels, "
            "flush_interval)",
            where(value), name, key.str());
        return {};
      }
    }
    if (type == nullptr || !type->is_string()) {
      error = (type ? where(*type) : where(entry)) + ": " + name +
              ".type must be a string, one of " + known_kinds();
      return {};
    }
    if (!kind_from_name(type->value_or(std::string()), config.kind)) {
      error = where(*type) + ": " + name + ": unknown output type \"" +
              type->value_or(std::string()) + "\" (known: " + known_kinds() + ")";
      return {};
    }
    if (url == nullptr || !url->is_string()) {
      error = (url ? where(*url) : where(entry)) + ": " + name + ".url must be a string";
      return {};
    }
    config.url = url->value_or(std::string());
    OutputEndpoint endpoint;
    if (std::string e; !split_output_url(config.kind, config.url, endpoint, e)) {
      error = where(*url) + ": " + name + ": " + e;
      return {};
    }
    if (table->contains("tags") && table->contains("labels")) {
      error = where(*table->get("labels")) + ": " + name +
              ": use either tags or labels (they mean the same), not both";
      return {};
    }
    for (const char* key : {"tags", "labels"}) {
      const toml::node* tags = table->get(key);
      if (tags == nullptr) continue;
      const toml::table* t = tags->as_table();
      if (t == nullptr) {
        error = where(*tags) + ": " + name + "." + key + " must be a table, e.g. { env = \"ci\" }";
        return {};
      }
      for (const auto& [k, v] : *t) {
        std::string e;
        if (!check_label_name(k.str(), e)) {
          error = where(v) + ": " + name + "." + key + ": " + e;
          return {};
        }
        if (!v.is_string() || v.value_or(std::string()).empty()) {
          error = where(v) + ": " + name + "." + key + "." + std::string(k.str()) +
                  " must be a non-empty string";
          return {};
        }
        config.tags[std::string(k.str())] = v.value_or(std::string());
      }
    }
    if (const toml::node* fi = table->get("flush_interval")) {
      std::chrono::microseconds us{};
      std::string e;
      bool ok = false;
      if (fi->is_string()) {
        ok = parse_duration(fi->value_or(std::string()), us, e);
      } else if (fi->is_integer() || fi->is_floating_point()) {
        us = std::chrono::microseconds(static_cast<long long>(fi->value_or(0.0) * 1e6));
        ok = true;
      } else {
        e = "expected a duration such as \"5s\"";
      }
      if (ok && us < kMinFlushInterval) {
        ok = false;
        e = "must be at least 100ms";
      }
      if (!ok) {
        error = where(*fi) + ": " + name + ".flush_interval: " + e;
        return {};
      }
      config.flush_interval = std::chrono::duration_cast<std::chrono::milliseconds>(us);
    }
    out.push_back(std::move(config));
  }
  return out;
}

}  // namespace pelt
