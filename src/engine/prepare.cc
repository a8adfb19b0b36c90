#include "engine/prepare.h"

#include <cstring>
#include <filesystem>

#include "engine/runner.h"
#include "wire/h2_request.h"
#include "wire/http1.h"

extern char** environ;

namespace pelt {
namespace {

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

std::string request_path_name(const std::string& path) {
  const size_t q = path.find('?');
  return q == std::string::npos ? path : path.substr(0, q);
}

// A scenario without a script needs no Lua state during the run: its request is built once,
// and each worker sends its own copy of the bytes.
bool prepare_static(PreparedScenario& ps, const ScriptOptions& so, const Address& addr,
                    const ScenarioConfig& sc, int threads, const std::vector<std::string>& args,
                    PreparedRun& out, std::string& error) {
  auto builder = Script::create(so, error);
  if (!builder) return false;
  ThreadHandle scratch;
  scratch.addr = addr;
  std::string_view bytes;
  std::vector<bool> heads;
  if (!builder->init(scratch, args, error)) return false;
  if (!builder->request(bytes)) {
    error = "request() failed: " + builder->last_error();
    return false;
  }
  if (!scan_requests(bytes, heads, error) || heads.empty()) {
    error = "the built request is not valid HTTP: " + (error.empty() ? std::string("no request") : error);
    return false;
  }
  std::string method = so.method, name;
  const size_t sp1 = bytes.find(' ');
  const size_t sp2 = bytes.find(' ', sp1 + 1);
  if (sp1 != std::string_view::npos && sp2 != std::string_view::npos) {
    method = std::string(bytes.substr(0, sp1));
    name = request_path_name(std::string(bytes.substr(sp1 + 1, sp2 - sp1 - 1)));
  }
  for (int w = 0; w < threads; ++w) {
    auto handle = std::make_unique<ThreadHandle>();
    handle->id = w;
    handle->addr = addr;
    ScenarioSetup setup;
    setup.config = &sc;
    setup.handle = handle.get();
    setup.batch_heads = heads;
    setup.static_batch = make_owned_batch(std::string(bytes), heads);
    setup.default_method = method;
    setup.default_name = name.empty() ? "default" : name;
    out.workers[static_cast<size_t>(w)].push_back(std::move(setup));
    ps.handles.push_back(std::move(handle));
  }
  ps.main.reset();  // no setup() and no done() to call
  return true;
}

bool fail(std::string& error, int& exit_code, std::string message, int code = kExitUsage) {
  error = std::move(message);
  exit_code = code;
  return false;
}

}  // namespace

bool prepare_scripts(const RunConfig& cfg, const Url& url, int threads,
                     const std::vector<std::string>& script_args,
                     const std::map<std::string, std::string>& env_overrides, PreparedRun& out,
                     std::string& error, int& exit_code) {
  const auto env = script_env(env_overrides);
  const auto module_dirs = lua_module_dirs();
  out.scenarios.resize(cfg.scenarios.size());
  out.workers.clear();
  out.workers.resize(static_cast<size_t>(threads));
  for (size_t si = 0; si < cfg.scenarios.size(); ++si) {
    const ScenarioConfig& sc = cfg.scenarios[si];
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
    PreparedScenario& ps = out.scenarios[si];
    ps.main = Script::create(so, error);
    if (!ps.main) return fail(error, exit_code, error);
    Address first;
    if (!ps.main->resolve(url.host, url.effective_port(), first, error)) {
      // A name that does not resolve is bad input; a server that refuses every connection
      // means the run cannot happen.
      const bool unreachable = error.find("unable to connect") != std::string::npos;
      return fail(error, exit_code,
                  error + (unreachable ? " (is the server running and listening on that port?)" : ""),
                  unreachable ? kExitRunFailed : kExitUsage);
    }
    if (so.path.empty() && !prepare_static(ps, so, first, sc, threads, script_args, out, error)) {
      return fail(error, exit_code, error);
    }
    if (so.path.empty()) continue;
    for (int w = 0; w < threads; ++w) {
      ScriptOptions tso = so;
      tso.thread_id = w;
      auto handle = std::make_unique<ThreadHandle>();
      handle->id = w;
      handle->addr = first;
      auto ts = Script::create(tso, error);
      if (!ts) return fail(error, exit_code, error);
      handle->state = ts.get();
      if (ps.main->has_setup() && !ps.main->setup(*handle, error)) {
        return fail(error, exit_code, "setup() failed: " + error);
      }
      if (!ts->init(*handle, script_args, error)) return fail(error, exit_code, "init() failed: " + error);
      // As wrk does, a dynamic request() is called once, on the first thread, to check what it
      // returns and count the pipeline depth; static requests are built on every thread.
      // The request stays a string in the thread's Lua state (no copy here: a body may be large).
      ScenarioSetup setup;
      std::string_view first_request;
      if (w > 0 && ts->has_request()) {
        setup.batch_heads = out.workers[0].back().batch_heads;
      } else if (!ts->request(first_request)) {
        error = ts->last_error();
        return fail(error, exit_code, "request() failed: " + error);
      } else if (!scan_requests(first_request, setup.batch_heads, error) || setup.batch_heads.empty()) {
        if (error.empty()) error = "no request";
        return fail(error, exit_code,
                    std::string("the ") + (ts->has_request() ? "script's request()" : "built") +
                        " request is not valid HTTP: " + error);
      }
      if (w == 0 && cfg.target.http != HttpVersion::kHttp11) {
        // Over HTTP/2 every request is converted: one that cannot be is bad input, not a
        // script error per request.
        std::vector<H2Request> converted;
        if (!http1_to_h2(first_request, url.scheme, url.host_header(), converted, error)) {
          return fail(error, exit_code,
                      std::string("the ") + (ts->has_request() ? "script's request()" : "built") +
                          " request cannot be sent over HTTP/2: " + error);
        }
      }
      setup.config = &sc;
      setup.handle = handle.get();
      setup.default_method = so.method;
      if (!ts->has_request()) {
        const size_t sp1 = first_request.find(' ');
        const size_t sp2 = first_request.find(' ', sp1 + 1);
        if (sp1 != std::string::npos && sp2 != std::string::npos) {
          setup.default_method = std::string(first_request.substr(0, sp1));
          setup.default_name =
              request_path_name(std::string(first_request.substr(sp1 + 1, sp2 - sp1 - 1)));
        }
      }
      if (setup.default_name.empty()) setup.default_name = "default";
      setup.script = std::move(ts);
      out.workers[static_cast<size_t>(w)].push_back(std::move(setup));
      ps.handles.push_back(std::move(handle));
    }
  }
  return true;
}

}  // namespace pelt
