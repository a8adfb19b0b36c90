// --out / --out-label values and [[outputs]] tables.
#include "outputs/output_config.h"

#include <catch2/catch.hpp>

using namespace pelt;

namespace {

std::string out_error(const std::string& value) {
  std::string error;
  const auto v = parse_out_flags({value}, error);
  CHECK(v.empty());
  return error;
}

std::vector<OutputConfig> tables(const std::string& text, std::string& error) {
  const toml::table doc = toml::parse(std::string_view(text), std::string_view("pelt.toml"));
  const toml::node* outputs = doc.get("outputs");
  REQUIRE(outputs != nullptr);
  return parse_output_tables(*outputs, "pelt.toml", error);
}

}  // namespace

TEST_CASE("out flags: --out the three kinds, in order") {
  std::string error;
  const auto v = parse_out_flags({"influxdb=http://127.0.0.1:8086/pelt",
                                  "influxdb2=https://influx.example:8086?org=acme&bucket=load",
                                  "prometheus-rw=http://[::1]:9090/api/v1/write"},
                                 error);
  REQUIRE(error.empty());
  REQUIRE(v.size() == 3);
  CHECK(v[0].kind == OutputKind::kInfluxDb);
  CHECK(v[0].url == "http://127.0.0.1:8086/pelt");
  CHECK(v[0].origin == "--out");
  CHECK(v[0].flush_interval == std::chrono::milliseconds(1000));
  CHECK(v[1].kind == OutputKind::kInfluxDb2);
  CHECK(v[2].kind == OutputKind::kPrometheusRw);
  CHECK(output_kind_name(v[2].kind) == std::string("prometheus-rw"));
}

TEST_CASE("out flags: --out clear errors") {
  CHECK(out_error("kafka=http://x:1/") ==
        "--out: unknown output \"kafka\" (known: influxdb, influxdb2, prometheus-rw)");
  CHECK(out_error("http://127.0.0.1:8086/pelt").find("expected KIND=URL") != std::string::npos);
  CHECK(out_error("influxdb=127.0.0.1:8086/pelt").find("invalid URL") != std::string::npos);
  CHECK(out_error("influxdb=udp://127.0.0.1:8089/pelt").find("unsupported scheme") !=
        std::string::npos);
  CHECK(out_error("influxdb=http://127.0.0.1:8086") ==
        "--out influxdb: \"http://127.0.0.1:8086\" names no database; write it as the URL path, "
        "e.g. http://127.0.0.1:8086/pelt");
  CHECK(out_error("influxdb=http://127.0.0.1:8086/pelt?db=x") ==
        "--out influxdb: unknown URL parameter \"db\" (known: rp)");
  CHECK(out_error("prometheus-rw=http://127.0.0.1:9090") ==
        "--out prometheus-rw: \"http://127.0.0.1:9090\" has no path; Prometheus receives remote "
        "write at /api/v1/write");
}

TEST_CASE("out flags: --out credentials in the URL are refused without echoing them") {
  const std::string e1 = out_error("influxdb2=http://h:8086?org=o&bucket=b&token=s3cr3t-value");
  CHECK(e1.find("carries a credential (\"token=\")") != std::string::npos);
  CHECK(e1.find("PELT_INFLUXDB_TOKEN") != std::string::npos);
  CHECK(e1.find("s3cr3t") == std::string::npos);
  const std::string e2 = out_error("influxdb=http://admin:hunter2@h:8086/pelt");
  CHECK(e2.find("user:password@") != std::string::npos);
  CHECK(e2.find("PELT_INFLUXDB_USERNAME") != std::string::npos);
  CHECK(e2.find("hunter2") == std::string::npos);
  CHECK(out_error("influxdb=http://h:8086/pelt?u=a&p=b").find("credential (\"u=\")") !=
        std::string::npos);
  CHECK(out_error("prometheus-rw=http://h:9090/api/v1/write?Access_Token=x")
            .find("PELT_RW_BEARER_TOKEN") != std::string::npos);
}

TEST_CASE("output URLs are taken apart per kind") {
  OutputEndpoint e;
  std::string error;
  REQUIRE(
      split_output_url(OutputKind::kInfluxDb, "http://h:8086/proxy/my%20db/?rp=week", e, error));
  CHECK(e.origin == "http://h:8086");
  CHECK(e.database == "my db");
  CHECK(e.path_prefix == "/proxy");
  CHECK(e.query.at("rp") == "week");
  REQUIRE(split_output_url(OutputKind::kInfluxDb2, "https://h/?org=my+org&bucket=b%2F1", e, error));
  CHECK(e.origin == "https://h");
  CHECK(e.path.empty());
  CHECK(e.query.at("org") == "my org");
  CHECK(e.query.at("bucket") == "b/1");
  REQUIRE(split_output_url(OutputKind::kPrometheusRw, "http://h:9090/api/v1/write?x=1", e, error));
  CHECK(e.path == "/api/v1/write");
  CHECK(e.query.at("x") == "1");
}

