#include "results/summary_stats.h"

#include <stdexcept>

namespace pelt {
namespace {

using nlohmann::json;

json requests_json(const RequestCounts& r) {
  return {{"responses", r.responses},
          {"failed_responses", r.failed_responses},
          {"no_response", r.no_response}};
}

void read_requests(const json& j, RequestCounts& r) {
  r.responses = j.at("responses").get<uint64_t>();
  r.failed_responses = j.at("failed_responses").get<uint64_t>();
  r.no_response = j.at("no_response").get<uint64_t>();
}

// Decodes an "h1" histogram; throws with the message on bad text, so the
// caller's one catch names the problem.
void read_histogram(const json& j, Histogram& h) {
  std::string error;
  if (!Histogram::decode(j.get<std::string>(), h, error)) {
    throw std::runtime_error("bad histogram: " + error);
  }
}

constexpr const char* kHistograms[] = {"latency",  "service", "send_lag",    "connect_time",
                                       "tls_time", "waiting", "req_per_sec", "blocked",
                                       "receiving"};
// Histograms a summary from an older pelt may lack (read as empty).
constexpr size_t kFirstOptionalHistogram = 7;

Histogram WorkerStats::*histogram_member(size_t i) {
  static Histogram WorkerStats::*const kMembers[] = {
      &WorkerStats::latency,      &WorkerStats::service,  &WorkerStats::send_lag,
      &WorkerStats::connect_time, &WorkerStats::tls_time, &WorkerStats::waiting,
      &WorkerStats::req_per_sec,  &WorkerStats::blocked,  &WorkerStats::receiving};
  return kMembers[i];
}

constexpr const char* kCustomKinds[] = {"counter", "gauge", "rate", "trend"};

json tags_json(const TagSet& tags) {
  json o = json::object();
  for (const auto& [k, v] : tags) o[k] = v;
  return o;
}

// Tags as written by tags_json (an object; its keys come back sorted, as a TagSet keeps them).
TagSet read_tags(const json& j) {
  TagSet tags;
  for (const auto& [k, v] : j.items()) tags.emplace_back(k, v.get<std::string>());
  return tags;
}

json custom_json(const NameKey& key, const CustomFigures& f) {
  json o = {{"name", key.name},
            {"tags", tags_json(key.tags)},
            {"kind", kCustomKinds[static_cast<size_t>(f.kind)]},
            {"is_time", f.is_time},
            {"samples", f.samples},
            {"sum", f.sum},
            {"nonzero", f.nonzero},
            {"min", f.min},
            {"max", f.max},
            {"last", f.last},
            {"last_ns", f.last_ns}};
  if (f.trend) o["trend"] = f.trend->encode();
  return o;
}

void read_custom(const json& j, std::map<NameKey, CustomFigures>& out) {
  const std::string kind = j.at("kind").get<std::string>();
  size_t k = 0;
  while (k < std::size(kCustomKinds) && kind != kCustomKinds[k]) ++k;
  if (k == std::size(kCustomKinds)) throw std::runtime_error("bad custom metric kind " + kind);
  CustomFigures f(static_cast<CustomKind>(k), j.at("is_time").get<bool>());
  f.samples = j.at("samples").get<uint64_t>();
  f.sum = j.at("sum").get<double>();
  f.nonzero = j.at("nonzero").get<uint64_t>();
  f.min = j.at("min").get<double>();
  f.max = j.at("max").get<double>();
  f.last = j.at("last").get<double>();
  f.last_ns = j.at("last_ns").get<uint64_t>();
  if (j.contains("trend")) {
    f.trend = std::make_unique<Histogram>();
    read_histogram(j.at("trend"), *f.trend);
  }
  out[NameKey(j.at("name").get<std::string>(), read_tags(j.at("tags")))] = std::move(f);
}

}  // namespace

json stats_to_json(const WorkerStats& s) {
  json j;
  j["ledger"] = {{"sent", s.ledger.sent},
                 {"completed", s.ledger.completed},
                 {"failed", s.ledger.failed},
                 {"timed_out", s.ledger.timed_out},
                 {"in_flight", s.ledger.in_flight}};
  j["errors"] = {{"connect", s.errors.connect},
                 {"read", s.errors.read},
                 {"write", s.errors.write},
                 {"timeout", s.errors.timeout},
                 {"status", s.errors.status}};
  j["error_reasons"] = s.error_reasons;
  j["error_samples"] = s.error_samples;
  j["bytes_read"] = s.bytes_read;
  j["bytes_written"] = s.bytes_written;
  j["connects"] = s.connects;
  j["reconnects"] = s.reconnects;
  j["tls_handshakes"] = s.tls_handshakes;
  j["tls_resumed"] = s.tls_resumed;
  json status = json::object();
  for (size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code]) status[std::to_string(code)] = s.status[code];
  }
  j["status"] = status;
  json hist = json::object();
  for (size_t i = 0; i < std::size(kHistograms); ++i)
    hist[kHistograms[i]] = (s.*histogram_member(i)).encode();
  j["histograms_us"] = hist;
  json scenarios = json::array();
  for (const ScenarioStats& sc : s.scenarios) {
    json stages = json::array();
    for (const StageStats& st : sc.stages) {
      json o = requests_json(st.requests);
      o["dropped_iterations"] = st.dropped_iterations;
      o["latency_us"] = st.latency.encode();
      stages.push_back(o);
    }
    json names = json::array();
    for (const auto& [key, ns] : sc.names) {
      json o = requests_json(ns.requests);
      o["name"] = key.name;
      if (!key.tags.empty()) o["tags"] = tags_json(key.tags);
      o["method"] = ns.method;
      json codes = json::object();
      for (const auto& [code, n] : ns.status) codes[std::to_string(code)] = n;
      o["status"] = codes;
      o["failure_reasons"] = ns.failure_reasons;
      o["latency_us"] = ns.latency.encode();
      if (!ns.splits.empty()) {
        json splits = json::object();
        for (const auto& [split, h] : ns.splits) splits[std::to_string(split)] = h.encode();
        o["splits_us"] = splits;
      }
      names.push_back(o);
    }
    json custom = json::array();
    for (const auto& [key, f] : sc.custom) custom.push_back(custom_json(key, f));
    scenarios.push_back({{"iterations", sc.iterations},
                         {"dropped_iterations", sc.dropped_iterations},
                         {"interrupted_iterations", sc.interrupted_iterations},
                         {"vus_max", sc.vus_max},
                         {"stages", stages},
                         {"names", names},
                         {"iteration_duration_us", sc.iteration_duration.encode()},
                         {"capped_tags", sc.capped_tags},
                         {"custom", custom}});
  }
  j["scenarios"] = scenarios;
  json checks = json::array();
  for (const auto& [name, c] : s.checks)
    checks.push_back({{"name", name}, {"passes", c.passes}, {"fails", c.fails}});
  j["checks"] = checks;
  j["script_errors"] = s.script_errors;
  j["script_error_samples"] = s.script_error_samples;
  if (s.http2.used()) {
    json h2 = json::object();
    for (const Http2Counter& c : kHttp2Counters) h2[c.name] = s.http2.*c.member;
    h2["peer_max_concurrent_streams"] = s.http2.peer_max_concurrent_streams;
    j["http2"] = h2;
  }
  return j;
}

