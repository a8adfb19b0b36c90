// Remote write: the pushed series are exactly the series of the /metrics text, labels sorted,
// extra labels added; the WriteRequest decodes with the same .proto and snappy round-trips.
#include "outputs/remote_write.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "results/metrics.h"
#include "src/outputs/proto/remote_write.pb.h"

using namespace pelt;

namespace {

// "name{a=\"1\",b=\"2\"}" -> value, from Prometheus text exposition (comments skipped).
std::map<std::string, double> parse_text(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') name += line[i++];
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        std::string key, value;
        while (line[i] != '=') key += line[i++];
        i += 2;  // ="
        while (line[i] != '"') {
          if (line[i] == '\\') {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        if (line[i] == ',') ++i;
        labels.emplace_back(key, value);
      }
      ++i;
    }
    std::sort(labels.begin(), labels.end());
    std::string key = name + "{";
    for (const auto& [k, v] : labels) {
      if (!v.empty()) key += k + "=" + v + ";";
    }
    const std::string value = line.substr(i + 1);
    out[key + "}"] = value == "+Inf" ? INFINITY : value == "Nan" ? NAN : std::stod(value);
  }
  return out;
}

std::string series_key(const RwSeries& s, const char* skip = nullptr) {
  std::string name, rest;
  for (const auto& [k, v] : s.labels) {
    if (k == "__name__") {
      name = v;
    } else if (skip == nullptr || k != skip) {
      rest += k + "=" + v + ";";
    }
  }
  return name + "{" + rest + "}";
}

WorkerStats sample_stats() {
  WorkerStats s;
  s.scenarios.resize(2);
  NameStats& cart = s.scenarios[0].names["GET /cart"];
  cart.method = "GET";
  for (int i = 0; i < 50; ++i) {
    ++cart.status[i % 10 == 0 ? 503 : 200];
    cart.latency.record(1000 + 300 * static_cast<uint64_t>(i));
  }
  cart.requests = {50, 5, 0};  // 5 of the 50 responses are 503s
  NameStats& pay = s.scenarios[1].names["pay \"quoted\"\\x"];
  pay.method = "POST";
  ++pay.status[201];
  pay.requests = {1, 0, 1};  // one without a response: status "0"
  pay.latency.record(70000);
  s.scenarios[0].vus = 3;
  s.scenarios[1].vus = 1;
  s.scenarios[0].iterations = 48;
  s.bytes_read = 12345;
  s.bytes_written = 678;
  s.errors.status = 5;
  s.checks["ok"] = CheckCount{10, 1};
  s.send_lag.record(150);
  return s;
}

MetricsOptions sample_options() {
  MetricsOptions o;
  o.run_id = "20261205T230102-42";
  o.version = "0.1.0";
  o.target = "http://127.0.0.1:8080";
  o.scenario_names = {"shop", "pay"};
  o.arrival_rate = {false, true};
  o.scenario_tags = {{{"team", "web"}}, {}};
  return o;
}

}  // namespace

TEST_CASE("remote write: the series and values are those of the /metrics text") {
  const auto families =
      build_families(sample_options(), sample_stats(), {{"http_req_duration p(95)<500", true}});
  const auto scraped = parse_text(prometheus::TextSerializer().Serialize(families));
  const auto pushed = expand_families(families, {});
  REQUIRE(pushed.size() == scraped.size());
  for (const RwSeries& s : pushed) {
    const std::string key = series_key(s);
    INFO(key);
    REQUIRE(scraped.count(key) == 1);
    if (std::isnan(scraped.at(key))) {
      CHECK(std::isnan(s.value));
    } else {
      CHECK(s.value == scraped.at(key));
    }
    // Sorted by name (byte order), __name__ first, no empty values, no repeated names.
    CHECK(s.labels.front().first == "__name__");
    for (size_t i = 1; i < s.labels.size(); ++i) {
      CHECK(s.labels[i - 1].first < s.labels[i].first);
      CHECK_FALSE(s.labels[i].second.empty());
    }
  }
  // The histogram is expanded as the text format does it.
  bool inf_bucket = false;
  for (const RwSeries& s : pushed) {
    if (series_key(s) ==
        "pelt_http_request_duration_seconds_bucket{le=+Inf;name=GET /cart;run_id=20261205T230102-"
        "42;scenario=shop;team=web;}") {
      inf_bucket = true;
      CHECK(s.value == 50);
    }
  }
  CHECK(inf_bucket);
}

TEST_CASE("remote write: extra labels go on every series, a series' own label wins") {
  const auto families = build_families(sample_options(), sample_stats(), {});
  const auto pushed = expand_families(families, {{"env", "ci"}, {"team", "load"}, {"a", "1"}});
  for (const RwSeries& s : pushed) {
    std::map<std::string, std::string> m(s.labels.begin(), s.labels.end());
    CHECK(m["env"] == "ci");
    CHECK(m["a"] == "1");
    const bool shop = m.count("scenario") && m["scenario"] == "shop";
    CHECK(m["team"] == (shop ? "web" : "load"));
    CHECK(s.labels.front().first == "__name__");  // "a" sorts after "__name__"
  }
}

TEST_CASE("remote write: the WriteRequest decodes and snappy round-trips") {
  const std::vector<RwSeries> series = {
      {{{"__name__", "pelt_vus"}, {"scenario", "shop"}}, 3},
      {{{"__name__", "pelt_data_sent_bytes_total"}}, 1e15 + 1},
  };
  const std::string a = encode_write_request(series, 1765000000123);
  const std::string b = encode_write_request({series[0]}, 1765000001123);
  std::string raw;
  REQUIRE(snappy_uncompress(snappy_compress(a + b), raw));
  CHECK(raw == a + b);
  pelt::remote::WriteRequest request;
  REQUIRE(request.ParseFromString(raw));  // concatenated requests merge into one
  REQUIRE(request.timeseries_size() == 3);
  const auto& first = request.timeseries(0);
  REQUIRE(first.labels_size() == 2);
  CHECK(first.labels(0).name() == "__name__");
  CHECK(first.labels(0).value() == "pelt_vus");
  CHECK(first.labels(1).value() == "shop");
  REQUIRE(first.samples_size() == 1);
  CHECK(first.samples(0).value() == 3);
  CHECK(first.samples(0).timestamp() == 1765000000123);
  CHECK(request.timeseries(1).samples(0).value() == 1e15 + 1);
  CHECK(request.timeseries(2).samples(0).timestamp() == 1765000001123);
  CHECK_FALSE(snappy_uncompress("definitely not snappy", raw));
}

TEST_CASE("remote write: numbers are formatted as in the text format") {
  CHECK(prometheus_number(0.005) == "0.005");
  CHECK(prometheus_number(1) == "1");
  CHECK(prometheus_number(2.5) == "2.5");
  CHECK(prometheus_number(1e-7) == "1e-07");
  CHECK(prometheus_number(0.1 + 0.2) == "0.3");
  CHECK(prometheus_number(INFINITY) == "+Inf");
}
