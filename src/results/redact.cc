#include "results/redact.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>

extern char** environ;

namespace pelt {
namespace {

const char kRedacted[] = "[redacted]";
constexpr size_t kMaxCached = 10000;  // distinct texts remembered

bool secret_header(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n == "authorization" || n == "proxy-authorization" || n == "cookie";
}

std::string apply(std::string value, const std::vector<std::string>& secrets) {
  static const std::regex kPair(
      R"re(((?:proxy-)?authorization|set-cookie|cookie|token|secret|password|passwd|pwd|)re"
      R"re(api[_-]?key|access[_-]?key|session[_-]?id|credentials?)(\s*[:=]\s*))re"
      R"re((?:(?:bearer|basic|digest)\s+)?[^\s&;,}\])"']+)re",
      std::regex::icase | std::regex::optimize);
  static const std::regex kScheme(R"(\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,})",
                                  std::regex::icase | std::regex::optimize);
  static const std::regex kJwt(R"(eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?)",
                               std::regex::optimize);
  static const std::regex kUserinfo(R"(([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@)",
                                    std::regex::optimize);
  for (const auto& secret : secrets) {
    for (size_t pos = value.find(secret); pos != std::string::npos;
         pos = value.find(secret, pos + sizeof(kRedacted) - 1)) {
      value.replace(pos, secret.size(), kRedacted);
    }
  }
  value = std::regex_replace(value, kUserinfo, "$1");
  value = std::regex_replace(value, kPair, "$1$2[redacted]");
  value = std::regex_replace(value, kScheme, "$1 [redacted]");
  value = std::regex_replace(value, kJwt, kRedacted);
  return value;
}

std::string clean_key(const Redactor& r, const std::string& key) {
  return r.clean(key);
}

// A request's name and tag values (tags are sorted by key, which redaction does not change).
NameKey clean_key(const Redactor& r, const NameKey& key) {
  NameKey out(r.clean(key.name));
  for (const auto& [k, v] : key.tags) out.tags.emplace_back(k, r.clean(v));
  return out;
}

template <typename Map, typename Merge>
void clean_keys(Map& map, const Redactor& r, Merge merge) {
  Map out;
  for (auto& [key, value] : map) {
    auto [it, fresh] = out.try_emplace(clean_key(r, key), value);
    if (!fresh) merge(it->second, value);
  }
  map.swap(out);
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  std::erase_if(secrets_, [](const std::string& s) { return s.size() < kMinSecretLength; });
  // Longest first, so a secret containing another one is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

bool Redactor::secret_name(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY",
                           "CREDENTIAL", "PRIVATE_KEY", "COOKIE", "AUTHORIZATION"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

Redactor Redactor::for_run(const RunConfig& cfg, const std::map<std::string, std::string>& vars) {
  std::vector<std::string> out;
  auto add_headers = [&](const HeaderList& headers) {
    for (const auto& [name, value] : headers) {
      if (secret_header(name)) out.push_back(value);
    }
  };
  add_headers(cfg.target.headers);
  for (const ScenarioConfig& sc : cfg.scenarios) add_headers(sc.headers);
  for (const auto& [name, value] : vars) {
    if (secret_name(name)) out.push_back(value);
  }
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    if (secret_name(std::string_view(*e, static_cast<size_t>(eq - *e)))) out.emplace_back(eq + 1);
  }
  return Redactor(std::move(out));
}

std::string Redactor::clean(std::string_view text) const {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  auto it = cache_->map.find(std::string(text));
  if (it != cache_->map.end()) return it->second;
  std::string out = apply(std::string(text), secrets_);
  if (cache_->map.size() < kMaxCached) cache_->map.emplace(std::string(text), out);
  return out;
}

void Redactor::clean_stats(WorkerStats& s) const {
  auto add = [](uint64_t& a, uint64_t b) { a += b; };
  clean_keys(s.error_reasons, *this, add);
  for (std::string& e : s.error_samples) e = clean(e);
  for (std::string& e : s.script_error_samples) e = clean(e);
  clean_keys(s.checks, *this, [](CheckCount& a, const CheckCount& b) { a.merge(b); });
  for (ScenarioStats& sc : s.scenarios) {
    for (auto& [name, ns] : sc.names) clean_keys(ns.failure_reasons, *this, add);
    clean_keys(sc.names, *this, [](NameStats& a, const NameStats& b) { a.merge(b); });
    // A custom metric keeps its name (thresholds find it by name); its tag values are cleaned.
    std::map<NameKey, CustomFigures> custom;
    for (auto& [key, figures] : sc.custom) {
      NameKey clean_tags(key.name);
      for (const auto& [k, v] : key.tags) clean_tags.tags.emplace_back(k, clean(v));
      auto [it, fresh] = custom.try_emplace(std::move(clean_tags), figures);
      if (!fresh) it->second.merge(figures);
    }
    sc.custom.swap(custom);
  }
}

}  // namespace pelt