bool stats_from_json(const json& j, WorkerStats& s, std::string& error) {
  try {
    const json& l = j.at("ledger");
    s.ledger.sent = l.at("sent").get<uint64_t>();
    s.ledger.completed = l.at("completed").get<uint64_t>();
    s.ledger.failed = l.at("failed").get<uint64_t>();
    s.ledger.timed_out = l.at("timed_out").get<uint64_t>();
    s.ledger.in_flight = l.at("in_flight").get<uint64_t>();
    const json& e = j.at("errors");
    s.errors.connect = e.at("connect").get<uint64_t>();
    s.errors.read = e.at("read").get<uint64_t>();
    s.errors.write = e.at("write").get<uint64_t>();
    s.errors.timeout = e.at("timeout").get<uint64_t>();
    s.errors.status = e.at("status").get<uint64_t>();
    s.error_reasons = j.at("error_reasons").get<std::map<std::string, uint64_t>>();
    s.error_samples = j.at("error_samples").get<std::vector<std::string>>();
    s.bytes_read = j.at("bytes_read").get<uint64_t>();
    s.bytes_written = j.at("bytes_written").get<uint64_t>();
    s.connects = j.at("connects").get<uint64_t>();
    s.reconnects = j.at("reconnects").get<uint64_t>();
    s.tls_handshakes = j.at("tls_handshakes").get<uint64_t>();
    s.tls_resumed = j.at("tls_resumed").get<uint64_t>();
    for (const auto& [code, n] : j.at("status").items()) {
      const unsigned long c = std::stoul(code);
      if (c >= s.status.size()) throw std::runtime_error("bad status code " + code);
      s.status[c] = n.get<uint64_t>();
    }
    const json& hist = j.at("histograms_us");
    for (size_t i = 0; i < std::size(kHistograms); ++i) {
      if (i >= kFirstOptionalHistogram && !hist.contains(kHistograms[i])) continue;
      read_histogram(hist.at(kHistograms[i]), s.*histogram_member(i));
    }
    s.scenarios.clear();
    for (const json& sj : j.at("scenarios")) {
      ScenarioStats sc;
      sc.iterations = sj.at("iterations").get<uint64_t>();
      sc.dropped_iterations = sj.at("dropped_iterations").get<uint64_t>();
      sc.interrupted_iterations = sj.at("interrupted_iterations").get<uint64_t>();
      sc.vus_max = sj.at("vus_max").get<uint32_t>();
      for (const json& st : sj.at("stages")) {
        StageStats stage;
        read_requests(st, stage.requests);
        stage.dropped_iterations = st.at("dropped_iterations").get<uint64_t>();
        read_histogram(st.at("latency_us"), stage.latency);
        sc.stages.push_back(std::move(stage));
      }
      for (const json& nj : sj.at("names")) {
        NameStats ns;
        read_requests(nj, ns.requests);
        ns.method = nj.at("method").get<std::string>();
        for (const auto& [code, n] : nj.at("status").items())
          ns.status[std::stoi(code)] = n.get<uint64_t>();
        ns.failure_reasons = nj.at("failure_reasons").get<std::map<std::string, uint64_t>>();
        read_histogram(nj.at("latency_us"), ns.latency);
        if (nj.contains("splits_us")) {
          for (const auto& [split, h] : nj.at("splits_us").items())
            read_histogram(h, ns.splits[static_cast<uint32_t>(std::stoul(split))]);
        }
        NameKey key(nj.at("name").get<std::string>(),
                    nj.contains("tags") ? read_tags(nj.at("tags")) : TagSet{});
        sc.names[std::move(key)] = std::move(ns);
      }
      if (sj.contains("iteration_duration_us"))
        read_histogram(sj.at("iteration_duration_us"), sc.iteration_duration);
      if (sj.contains("capped_tags"))
        sc.capped_tags = sj.at("capped_tags").get<std::set<std::string>>();
      if (sj.contains("custom")) {
        for (const json& cj : sj.at("custom")) read_custom(cj, sc.custom);
      }
      s.scenarios.push_back(std::move(sc));
    }
    for (const json& c : j.at("checks")) {
      s.checks[c.at("name").get<std::string>()] = {c.at("passes").get<uint64_t>(),
                                                   c.at("fails").get<uint64_t>()};
    }
    s.script_errors = j.at("script_errors").get<uint64_t>();
    s.script_error_samples = j.at("script_error_samples").get<std::vector<std::string>>();
    if (j.contains("http2")) {
      const json& h2 = j.at("http2");
      for (const Http2Counter& c : kHttp2Counters)
        s.http2.*c.member = h2.at(c.name).get<uint64_t>();
      s.http2.peer_max_concurrent_streams = h2.at("peer_max_concurrent_streams").get<uint64_t>();
    }
  } catch (const std::exception& e) {
    error = std::string("stats: ") + e.what();
    return false;
  }
  return true;
}

