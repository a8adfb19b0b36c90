#include "config/config_identity.h"

#include <openssl/evp.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace pelt {
namespace {

using nlohmann::json;

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// The SHA-256 of the file's bytes, or a marker when it cannot be read (the run fails on it anyway).
std::string file_text(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<unreadable " + path + ">";
  return sha256_hex(
      std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

json headers_json(const HeaderList& headers) {
  json out = json::array();
  for (const auto& [name, value] : headers) out.push_back({name, value});
  return out;
}

}  // namespace

std::string plan_identity(const RunConfig& c) {
  json j;
  j["script"] = file_text(c.script);
  j["target"] = {{"url", c.target.url},
                 {"timeout_us", c.target.timeout.count()},
                 {"headers", headers_json(c.target.headers)},
                 {"insecure", c.target.insecure}};
  json scenarios = json::array();
  for (const ScenarioConfig& s : c.scenarios) {
    json stages = json::array();
    for (const StageSpec& st : s.stages) stages.push_back({st.duration.count(), st.target});
    scenarios.push_back({{"name", s.name},
                         {"executor", executor_name(s.executor)},
                         {"vus", s.vus},
                         {"start_vus", s.start_vus},
                         {"stages", stages},
                         {"rate", s.rate},
                         {"start_rate", s.start_rate},
                         {"time_unit_us", s.time_unit.count()},
                         {"pre_allocated_vus", s.pre_allocated_vus},
                         {"max_vus", s.max_vus},
                         {"iterations", s.iterations},
                         {"duration_us", s.duration.count()},
                         {"max_duration_us", s.max_duration.count()},
                         {"start_time_us", s.start_time.count()},
                         {"graceful_stop_us", s.graceful_stop.count()},
                         {"graceful_ramp_down_us", s.graceful_ramp_down.count()},
                         {"think_time_us", {s.think_time.min.count(), s.think_time.max.count()}},
                         {"script", s.script == c.script ? "" : file_text(s.script)},
                         {"method", s.method},
                         {"path", s.path},
                         {"body", s.body},
                         {"headers", headers_json(s.headers)},
                         {"tags", s.tags},
                         {"queue_when_busy", s.queue_when_busy}});
  }
  j["scenarios"] = scenarios;
  json thresholds = json::array();
  for (const ThresholdConfig& t : c.thresholds) {
    thresholds.push_back({t.key, t.expression, t.abort_on_fail, t.delay_abort_eval.count()});
  }
  j["thresholds"] = thresholds;
  return sha256_hex(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace pelt
