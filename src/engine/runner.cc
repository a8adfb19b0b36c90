#include "engine/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <latch>
#include <memory>
#include <thread>

#include "wire/http1.h"
#include "results/metrics.h"
#include "engine/plan.h"
#include "lua/script.h"
#include "results/summary.h"
#include "wire/tls.h"
#include "util/units.h"
#include "wire/url.h"
#include "engine/worker.h"

extern char** environ;

namespace pelt {
namespace {

std::atomic<int> g_signals{0};

void on_signal(int sig) {
  const int n = g_signals.fetch_add(1) + 1;
  if (n >= 2) {
    // A second Ctrl-C: leave at once.
    const char msg[] = "\npelt: interrupted again, exiting without a summary\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(sig == SIGINT ? 130 : 143);
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::map<std::string, std::string> script_env(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
  for (const auto& [k, v] : overrides) env[k] = v;
  return env;
}

std::vector<std::string> lua_module_dirs() {
  std::vector<std::string> dirs;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "pelt" / "lua";
    if (std::filesystem::is_directory(installed, ec)) dirs.push_back(installed.string());
  }
  if (std::filesystem::is_directory(PELT_INSTALL_LUA_DIR, ec)) dirs.push_back(PELT_INSTALL_LUA_DIR);
  if (std::filesystem::is_directory(PELT_SOURCE_LUA_DIR, ec)) dirs.push_back(PELT_SOURCE_LUA_DIR);
  return dirs;
}

std::string make_run_id() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf) + "-" + std::to_string(getpid());
}

// Opens enough file descriptors for every VU, or says why it cannot.
bool ensure_fd_limit(uint64_t vus, std::string& error) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return true;
  const uint64_t need = vus + 64;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need) return true;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    error = std::to_string(vus) + " connections need about " + std::to_string(need) +
            " file descriptors, but this process may open at most " + std::to_string(rl.rlim_max) +
            " (hard limit): lower -c/VUs to " + std::to_string(rl.rlim_max > 64 ? rl.rlim_max - 64 : 0) +
            " or raise the hard limit (ulimit -Hn, /etc/security/limits.conf, or LimitNOFILE= for a service)";
    return false;
  }
  rlimit raised = rl;
  raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::max<rlim_t>(need, rl.rlim_cur);
  if (raised.rlim_max != RLIM_INFINITY && raised.rlim_cur > raised.rlim_max) raised.rlim_cur = raised.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    error = "cannot raise the open-file limit to " + std::to_string(need) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Local ports: one address pair can hold about as many connections as the ephemeral range.
bool check_port_range(uint64_t vus, size_t sources, std::string& error) {
  FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (!f) return true;
  unsigned lo = 0, hi = 0;
  const int n = std::fscanf(f, "%u %u", &lo, &hi);
  std::fclose(f);
  if (n != 2 || hi < lo) return true;
  const uint64_t ports = static_cast<uint64_t>(hi - lo + 1) * std::max<size_t>(1, sources);
  if (vus > ports) {
    error = std::to_string(vus) + " connections to one address need more local ports than the " +
            std::to_string(ports) + " available (net.ipv4.ip_local_port_range " + std::to_string(lo) +
            "-" + std::to_string(hi) + (sources > 1 ? " per --source address" : "") +
            "): spread them with --source 127.0.0.2,127.0.0.3,... or widen the range";
    return false;
  }
  return true;
}

bool secret_header(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n == "authorization" || n == "proxy-authorization" || n == "cookie";
}

bool secret_variable(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n.find("TOKEN") != std::string::npos || n.find("SECRET") != std::string::npos ||
         n.find("PASSWORD") != std::string::npos;
}

// Values that must never show up in labels or output: credentials in headers and variables.
std::vector<std::string> secret_values(const RunConfig& cfg, const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  auto add_headers = [&](const HeaderList& headers) {
    for (const auto& [name, value] : headers) {
      if (secret_header(name) && !value.empty()) out.push_back(value);
    }
  };
  add_headers(cfg.target.headers);
  for (const ScenarioConfig& sc : cfg.scenarios) add_headers(sc.headers);
  for (const auto& [name, value] : env) {
    if (secret_variable(name) && !value.empty()) out.push_back(value);
  }
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    if (secret_variable(name) && std::strlen(eq + 1) >= 3) out.emplace_back(eq + 1);
  }
  return out;
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 3) continue;
    size_t at = 0;
    while ((at = text.find(secret, at)) != std::string::npos) {
      text.replace(at, secret.size(), "[redacted]");
      at += 10;
    }
  }
  return text;
}