json fleet_to_json(const FleetInfo& f, int64_t start_unix_ms, int64_t end_unix_ms) {
  auto text = [&](uint32_t i) { return std::to_string(i) + "/" + std::to_string(f.segment_count); };
  json segments = json::array(), missing = json::array();
  for (uint32_t i : f.segments) segments.push_back(text(i));
  for (uint32_t i : f.missing) missing.push_back(text(i));
  json j;
  j["instance"] = f.instance;
  j["segment"] = f.merged || f.segments.size() != 1 ? json(nullptr) : json(text(f.segments[0]));
  j["segments"] = segments;
  j["segment_count"] = f.segment_count;
  j["missing_segments"] = missing;
  j["partial"] = !f.missing.empty();
  j["merged"] = f.merged;
  j["instances"] = f.instances;
  j["scenario_sha256"] = f.scenario_sha256;
  j["start_unix_ms"] = start_unix_ms;
  j["end_unix_ms"] = end_unix_ms;
  return j;
}

bool fleet_from_json(const json& j, FleetInfo& f, int64_t& start_unix_ms, int64_t& end_unix_ms,
                     std::string& error) {
  try {
    f.instance = j.at("instance").get<std::string>();
    f.segment_count = j.at("segment_count").get<uint32_t>();
    if (f.segment_count == 0) throw std::runtime_error("segment_count is 0");
    auto index_of = [&](const json& v) {
      const std::string t = v.get<std::string>();
      const size_t slash = t.find('/');
      if (slash == std::string::npos || std::stoul(t.substr(slash + 1)) != f.segment_count ||
          std::stoul(t.substr(0, slash)) >= f.segment_count) {
        throw std::runtime_error("segment \"" + t + "\" is not I/" +
                                 std::to_string(f.segment_count));
      }
      return static_cast<uint32_t>(std::stoul(t.substr(0, slash)));
    };
    f.segments.clear();
    f.missing.clear();
    for (const json& v : j.at("segments")) f.segments.push_back(index_of(v));
    for (const json& v : j.at("missing_segments")) f.missing.push_back(index_of(v));
    f.instances = j.at("instances").get<std::vector<std::string>>();
    f.scenario_sha256 = j.at("scenario_sha256").get<std::string>();
    f.merged = j.at("merged").get<bool>();
    start_unix_ms = j.at("start_unix_ms").get<int64_t>();
    end_unix_ms = j.at("end_unix_ms").get<int64_t>();
  } catch (const std::exception& e) {
    error = std::string("fleet: ") + e.what();
    return false;
  }
  return true;
}

}  // namespace pelt