TEST_CASE("out labels: --out-label KEY=VALUE, names checked") {
  std::map<std::string, std::string> labels;
  std::string error;
  REQUIRE(parse_out_labels({"env=ci", "build=1=2"}, labels, error));
  CHECK(labels.at("env") == "ci");
  CHECK(labels.at("build") == "1=2");
  CHECK_FALSE(parse_out_labels({"env"}, labels, error));
  CHECK(error == "--out-label \"env\": expected KEY=VALUE, e.g. env=ci");
  CHECK_FALSE(parse_out_labels({"1x=a"}, labels, error));
  CHECK(error.find("bad label name \"1x\"") != std::string::npos);
  CHECK_FALSE(parse_out_labels({"__x=a"}, labels, error));
  CHECK(error.find("reserved") != std::string::npos);
  CHECK_FALSE(parse_out_labels({"scenario=a"}, labels, error));
  CHECK(error == "--out-label: label \"scenario\" is set by pelt itself; choose another name");
  CHECK_FALSE(parse_out_labels({"env="}, labels, error));

  std::string e;
  auto outs = parse_out_flags({"influxdb=http://h:8086/db"}, e);
  outs[0].tags["env"] = "file";
  add_output_labels(outs, {{"env", "cli"}, {"team", "x"}});
  CHECK(outs[0].tags.at("env") == "cli");
  CHECK(outs[0].tags.at("team") == "x");
}

TEST_CASE("outputs tables: [[outputs]] in a scenario file") {
  std::string error;
  const auto v = tables(R"(
[[outputs]]
type = "influxdb"
url = "http://127.0.0.1:8086/pelt"
tags = { env = "ci", team = "web" }
flush_interval = "5s"

[[outputs]]
type = "prometheus-rw"
url = "http://127.0.0.1:9090/api/v1/write"
labels = { env = "ci" }
flush_interval = 2
)",
                        error);
  REQUIRE(error.empty());
  REQUIRE(v.size() == 2);
  CHECK(v[0].kind == OutputKind::kInfluxDb);
  CHECK(v[0].tags.at("team") == "web");
  CHECK(v[0].flush_interval == std::chrono::milliseconds(5000));
  CHECK(v[0].origin == "pelt.toml:2:1");
  CHECK(v[1].kind == OutputKind::kPrometheusRw);
  CHECK(v[1].tags.at("env") == "ci");
  CHECK(v[1].flush_interval == std::chrono::milliseconds(2000));
}

TEST_CASE("outputs tables: errors name file, line and column") {
  std::string error;
  CHECK(tables("[[outputs]]\ntype = \"influx\"\nurl = \"http://h:8086/db\"\n", error).empty());
  CHECK(error ==
        "pelt.toml:2:8: outputs[0]: unknown output type \"influx\" (known: influxdb, influxdb2, "
        "prometheus-rw)");
  CHECK(tables("[[outputs]]\ntype = \"influxdb\"\nurl = \"http://h:8086/db\"\ntag = {}\n", error)
            .empty());
  CHECK(error ==
        "pelt.toml:4:7: outputs[0]: unknown key \"tag\" (known: type, url, tags, labels, "
        "flush_interval)");
  CHECK(tables("[[outputs]]\ntype = \"influxdb\"\n", error).empty());
  CHECK(error == "pelt.toml:1:1: outputs[0].url must be a string");
  CHECK(tables("[[outputs]]\ntype = \"influxdb2\"\nurl = \"http://h?token=abc\"\n", error).empty());
  CHECK(error.rfind("pelt.toml:3:7: outputs[0]: influxdb2: the URL carries a credential", 0) == 0);
  CHECK(tables("[[outputs]]\ntype = \"influxdb\"\nurl = \"http://h/db\"\nflush_interval = \"5x\"\n",
               error)
            .empty());
  CHECK(error.rfind("pelt.toml:4:18: outputs[0].flush_interval: ", 0) == 0);
  CHECK(
      tables("[[outputs]]\ntype = \"influxdb\"\nurl = \"http://h/db\"\nflush_interval = \"10ms\"\n",
             error)
          .empty());
  CHECK(error == "pelt.toml:4:18: outputs[0].flush_interval: must be at least 100ms");
  CHECK(tables("[[outputs]]\ntype = \"influxdb\"\nurl = \"http://h/db\"\ntags = { le = \"x\" }\n",
               error)
            .empty());
  CHECK(error ==
        "pelt.toml:4:15: outputs[0].tags: label \"le\" is set by pelt itself; choose "
        "another name");
  CHECK(tables("[[outputs]]\ntype = \"influxdb\"\nurl = \"http://h/db\"\ntags = { a = 1 }\n", error)
            .empty());
  CHECK(error == "pelt.toml:4:14: outputs[0].tags.a must be a non-empty string");
  CHECK(tables("outputs = { type = \"influxdb\" }\n", error).empty());
  CHECK(error.find("must be an array of tables") != std::string::npos);
}