template <typename Map>
void redact_keys(Map& map, const std::vector<std::string>& secrets) {
  Map out;
  for (auto& [key, value] : map) {
    auto [it, fresh] = out.try_emplace(redact(key, secrets), value);
    if (!fresh) it->second.merge(value);
  }
  map.swap(out);
}

void redact_counts(std::map<std::string, uint64_t>& map, const std::vector<std::string>& secrets) {
  std::map<std::string, uint64_t> out;
  for (auto& [key, value] : map) out[redact(key, secrets)] += value;
  map.swap(out);
}

// Names, checks and messages come from scripts and servers; credentials must not reach output.
void redact_stats(WorkerStats& s, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return;
  redact_counts(s.error_reasons, secrets);
  for (std::string& e : s.error_samples) e = redact(e, secrets);
  for (std::string& e : s.script_error_samples) e = redact(e, secrets);
  std::map<std::string, CheckCount> checks;
  for (auto& [name, c] : s.checks) {
    CheckCount& dst = checks[redact(name, secrets)];
    dst.passes += c.passes;
    dst.fails += c.fails;
  }
  s.checks.swap(checks);
  for (ScenarioStats& sc : s.scenarios) {
    for (auto& [name, ns] : sc.names) redact_counts(ns.failure_reasons, secrets);
    redact_keys(sc.names, secrets);
  }
}

struct PreparedScenario {
  std::unique_ptr<Script> main;                        // main Lua state: setup() and done()
  std::vector<std::unique_ptr<ThreadHandle>> handles;  // one per worker
};

std::string request_path_name(const std::string& path) {
  const size_t q = path.find('?');
  return q == std::string::npos ? path : path.substr(0, q);
}

