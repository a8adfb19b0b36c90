#include "cli/cli.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>
#include <fstream>

#include "util/units.h"
#include "wire/url.h"

namespace pelt {
namespace {

bool is_flag(const std::string& a) { return a.size() > 1 && a[0] == '-' && a != "-"; }

// Splits "-t2" / "--threads=2" / "--threads 2" into name and value.
struct ArgReader {
  const std::vector<std::string>& args;
  size_t i;
  std::string error;

  bool value(const std::string& name, const std::string& inline_value, bool has_inline, std::string& out) {
    if (has_inline) {
      out = inline_value;
      return true;
    }
    if (i + 1 >= args.size()) {
      error = "option " + name + " needs a value";
      return false;
    }
    out = args[++i];
    return true;
  }
};

bool parse_header(const std::string& text, std::pair<std::string, std::string>& out, std::string& error) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    error = "bad header \"" + text + "\": use -H \"Name: value\"";
    return false;
  }
  std::string name = text.substr(0, colon);
  std::string value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(value.begin());
  for (char c : name) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      error = "bad header \"" + text + "\": the name may not contain spaces";
      return false;
    }
  }
  // A line break would start a header of its own (header injection): refused, as in
  // scenario files.
  if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    error = "bad header \"" + name + "\": the value must not contain line breaks";
    return false;
  }
  out = {name, value};
  return true;
}

bool parse_env(const std::string& text, std::map<std::string, std::string>& env, std::string& error) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    error = "bad -e \"" + text + "\": use -e KEY=VALUE";
    return false;
  }
  env[text.substr(0, eq)] = text.substr(eq + 1);
  return true;
}

