// The one redaction policy: credentials never reach any output — the console, the JSON
// document, metric labels, or any later output. Applied once to the figures before they are
// handed to outputs (each second for live outputs, and at the end).
//
// What is removed: the values of Authorization, Proxy-Authorization and Cookie headers given
// to the run; values of variables (from -e or the environment) whose names look secret
// (TOKEN, SECRET, PASSWORD, PASSWD, API_KEY, APIKEY, CREDENTIAL, PRIVATE_KEY, COOKIE,
// AUTHORIZATION, any case); and by pattern wherever they appear: "name=value" or "name: value"
// pairs with secret-looking names, Bearer/Basic credentials, JWTs, and user:password@ in URLs.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "results/stats.h"

namespace pelt {

class Redactor {
 public:
  // Values shorter than this are too common to replace everywhere.
  static constexpr size_t kMinSecretLength = 3;

  explicit Redactor(std::vector<std::string> secrets = {});
  // The secrets of a run: header credentials of the target and every scenario, and secret-named
  // variables among `vars` (-e values) and the process environment.
  static Redactor for_run(const RunConfig& config, const std::map<std::string, std::string>& vars);

  // `text` with every secret replaced by "[redacted]" (results are cached; thread-safe).
  std::string clean(std::string_view text) const;
  // Cleans every text inside the figures: request names, error reasons and samples, check
  // names, script errors. Entries that become equal are merged.
  void clean_stats(WorkerStats& stats) const;
  // A variable name that looks like it holds a secret.
  static bool secret_name(std::string_view name);

 private:
  // Cleaned texts remembered (scrapes and ticks see the same names again and again).
  struct Cache {
    std::mutex mutex;                                    // guards map
    std::unordered_map<std::string, std::string> map;    // text -> cleaned text
  };

  std::vector<std::string> secrets_;  // values to replace, longest first
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace pelt
