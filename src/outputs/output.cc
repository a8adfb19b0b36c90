#include "outputs/output.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <iostream>

#include "outputs/push_output.h"

namespace pelt {

std::string OutputStats::summary_line() const {
  const PushStats& p = push;
  std::string line =
      fmt::format("{}: {} points sent, {} dropped", kind, p.points_sent, p.dropped());
  if (p.dropped() > 0) {
    line +=
        fmt::format(" (queue full {}, gave up after retries {}, rejected {}, unsent at the end {})",
                    p.dropped_queue_full, p.dropped_retries, p.dropped_rejected, p.dropped_unsent);
  }
  if (!p.last_error.empty() && p.dropped() > 0) line += "; last error: " + p.last_error;
  return line;
}

nlohmann::json OutputStats::to_json() const {
  const PushStats& p = push;
  return {{"type", kind},
          {"url", url},
          {"points_sent", p.points_sent},
          {"requests", p.requests_sent},
          {"retries", p.retries},
          {"dropped",
           {{"total", p.dropped()},
            {"queue_full", p.dropped_queue_full},
            {"retries", p.dropped_retries},
            {"rejected", p.dropped_rejected},
            {"unsent", p.dropped_unsent}}},
          {"last_error", p.last_error}};
}

PusherOptions pusher_options(const OutputConfig& config, const OutputRunInfo& run) {
  PusherOptions o;
  o.name = output_kind_name(config.kind);
  o.flush_interval = config.flush_interval;
  o.http.connect_timeout = run.connect_timeout;
  o.http.read_timeout = run.request_timeout;
  o.http.tls_verify = run.tls_verify;
  o.http.ca_file = run.ca_file;
  if (!run.version.empty()) o.http.user_agent = "pelt/" + run.version;
  o.warn = run.warn ? run.warn : [](const std::string& text) {
    std::cerr << "pelt: " + text + "\n" << std::flush;
  };
  return o;
}

std::optional<std::string> env_value(const OutputRunInfo& run, const std::string& name) {
  std::optional<std::string> v;
  if (run.getenv) {
    v = run.getenv(name);
  } else if (const char* raw = std::getenv(name.c_str())) {
    v = std::string(raw);
  }
  if (v && v->empty()) v.reset();
  return v;
}

std::string basic_authorization(const std::string& user, const std::string& password) {
  const std::string plain = user + ":" + password;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(n));
  return "Basic " + encoded;
}

std::vector<std::unique_ptr<Output>> make_outputs(const std::vector<OutputConfig>& configs,
                                                  const OutputRunInfo& run, std::string& error) {
  std::vector<std::unique_ptr<Output>> out;
  for (const OutputConfig& c : configs) {
    std::string e;
    std::unique_ptr<Output> o = c.kind == OutputKind::kPrometheusRw
                                    ? make_prometheus_rw_output(c, run, e)
                                    : make_influxdb_output(c, run, e);
    if (!o) {
      error = (c.origin.empty() ? std::string() : c.origin + ": ") + e;
      return {};
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace pelt