void print_progress(const RunResult& r, const WorkerStats& now, uint64_t last_completed,
                    double interval_s, double total_s, bool tty) {
  const double rps = interval_s > 0 ? static_cast<double>(now.ledger.completed - last_completed) / interval_s : 0;
  uint32_t vus = 0, vus_max = 0;
  std::string where;
  for (size_t i = 0; i < now.scenarios.size(); ++i) {
    const ScenarioStats& s = now.scenarios[i];
    vus += s.vus;
    vus_max += s.vus_max;
    if (!where.empty()) where += ", ";
    where += r.scenario_names[i];
    if (r.stages[i].size() > 1) {
      where += " stage " + std::to_string(s.stage + 1) + "/" + std::to_string(r.stages[i].size());
    }
  }
  const uint64_t total = now.ledger.completed + now.ledger.failed + now.ledger.timed_out;
  const uint64_t bad = now.ledger.failed + now.ledger.timed_out + now.errors.status;
  const double err_pct = total ? 100.0 * static_cast<double>(bad) / static_cast<double>(total) : 0;
  char line[512];
  std::snprintf(line, sizeof(line), "[%s / %s] %s | vus %u/%u | %.1f req/s | p95 %s | errors %.2f%%",
                format_duration_short(std::chrono::seconds(std::llround(r.elapsed_seconds))).c_str(),
                format_duration_short(std::chrono::seconds(std::llround(total_s))).c_str(),
                where.c_str(), vus, vus_max, rps, format_time_us(static_cast<double>(now.latency.percentile(95))).c_str(),
                err_pct);
  if (tty) {
    std::fprintf(stderr, "\r\033[2K%s", line);
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace

int run(RunOptions& opt) {
  RunConfig& cfg = opt.config;
  Url url;
  std::string error;
  if (!parse_url(cfg.target.url, url, error)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }
  if (cfg.scenarios.empty()) {
    std::fprintf(stderr, "pelt: nothing to run: no scenario\n");
    return kExitUsage;
  }
  const int threads = std::max(1, opt.threads);
  const auto env = script_env(opt.env);
  const auto module_dirs = lua_module_dirs();

  RunResult result;
  result.options = &opt;
  result.url = url.redacted();
  result.run_id = make_run_id();

  // TLS settings are checked once here so a bad --cacert is a usage error, not a run failure.
  TlsOptions tls_options;
  tls_options.verify = !cfg.target.insecure;
  tls_options.ca_file = cfg.target.cacert;
  if (url.tls()) {
    if (!TlsContext::create(tls_options, error)) {
      std::fprintf(stderr, "pelt: TLS setup failed: %s\n", error.c_str());
      return kExitUsage;
    }
  }

  // Lua states: a main one per scenario (setup/done) and one per worker and scenario.
  std::vector<PreparedScenario> prepared(cfg.scenarios.size());
  std::vector<std::vector<ScenarioSetup>> per_worker(threads);
  uint64_t total_vus = 0;
  for (size_t si = 0; si < cfg.scenarios.size(); ++si) {
    ScenarioConfig& sc = cfg.scenarios[si];
    ExecutorPlan plan(sc);
    total_vus += plan.max_vus();
    result.scenario_names.push_back(sc.name);
    result.scenario_executors.push_back(executor_name(sc.executor));
    result.arrival_rate.push_back(plan.arrival_rate());
    result.scenario_tags.push_back(sc.tags);
    std::vector<StageInfo> stages;
    for (size_t i = 0; i < plan.stage_count(); ++i) {
      StageInfo info;
      info.target = plan.stage_target(i);
      info.start = plan.stage_start(i);
      info.length = (i + 1 < plan.stage_count() ? plan.stage_start(i + 1) : plan.duration()) - info.start;
      stages.push_back(info);
    }
    result.stages.push_back(stages);

    ScriptOptions so;
    so.path = sc.script.empty() ? cfg.script : sc.script;
    so.scheme = url.scheme;
    so.host = url.host;
    so.port = url.port;
    so.path_query = sc.path.empty() ? url.path_query : sc.path;
    so.method = sc.method.empty() ? "GET" : sc.method;
    so.body = sc.body;
    so.headers = sc.headers;
    so.env = env;
    so.module_dirs = module_dirs;
    so.scenario = sc.name;
    so.thread_count = threads;
    PreparedScenario& ps = prepared[si];
    ps.main = Script::create(so, error);
    if (!ps.main) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
    Address first;
    if (!ps.main->resolve(url.host, url.effective_port(), first, error)) {
      // A name that does not resolve is bad input; a server that refuses every connection
      // means the run cannot happen.
      const bool unreachable = error.find("unable to connect") != std::string::npos;
      std::fprintf(stderr, "pelt: %s%s\n", error.c_str(),
                   unreachable ? " (is the server running and listening on that port?)" : "");
      return unreachable ? kExitRunFailed : kExitUsage;
    }
    for (int w = 0; w < threads; ++w) {
      ScriptOptions tso = so;
      tso.thread_id = w;
      auto handle = std::make_unique<ThreadHandle>();
      handle->id = w;
      handle->addr = first;
      auto ts = Script::create(tso, error);
      if (!ts) {
        std::fprintf(stderr, "pelt: %s\n", error.c_str());
        return kExitUsage;
      }
      handle->state = ts.get();
      if (ps.main->has_setup() && !ps.main->setup(*handle, error)) {
        std::fprintf(stderr, "pelt: setup() failed: %s\n", error.c_str());
        return kExitUsage;
      }
      if (!ts->init(*handle, opt.script_args, error)) {
        std::fprintf(stderr, "pelt: init() failed: %s\n", error.c_str());
        return kExitUsage;
      }
      // As wrk does, a dynamic request() is called once, on the first thread, to check what it
      // returns and count the pipeline depth; static requests are built on every thread.
      ScenarioSetup setup;
      std::string first_request;
      if (w > 0 && ts->has_request()) {
        setup.batch_heads = per_worker[0].back().batch_heads;
      } else if (!ts->first_request(first_request, error)) {
        std::fprintf(stderr, "pelt: request() failed: %s\n", error.c_str());
        return kExitUsage;
      } else if (!scan_requests(first_request, setup.batch_heads, error) || setup.batch_heads.empty()) {
        if (error.empty()) error = "no request";
        std::fprintf(stderr, "pelt: the %s request is not valid HTTP: %s\n",
                     ts->has_request() ? "script's request()" : "built", error.c_str());
        return kExitUsage;
      }
      setup.config = &sc;
      setup.handle = handle.get();
      setup.default_method = so.method;
      if (!ts->has_request()) {
        setup.static_request = first_request;
        const size_t sp1 = first_request.find(' ');
        const size_t sp2 = first_request.find(' ', sp1 + 1);
        if (sp1 != std::string::npos && sp2 != std::string::npos) {
          setup.default_method = first_request.substr(0, sp1);
          setup.default_name = request_path_name(first_request.substr(sp1 + 1, sp2 - sp1 - 1));
        }
      }
      if (setup.default_name.empty()) setup.default_name = "default";
      setup.script = std::move(ts);
      per_worker[w].push_back(std::move(setup));
      ps.handles.push_back(std::move(handle));
    }
  }

  if (!ensure_fd_limit(total_vus, error) || !check_port_range(total_vus, opt.sources.size(), error)) {
    std::fprintf(stderr, "pelt: %s\n", error.c_str());
    return kExitUsage;
  }

  // Credentials that must not reach labels or any output.
  const std::vector<std::string> secrets = secret_values(cfg, opt.env);

  // Metrics endpoint.
  std::unique_ptr<MetricsServer> metrics;
  MetricsOptions mo;
  const std::string listen = !opt.metrics_listen.empty() ? opt.metrics_listen : cfg.metrics.listen;
  if (!listen.empty()) {
    mo.listen = listen;
    mo.buckets = cfg.metrics.buckets;
    mo.version = PELT_VERSION;
    mo.run_id = result.run_id;
    mo.target = result.url;
    mo.scenario_names = result.scenario_names;
    mo.scenario_tags = result.scenario_tags;
    mo.arrival_rate = result.arrival_rate;
    mo.secret_values = secrets;
    metrics = MetricsServer::start(mo, error);
    if (!metrics) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      return kExitUsage;
    }
    std::fprintf(stderr, "pelt: serving metrics on http://%s/metrics\n", metrics->address().c_str());
  }

  // Workers.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < threads; ++w) {
    WorkerOptions wo;
    wo.id = w;
    wo.count = threads;
    wo.url = url;
    wo.timeout = cfg.target.timeout;
    wo.tls = tls_options;
    wo.sources = opt.sources;
    workers.push_back(std::make_unique<Worker>(wo, std::move(per_worker[w])));
  }

  double total_seconds = 0;
  for (const ScenarioConfig& sc : cfg.scenarios) {
    ExecutorPlan plan(sc);
    total_seconds = std::max(total_seconds, static_cast<double>((sc.start_time + plan.duration()).count()) / 1e6);
  }

  if (opt.quick) {
    std::printf("Running %s test @ %s\n", format_duration_short(opt.duration).c_str(), result.url.c_str());
    std::printf("  %d threads and %llu connections\n", threads,
                static_cast<unsigned long long>(opt.connections));
    std::fflush(stdout);
  }

  install_signal_handlers();
  std::latch ready(threads), go(1);
  std::atomic<uint64_t> start_ns{0};
  for (auto& w : workers) w->start(ready, go, start_ns);
  ready.wait();
  const uint64_t t0 = uv_hrtime();
  start_ns.store(t0, std::memory_order_release);
  go.count_down();

  const bool tty = isatty(STDERR_FILENO);
  const bool show_progress = !opt.quiet && (tty || !opt.quick);
  const double progress_every = tty ? 1.0 : 10.0;
  double next_progress = progress_every;
  double next_update = 1.0;
  uint64_t last_completed = 0;
  double last_progress_at = 0;
  bool drew = false;
  bool abort_sent = false;
  auto merge_snapshots = [&]() {
    WorkerStats m;
    for (auto& w : workers) m.merge(w->snapshot());
    return m;
  };
  auto evaluate = [&](const WorkerStats& m, double elapsed, bool final_eval) {
    std::vector<ThresholdState> states;
    ThresholdInputs in;
    in.stats = &m;
    in.scenario_names = &result.scenario_names;
    in.scenario_tags = &result.scenario_tags;
    in.elapsed_seconds = elapsed;
    result.thresholds.clear();
    result.thresholds_ok = true;
    for (const ThresholdConfig& th : cfg.thresholds) {
      ThresholdOutcome o;
      o.config = &th;
      o.result = evaluate_threshold(th, in);
      result.thresholds_ok = result.thresholds_ok && o.result.ok;
      states.push_back({th.key + " " + th.expression, o.result.ok});
      if (!final_eval && th.abort_on_fail && !o.result.ok && o.result.has_data &&
          elapsed * 1e6 >= static_cast<double>(th.delay_abort_eval.count()) && !result.aborted) {
        result.aborted = true;
        result.abort_reason = th.key + " " + th.expression + " crossed (" + o.result.text + ")";
      }
      result.thresholds.push_back(o);
    }
    return states;
  };

  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bool all = true;
    for (auto& w : workers) all = all && w->finished();
    if (all) break;
    result.elapsed_seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
    if (g_signals.load() > 0 && !result.interrupted) {
      result.interrupted = true;
      if (drew) std::fprintf(stderr, "\n");
      drew = false;
      std::fprintf(stderr, "pelt: interrupted, stopping (Ctrl-C again to quit at once)\n");
      for (auto& w : workers) w->stop();
    }
    if (result.elapsed_seconds >= next_update) {
      next_update += 1.0;
      WorkerStats m = merge_snapshots();
      auto states = evaluate(m, result.elapsed_seconds, false);
      if (metrics) metrics->update(m, states);
      if (result.aborted && !abort_sent) {
        abort_sent = true;
        if (drew) std::fprintf(stderr, "\n");
        drew = false;
        std::fprintf(stderr, "pelt: stopping early: threshold %s\n", result.abort_reason.c_str());
        for (auto& w : workers) w->stop();
      }
      if (show_progress && result.elapsed_seconds >= next_progress) {
        next_progress += progress_every;
        print_progress(result, m, last_completed, result.elapsed_seconds - last_progress_at, total_seconds, tty);
        last_completed = m.ledger.completed;
        last_progress_at = result.elapsed_seconds;
        drew = tty;
      }
    }
  }
  result.elapsed_seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
  for (auto& w : workers) w->join();
  if (drew) std::fprintf(stderr, "\n");

  for (auto& w : workers) {
    if (!w->fatal_error().empty()) {
      std::fprintf(stderr, "pelt: worker %s\n", w->fatal_error().c_str());
      return kExitRunFailed;
    }
    result.stats.merge(w->final_stats());
  }
  auto states = evaluate(result.stats, result.elapsed_seconds, true);
  redact_stats(result.stats, secrets);
  result.url = redact(result.url, secrets);

  if (opt.quick) {
    print_wrk_summary(stdout, result);
  } else {
    print_run_summary(stdout, result);
  }
  std::fflush(stdout);

  int code = kExitOk;
  for (const std::string& path : {opt.json_path, opt.summary_json_path}) {
    if (path.empty()) continue;
    if (!write_summary_json(path, result, error)) {
      std::fprintf(stderr, "pelt: %s\n", error.c_str());
      code = kExitRunFailed;
    }
  }

  // Lua done() hooks, in the main states, as wrk does.
  for (PreparedScenario& ps : prepared) {
    if (!ps.main->has_done()) continue;
    DoneSummary ds;
    ds.duration_us = static_cast<uint64_t>(result.elapsed_seconds * 1e6);
    ds.requests = result.stats.ledger.completed;
    ds.bytes = result.stats.bytes_read;
    ds.errors = result.stats.errors;
    if (!ps.main->done(ds, result.stats.latency, result.stats.req_per_sec, error)) {
      std::fprintf(stderr, "pelt: done() failed: %s\n", error.c_str());
      code = kExitRunFailed;
    }
  }
  std::fflush(stdout);

  if (metrics) {
    metrics->update(result.stats, states);
    auto linger = opt.metrics_linger.count() >= 0
                      ? opt.metrics_linger
                      : std::chrono::duration_cast<std::chrono::milliseconds>(cfg.metrics.linger);
    if (linger.count() > 0) {
      std::fprintf(stderr, "pelt: run finished; serving final metrics on http://%s/metrics for up to %s (until scraped twice)\n",
                   metrics->address().c_str(),
                   format_duration_short(std::chrono::duration_cast<std::chrono::microseconds>(linger)).c_str());
      const int seen = metrics->linger(linger, 2);
      std::fprintf(stderr, "pelt: final metrics scraped %d time%s\n", seen, seen == 1 ? "" : "s");
    }
  }
  workers.clear();
  if (code != kExitOk) return code;
  return result.thresholds_ok ? kExitOk : kExitThresholds;
}

}  // namespace pelt