bool readable_file(const std::string& path, const char* what, std::string& error) {
  std::ifstream f(path);
  if (!f) {
    error = std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A word as a shell would need it written: bare when it is plain, else in single quotes.
std::string shell_quote(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./:,@%") == std::string::npos;
  if (plain) return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CliResult fail(const std::string& message) {
  CliResult r;
  r.action = CliAction::kError;
  r.message = message;
  return r;
}

}  // namespace

std::string usage_text() {
  return
      "Usage: pelt [options] <url> [-- script args]\n"
      "       pelt run <file.toml|-> [options]\n"
      "       pelt compare <a.json> <b.json> [...] [options]   (pelt compare --help)\n"
      "\n"
      "Quick benchmark (wrk-compatible):\n"
      "  -t, --threads N          worker threads (default 2)\n"
      "  -c, --connections N      connections to keep open, >= threads (default 10; 1k = 1000)\n"
      "  -d, --duration D         test duration (default 10s; 250ms, 30s, 2m, 1h)\n"
      "  -s, --script FILE        Lua script (wrk's API plus the pelt table)\n"
      "  -H, --header \"N: V\"      add a request header (repeatable)\n"
      "      --timeout D          per-request timeout (default 2s)\n"
      "      --http 1.1|2|auto    HTTP version (default 1.1); 2 over https needs ALPN h2, over\n"
      "                           http:// it is h2c (prior knowledge); auto: h2 if ALPN picks it\n"
      "      --h2c                cleartext HTTP/2 with prior knowledge (same as --http 2 on http://)\n"
      "  -m, --streams N          concurrent requests per connection (default 1): HTTP/2 streams,\n"
      "                           pipelined over HTTP/1.1; -c C -m N runs C x N VUs\n"
      "      --latency            print the latency distribution\n"
      "  -R, --rate N             open loop: N requests/s in total, latency timed from the schedule\n"
      "  -e KEY=VALUE             value for pelt.env and ${KEY} in scenario files (repeatable)\n"
      "      --json FILE          write the results as JSON\n"
      "      --summary-json FILE  same document as --json\n"
      "      --timeseries FILE    the per-second series as CSV (JSON lines for FILE.jsonl)\n"
      "      --out KIND=URL       push results to a store: influxdb=http://HOST:8086/DB,\n"
      "                           influxdb2=URL, prometheus-rw=URL (repeatable)\n"
      "      --out-label K=V      an extra tag or label on what --out pushes (repeatable)\n"
      "      --report FILE.html   a self-contained HTML report of the run\n"
      "      --junit FILE.xml     JUnit XML: a test case per threshold and per check\n"
      "      --dashboard[=ADDR]   a live web dashboard (default 127.0.0.1:5665)\n"
      "      --dashboard-linger D keep the dashboard up this long after the run\n"
      "      --insecure           do not verify TLS certificates\n"
      "      --cacert FILE        trust this CA (PEM) in addition to the system's\n"
      "      --source A[,B...]    local addresses to connect from (more connections per target)\n"
      "      --metrics ADDR       serve Prometheus metrics on ADDR (e.g. 9464, 127.0.0.1:9464)\n"
      "      --metrics-linger D   keep serving final metrics this long after the run\n"
      "      --quiet              no progress line\n"
      "      --segment I/N        run part I (0-based) of N of the plan (docs/DISTRIBUTED.md)\n"
      "      --instance NAME      this instance's name in metrics and summaries\n"
      "      --run-id ID          the run id (shared by the instances of one fleet run)\n"
      "      --start-at TIME      start at a UTC time: 2026-03-01T12:00:00Z or @UNIX_SECONDS\n"
      "      --paused             connect, then wait for POST /start on --control ADDR\n"
      "                           (token from $PELT_CONTROL_TOKEN)\n"
      "      --control ADDR       where --paused listens (default 127.0.0.1:6565)\n"
      "  -v, --version            print the version\n"
      "  -h, --help               print this help\n"
      "\n"
      "Scenario files:\n"
      "  pelt run FILE.toml [--target URL] [-e KEY=VALUE]... [--summary-json FILE]\n"
      "                     [--threads N] [--quiet] [--metrics ADDR] [--json FILE]\n"
      "                     [--http V] [--h2c] [-m N]   (override [target] http, h2c, streams)\n"
      "                     [--observe-prometheus URL]   (server CPU, memory ... per stage)\n"
      "  '-' reads the file from standard input.\n"
      "  pelt merge A.json B.json ... [--summary-json OUT] [--report OUT.html] [--allow-partial]\n"
      "  merges the summaries of a fleet's instances (docs/DISTRIBUTED.md).\n"
      "\n"
      "Exit codes: 0 passed, 99 a threshold was crossed, 2 bad command line, config or script,\n"
      "1 the run failed.\n";
}

CliResult parse_command_line(const std::vector<std::string>& args) {
  CliResult r;
  RunOptions& o = r.options;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) o.command_line += ' ';
    o.command_line += shell_quote(i == 0 ? std::string("pelt") : args[i]);
  }
  const bool run_mode = args.size() > 1 && args[1] == "run";
  o.quick = !run_mode;
  std::vector<std::string> positional;
  std::vector<std::string> script_args;
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t connections = 10;
  bool connections_set = false;
  std::chrono::microseconds duration = std::chrono::seconds(10);
  std::chrono::microseconds timeout = std::chrono::seconds(2);
  bool timeout_set = false;
  std::string script, target_override, cacert;
  bool insecure = false;
  bool threads_set = false;
  HttpVersion http = HttpVersion::kHttp11;
  bool http_set = false, h2c = false;
  uint64_t streams = 1;
  bool streams_set = false;
  std::string error;

  ArgReader rd{args, run_mode ? size_t{2} : size_t{1}, ""};
  for (; rd.i < args.size(); ++rd.i) {
    const std::string& a = args[rd.i];
    if (a == "--") {
      for (size_t k = rd.i + 1; k < args.size(); ++k) script_args.push_back(args[k]);
      break;
    }
    if (!is_flag(a)) {
      positional.push_back(a);
      continue;
    }
    std::string name, inline_value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      name = a.substr(0, eq);
      if (eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        has_inline = true;
      }
    } else {
      name = a.substr(0, 2);
      if (a.size() > 2) {
        inline_value = a.substr(2);
        has_inline = true;
      }
    }
    std::string v;
    auto need = [&](std::string& out) { return rd.value(name, inline_value, has_inline, out); };
    auto number = [&](uint64_t& out, const char* what) {
      if (!need(v)) return false;
      if (!parse_count(v, out, error)) {
        rd.error = std::string("bad ") + what + ": " + error;
        return false;
      }
      return true;
    };
    auto dur = [&](std::chrono::microseconds& out, const char* what) {
      if (!need(v)) return false;
      if (!parse_duration(v, out, error)) {
        rd.error = std::string("bad ") + what + ": " + error;
        return false;
      }
      if (out.count() <= 0) {
        rd.error = std::string(what) + " must be greater than zero";
        return false;
      }
      return true;
    };
    bool ok = true;
    if (name == "-h" || name == "--help") {
      r.action = CliAction::kHelp;
      r.message = usage_text();
      return r;
    } else if (name == "-v" || name == "--version") {
      r.action = CliAction::kVersion;
      r.message = std::string("pelt ") + PELT_VERSION + "\n";
      return r;
    } else if (name == "-t" || name == "--threads") {
      uint64_t t = 0;
      ok = number(t, "thread count");
      if (ok && (t == 0 || t > 1024)) {
        rd.error = "thread count must be from 1 to 1024";
        ok = false;
      }
      o.threads = static_cast<int>(t);
      threads_set = true;
    } else if (o.quick && (name == "-c" || name == "--connections")) {
      ok = number(connections, "connection count");
      connections_set = true;
      if (ok && connections == 0) {
        rd.error = "connection count must be at least 1";
        ok = false;
      }
    } else if (o.quick && (name == "-d" || name == "--duration")) {
      ok = dur(duration, "duration");
    } else if (o.quick && (name == "-s" || name == "--script")) {
      ok = need(script);
    } else if (o.quick && (name == "-H" || name == "--header")) {
      std::pair<std::string, std::string> h;
      ok = need(v) && parse_header(v, h, rd.error);
      if (ok) headers.push_back(h);
    } else if (name == "--timeout") {
      ok = dur(timeout, "timeout");
      timeout_set = true;
    } else if (o.quick && name == "--latency") {
      o.latency = true;
    } else if (o.quick && (name == "-R" || name == "--rate")) {
      if (!need(v)) {
        ok = false;
      } else if (!parse_rate(v, o.rate, error)) {
        rd.error = "bad rate: " + error;
        ok = false;
      } else if (o.rate <= 0) {
        rd.error = "rate must be greater than zero";
        ok = false;
      }
    } else if (name == "-e" || name == "--env") {
      ok = need(v) && parse_env(v, o.env, rd.error);
    } else if (name == "--json") {
      ok = need(o.json_path);
    } else if (name == "--summary-json") {
      ok = need(o.summary_json_path);
    } else if (name == "--timeseries") {
      ok = need(o.timeseries_path);
    } else if (name == "--out") {
      ok = need(v);
      if (ok) o.outs.push_back(v);
    } else if (name == "--out-label") {
      ok = need(v);
      if (ok) o.out_labels.push_back(v);
    } else if (name == "--report") {
      ok = need(o.report_path);
    } else if (name == "--junit") {
      ok = need(o.junit_path);
    } else if (name == "--dashboard") {
      // The address only with "=": a bare --dashboard must not take the URL after it.
      o.dashboard = true;
      o.dashboard_listen = has_inline ? inline_value : "";
    } else if (name == "--dashboard-linger") {
      std::chrono::microseconds d{0};
      ok = need(v) && parse_duration(v, d, error);
      if (!ok && rd.error.empty()) rd.error = "bad --dashboard-linger: " + error;
      o.dashboard_linger = std::chrono::duration_cast<std::chrono::milliseconds>(d);
    } else if (name == "--http") {
      ok = need(v);
      if (ok && !parse_http_version(v, http)) {
        rd.error = "bad --http \"" + v + "\": use 1.1, 2 or auto";
        ok = false;
      }
      http_set = true;
    } else if (name == "--h2c") {
      h2c = true;
    } else if (name == "-m" || name == "--streams") {
      ok = number(streams, "stream count");
      if (ok && (streams == 0 || streams > 1000000)) {
        rd.error = "stream count (-m) must be from 1 to 1000000";
        ok = false;
      }
      streams_set = true;
    } else if (name == "--insecure" || name == "-k") {
      insecure = true;
    } else if (name == "--cacert") {
      ok = need(cacert);
    } else if (name == "--source") {
      ok = need(v);
      if (ok) o.sources = split_commas(v);
    } else if (name == "--metrics") {
      ok = need(o.metrics_listen);
    } else if (name == "--metrics-linger") {
      std::chrono::microseconds d{0};
      ok = need(v) && parse_duration(v, d, error);
      if (!ok && rd.error.empty()) rd.error = "bad --metrics-linger: " + error;
      o.metrics_linger = std::chrono::duration_cast<std::chrono::milliseconds>(d);
    } else if (name == "--quiet" || name == "-q") {
      o.quiet = true;
    } else if (bool takes = false; is_fleet_flag(name, takes)) {
      ok = (!takes || need(v)) && apply_fleet_flag(name, v, o.fleet, rd.error);
    } else if (!o.quick && name == "--target") {
      ok = need(target_override);
    } else if (!o.quick && name == "--observe-prometheus") {
      ok = need(o.observe_prometheus);
      if (ok && o.observe_prometheus.rfind("http://", 0) != 0 && o.observe_prometheus.rfind("https://", 0) != 0) {
        rd.error = "--observe-prometheus needs an http:// or https:// URL, got \"" + o.observe_prometheus + "\"";
        ok = false;
      }
    } else {
      return fail("unknown option " + a + (o.quick ? "" : " for pelt run") + " (see pelt --help)");
    }
    if (!ok) return fail(rd.error.empty() ? "bad value for " + name : rd.error);
  }

  if (!cacert.empty() && !readable_file(cacert, "CA file", error)) return fail(error);
  if (h2c && http_set && http != HttpVersion::kHttp2) {
    return fail("--h2c is HTTP/2: it cannot go with --http " + std::string(http_version_name(http)));
  }
  if (h2c) {
    http = HttpVersion::kHttp2;
    http_set = true;
  }
  for (const std::string& src : o.sources) {
    std::string ignored;
    Url probe;
    if (src.empty() || !parse_url("http://" + (src.find(':') != std::string::npos ? "[" + src + "]" : src) + "/", probe, ignored)) {
      return fail("bad --source address \"" + src + "\"");
    }
  }

  if (o.quick) {
    if (positional.empty()) return fail("missing URL\n" + usage_text());
    const std::string url_text = positional[0];
    Url url;
    if (!parse_url(url_text, url, error)) return fail(error);
    if (h2c && url.tls()) {
      return fail("--h2c is cleartext HTTP/2 and needs an http:// URL; over https, --http 2 "
                  "negotiates h2 by ALPN");
    }
    if (!threads_set) o.threads = 2;
    // With --segment I/N this instance opens its share of the -c connections.
    const uint64_t mine = o.fleet.segment.share(connections);
    if (mine == 0) {
      return fail("-c " + std::to_string(connections) + " leaves no connection to segment " +
                  o.fleet.segment.text() + ": give at least one per instance");
    }
    if (mine < static_cast<uint64_t>(o.threads)) {
      if (connections_set && o.fleet.segment.whole()) {
        return fail("-c " + std::to_string(connections) + " is lower than -t " + std::to_string(o.threads) +
                    ": every thread needs at least one connection");
      }
      o.threads = static_cast<int>(mine);
    }
    if (!script.empty() && !readable_file(script, "script", error)) return fail(error);
    // init(args): args[0] is the URL, then what follows it, as in wrk.
    o.script_args.push_back(url_text);
    for (size_t k = 1; k < positional.size(); ++k) o.script_args.push_back(positional[k]);
    for (const auto& a : script_args) o.script_args.push_back(a);
    o.connections = connections;
    o.duration = duration;
    RunConfig& c = o.config;
    c.source = "command line";
    c.base_dir = ".";
    c.script = script;
    c.target.url = url_text;
    c.target.timeout = timeout;
    c.target.headers = headers;
    c.target.insecure = insecure;
    c.target.cacert = cacert;
    c.target.http = http;
    c.target.streams = static_cast<uint32_t>(streams);
    // -c counts connections; each carries -m VUs (one stream, or pipelined request, each).
    const uint64_t vus = connections * streams;
    if (vus > UINT32_MAX) return fail("-c times -m is too many VUs");
    ScenarioConfig sc;
    sc.name = "default";
    sc.headers = headers;
    sc.graceful_stop = std::chrono::microseconds(0);
    sc.duration = duration;
    if (o.rate > 0) {
      sc.executor = ExecutorKind::kConstantArrivalRate;
      sc.rate = o.rate;
      sc.time_unit = std::chrono::seconds(1);
      sc.pre_allocated_vus = static_cast<uint32_t>(vus);
      sc.max_vus = static_cast<uint32_t>(vus);
      sc.queue_when_busy = true;
    } else {
      sc.executor = ExecutorKind::kConstantVus;
      sc.vus = static_cast<uint32_t>(vus);
    }
    sc.location = "command line";
    c.scenarios.push_back(sc);
    r.action = CliAction::kRun;
    return r;
  }

  // pelt run FILE
  if (positional.empty()) return fail("pelt run needs a scenario file (or - for standard input)");
  if (positional.size() > 1) return fail("unexpected argument \"" + positional[1] + "\" after the scenario file");
  if (!load_run_config_file(positional[0], o.env, o.config, error)) return fail(error);
  if (!target_override.empty()) {
    Url url;
    if (!parse_url(target_override, url, error)) return fail("--target: " + error);
    o.config.target.url = target_override;
  }
  if (!o.fleet.segment_set && !o.config.execution.segment.empty()) {
    parse_segment(o.config.execution.segment, o.fleet.segment, error);  // checked at load time
  }
  if (timeout_set) o.config.target.timeout = timeout;
  if (http_set) o.config.target.http = http;
  if (streams_set) o.config.target.streams = static_cast<uint32_t>(streams);
  if (o.config.target.http == HttpVersion::kHttp2 && h2c &&
      o.config.target.url.rfind("https://", 0) == 0) {
    return fail("--h2c is cleartext HTTP/2 and needs an http:// target");
  }
  if (insecure) o.config.target.insecure = true;
  if (!cacert.empty()) o.config.target.cacert = cacert;
  if (!threads_set) {
    const unsigned hc = std::thread::hardware_concurrency();
    o.threads = hc ? static_cast<int>(hc) : 2;
  }
  o.script_args.push_back(o.config.target.url);
  for (const auto& a : script_args) o.script_args.push_back(a);
  r.action = CliAction::kRun;
  return r;
}

}  // namespace pelt
