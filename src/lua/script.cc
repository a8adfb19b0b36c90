// The Script class: one Lua state running the prelude and a user script (see script.h).
#include "lua/script.h"

#include <cstdlib>

#include <netdb.h>
#include <netinet/in.h>

#include <cmath>

#include "prelude_lua.h"  // kPreludeLua, generated from lua/prelude.lua
#include "lua/script_native.h"

namespace pelt {
namespace {

char kSelfKey;  // its address keys the owning Script* in the registry

// Sets field key of the table at the top of the stack to a string.
void set_string_field(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// The directory part of path ("." when it has none).
std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string Address::to_string() const {
  if (length == 0) return "";
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  int rc = getnameinfo(reinterpret_cast<const sockaddr*>(&storage), length, host, sizeof(host),
                       service, sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV);
  if (rc != 0) return std::string("?") + gai_strerror(rc);
  if (storage.ss_family == AF_INET6) return std::string("[") + host + "]:" + service;
  return std::string(host) + ":" + service;
}

void ScriptAccess::record_check(Script& s, std::string_view name, bool ok) {
  s.check_key_.assign(name.data(), name.size());
  auto it = s.checks_.find(s.check_key_);
  if (it == s.checks_.end()) it = s.checks_.emplace(s.check_key_, CheckCount{}).first;
  if (ok) {
    ++it->second.passes;
  } else {
    ++it->second.fails;
  }
}

void ScriptAccess::set_name(Script& s, lua_State* L, int index) {
  size_t len = 0;
  const char* text = lua_tolstring(L, index, &len);
  lua_pushvalue(L, index);
  if (s.in_request_) {
    lua_rawseti(L, LUA_REGISTRYINDEX, s.name_ref_);
    s.name_ = std::string_view(text, len);
  } else {
    lua_rawseti(L, LUA_REGISTRYINDEX, s.default_name_ref_);
    s.default_name_ = std::string_view(text, len);
    s.name_ = s.default_name_;
  }
}

Script* Script::from(lua_State* L) {
  lua_pushlightuserdata(L, &kSelfKey);
  lua_rawget(L, LUA_REGISTRYINDEX);
  auto* s = static_cast<Script*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return s;
}

std::unique_ptr<Script> Script::create(const ScriptOptions& options, std::string& error) {
  std::unique_ptr<Script> s(new Script());
  if (!s->load(options, error)) return nullptr;
  return s;
}

Script::~Script() {
  if (L_ != nullptr) lua_close(L_);
}

void* Script::allocate(void* ud, void* block, size_t old_size, size_t new_size) {
  auto* self = static_cast<Script*>(ud);
  if (new_size == 0) {
    self->memory_bytes_ -= old_size;
    std::free(block);
    return nullptr;
  }
  const size_t old_bytes = block ? old_size : 0;
  // Past the budget the allocation fails: Lua raises "not enough memory" in the script, which
  // is then a script error like any other, never the machine's memory running out.
  if (self->memory_bytes_ - old_bytes + new_size > self->memory_limit_bytes_) return nullptr;
  void* out = std::realloc(block, new_size);
  if (out != nullptr) self->memory_bytes_ = self->memory_bytes_ - old_bytes + new_size;
  return out;
}

bool Script::load(const ScriptOptions& options, std::string& error) {
  path_ = options.path;
  memory_limit_bytes_ = options.memory_limit_bytes;
  L_ = lua_newstate(&Script::allocate, this);
  if (L_ == nullptr) {
    error = "cannot create a Lua state (out of memory)";
    return false;
  }
  lua_State* L = L_;
  luaL_openlibs(L);
  lua_pushlightuserdata(L, &kSelfKey);
  lua_pushlightuserdata(L, this);
  lua_rawset(L, LUA_REGISTRYINDEX);
  register_native_types(L);

  push_error_handler(L, this);
  handler_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  for (int* slot : {&keep_ref_, &name_ref_, &default_name_ref_}) {
    lua_pushboolean(L, 0);
    *slot = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  for (int* slot : {&tags_ref_, &default_tags_ref_}) {
    lua_newtable(L);
    *slot = luaL_ref(L, LUA_REGISTRYINDEX);
  }

  // The prelude builds `wrk` and `pelt` and returns the header metatable.
  int h = push_handler();
  if (luaL_loadbuffer(L, kPreludeLua, sizeof(kPreludeLua) - 1, "=[pelt]") != 0) {
    error = std::string("prelude: ") + lua_tostring(L, -1);
    return false;
  }
  push_native_table(L, this);
  if (!call(h, 1, 2)) {
    error = "prelude: " + last_error_;
    return false;
  }
  const int install_format_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  header_mt_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);

  // The wrk table from the URL and command line; wrk.format is the prelude's caching front
  // over the native builder.
  lua_getglobal(L, "wrk");
  h = push_handler();
  lua_rawgeti(L, LUA_REGISTRYINDEX, install_format_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, install_format_ref);
  push_format(L, this, 1);
  if (!call(h, 1, 0)) {
    error = "prelude: " + last_error_;
    return false;
  }
  lua_settop(L, 1);
  if (!options.scheme.empty()) set_string_field(L, "scheme", options.scheme);
  if (!options.host.empty()) set_string_field(L, "host", options.host);
  if (!options.port.empty()) set_string_field(L, "port", options.port);
  set_string_field(L, "path", options.path_query.empty() ? "/" : options.path_query);
  if (!options.method.empty()) set_string_field(L, "method", options.method);
  if (!options.body.empty()) set_string_field(L, "body", options.body);
  lua_getfield(L, -1, "headers");
  for (const auto& [name, value] : options.headers) {
    lua_pushlstring(L, name.data(), name.size());
    lua_pushlstring(L, value.data(), value.size());
    lua_settable(L, -3);  // through the case-insensitive metatable
  }
  lua_settop(L, 0);

  // The pelt table.
  lua_getglobal(L, "pelt");
  lua_pushinteger(L, options.thread_id);
  lua_setfield(L, -2, "thread_id");
  lua_pushinteger(L, options.thread_count);
  lua_setfield(L, -2, "threads");
  set_string_field(L, "scenario", options.scenario);
  lua_getfield(L, -1, "env");
  for (const auto& [name, value] : options.env) set_string_field(L, name.c_str(), value);
  lua_settop(L, 0);

  // require(): the script's directory, then the extra module directories.
  std::string search;
  std::vector<std::string> dirs;
  if (!options.path.empty()) dirs.push_back(directory_of(options.path));
  dirs.insert(dirs.end(), options.module_dirs.begin(), options.module_dirs.end());
  for (const std::string& dir : dirs) search += dir + "/?.lua;" + dir + "/?/init.lua;";
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  search += lua_tostring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  set_string_field(L, "path", search);
  lua_settop(L, 0);

  if (!options.path.empty()) {
    h = push_handler();
    if (luaL_loadfile(L, options.path.c_str()) != 0) {
      error = full_source_prefix(lua_tostring(L, -1) ? lua_tostring(L, -1) : "load failed",
                                 options.path);
      lua_settop(L, 0);
      return false;
    }
    if (!call(h, 0, 0)) {
      error = last_error_;
      return false;
    }
    lua_settop(L, 0);
  }
  detect_hooks();
  return true;
}

bool Script::push_global_function(const char* name) {
  lua_getfield(L_, LUA_GLOBALSINDEX, name);
  if (lua_isfunction(L_, -1)) return true;
  lua_pop(L_, 1);
  return false;
}

void Script::detect_hooks() {
  auto probe = [this](const char* name) {
    bool found = push_global_function(name);
    if (found) lua_pop(L_, 1);
    return found;
  };
  has_setup_ = probe("setup");
  has_init_ = probe("init");
  has_request_ = probe("request");
  has_response_ = probe("response");
  has_delay_ = probe("delay");
  has_done_ = probe("done");
  has_teardown_ = probe("teardown");
}

int Script::push_handler() {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, handler_ref_);
  return lua_gettop(L_);
}

bool Script::call(int handler, int nargs, int nresults) {
  const int status = lua_pcall(L_, nargs, nresults, handler);
  if (status == 0) return true;
  const char* message = lua_tostring(L_, -1);
  last_error_ = message ? message : "unknown Lua error";
  // Out of memory skips the message handler: name the script and the budget.
  if (status == LUA_ERRMEM) {
    last_error_ = (path_.empty() ? std::string("script") : path_) + ": " + last_error_ +
                  " (a Lua state may use " + std::to_string(memory_limit_bytes_ >> 20) + " MiB)";
  }
  lua_settop(L_, handler - 1);
  return false;
}

bool Script::has_setup() const {
  return has_setup_;
}
bool Script::has_init() const {
  return has_init_;
}
bool Script::has_request() const {
  return has_request_;
}
bool Script::has_response() const {
  return has_response_;
}
bool Script::has_delay() const {
  return has_delay_;
}
bool Script::has_done() const {
  return has_done_;
}
bool Script::has_teardown() const {
  return has_teardown_;
}
const std::string& Script::last_error() const {
  return last_error_;
}
std::string_view Script::request_name() const {
  return name_;
}
const std::map<std::string, CheckCount>& Script::checks() const {
  return checks_;
}

bool Script::resolve(const std::string& host, const std::string& service, Address& first,
                     std::string& error) {
  lua_settop(L_, 0);
  int h = push_handler();
  lua_getglobal(L_, "wrk");
  lua_getfield(L_, -1, "resolve");
  lua_remove(L_, -2);
  lua_pushlstring(L_, host.data(), host.size());
  if (service.empty()) {
    lua_pushnil(L_);
  } else {
    lua_pushlstring(L_, service.data(), service.size());
  }
  if (!call(h, 2, 0)) {
    error = last_error_;
    return false;
  }
  lua_getglobal(L_, "wrk");
  lua_getfield(L_, -1, "addrs");
  lua_rawgeti(L_, -1, 1);
  const Address* addr = to_address(L_, -1);
  if (addr == nullptr) {
    error = "unable to connect to " + host + ":" + service + ": no address accepted a connection";
    lua_settop(L_, 0);
    return false;
  }
  first = *addr;
  lua_settop(L_, 0);
  return true;
}

bool Script::setup(ThreadHandle& thread, std::string& error) {
  lua_settop(L_, 0);
  int h = push_handler();
  lua_getglobal(L_, "wrk");
  lua_getfield(L_, -1, "setup");
  lua_remove(L_, -2);
  push_thread(L_, &thread);
  if (!call(h, 1, 0)) {
    error = last_error_;
    return false;
  }
  lua_settop(L_, 0);
  return true;
}

bool Script::init(ThreadHandle& thread, const std::vector<std::string>& args, std::string& error) {
  lua_settop(L_, 0);
  thread_ = &thread;
  lua_getglobal(L_, "wrk");
  push_thread(L_, &thread);
  lua_setfield(L_, -2, "thread");
  lua_settop(L_, 0);

  int h = push_handler();
  lua_getglobal(L_, "wrk");
  lua_getfield(L_, -1, "init");
  lua_remove(L_, -2);
  lua_createtable(L_, static_cast<int>(args.size()), 1);
  for (size_t i = 0; i < args.size(); ++i) {
    lua_pushlstring(L_, args[i].data(), args[i].size());
    lua_rawseti(L_, -2, static_cast<int>(i));  // wrk numbers the arguments from 0
  }
  if (!call(h, 1, 0)) {
    error = last_error_;
    return false;
  }
  lua_settop(L_, 0);
  detect_hooks();  // init() may define or clear hooks
  return true;
}

bool Script::request(std::string_view& out) {
  lua_settop(L_, 0);
  int h = push_handler();
  if (!push_global_function("request")) {
    lua_getfield(L_, LUA_GLOBALSINDEX, "wrk");
    lua_getfield(L_, -1, "request");
    lua_remove(L_, -2);
    if (!lua_isfunction(L_, -1)) {
      last_error_ = "no request: neither request() nor wrk.request (init has not run)";
      lua_settop(L_, 0);
      return false;
    }
  }
  name_ = default_name_;
  if (request_tag_keys_ > 0) {
    // The previous request's tags go.
    lua_rawgeti(L_, LUA_REGISTRYINDEX, tags_ref_);
    const int table = lua_gettop(L_);
    lua_pushnil(L_);
    while (lua_next(L_, table) != 0) {
      lua_pop(L_, 1);
      lua_pushvalue(L_, -1);
      lua_pushnil(L_);
      lua_rawset(L_, table);
    }
    lua_pop(L_, 1);
    request_tag_keys_ = 0;
  }
  in_request_ = true;
  bool ok = call(h, 0, 2);
  in_request_ = false;
  tag_count_ = 0;
  if (!ok) return false;
  if (lua_type(L_, -2) != LUA_TSTRING) {
    last_error_ = (path_.empty() ? std::string("request") : path_) + ": request() returned " +
                  luaL_typename(L_, -2) + ", expected a string";
    lua_settop(L_, 0);
    return false;
  }
  const int tags = lua_type(L_, -1);
  if (tags != LUA_TNIL && tags != LUA_TTABLE) {
    last_error_ = (path_.empty() ? std::string("request") : path_) + ": request() returned " +
                  luaL_typename(L_, -1) + " after the request, expected a table of tags";
    lua_settop(L_, 0);
    return false;
  }
  if (!collect_tags(tags == LUA_TTABLE ? lua_gettop(L_) : 0)) {
    lua_settop(L_, 0);
    return false;
  }
  lua_pop(L_, 1);
  size_t len = 0;
  const char* data = lua_tolstring(L_, -1, &len);
  lua_rawseti(L_, LUA_REGISTRYINDEX, keep_ref_);  // anchors the string until the next call
  out = std::string_view(data, len);
  lua_settop(L_, 0);
  return true;
}

int Script::anchor_last_request() {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, keep_ref_);
  return luaL_ref(L_, LUA_REGISTRYINDEX);
}

void Script::release(int anchor) {
  luaL_unref(L_, LUA_REGISTRYINDEX, anchor);
}

bool Script::first_request(std::string& out, std::string& error) {
  std::string_view view;
  if (!request(view)) {
    error = last_error_;
    return false;
  }
  out.assign(view.data(), view.size());
  return true;
}

bool Script::response(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view body) {
  lua_settop(L_, 0);
  int h = push_handler();
  if (!push_global_function("response")) {
    lua_settop(L_, 0);
    return true;
  }
  lua_pushinteger(L_, status);
  lua_createtable(L_, 0, static_cast<int>(headers.size()));
  for (const auto& [name, value] : headers) {
    lua_pushlstring(L_, name.data(), name.size());
    lua_pushlstring(L_, value.data(), value.size());
    lua_rawset(L_, -3);
  }
  lua_rawgeti(L_, LUA_REGISTRYINDEX, header_mt_ref_);
  lua_setmetatable(L_, -2);
  lua_pushlstring(L_, body.data(), body.size());
  bool ok = call(h, 3, 0);
  lua_settop(L_, 0);
  return ok;
}

bool Script::delay(double& ms) {
  ms = 0;
  lua_settop(L_, 0);
  int h = push_handler();
  if (!push_global_function("delay")) {
    lua_settop(L_, 0);
    return true;
  }
  if (!call(h, 0, 1)) return false;
  double value = lua_tonumber(L_, -1);
  ms = std::isfinite(value) && value > 0 ? value : 0;
  lua_settop(L_, 0);
  return true;
}

bool Script::teardown(std::string& error) {
  lua_settop(L_, 0);
  int h = push_handler();
  if (!push_global_function("teardown")) {
    lua_settop(L_, 0);
    return true;
  }
  bool ok = call(h, 0, 0);
  if (!ok) error = last_error_;
  lua_settop(L_, 0);
  return ok;
}

bool Script::done(const DoneSummary& summary, const Histogram& latency, const Histogram& requests,
                  std::string& error) {
  lua_settop(L_, 0);
  if (!push_global_function("done")) return true;
  lua_pop(L_, 1);
  // The stats objects stay at stack slots 1 and 2 so they outlive the call: the histograms
  // belong to the caller, and objects the script kept must stop working afterwards.
  const Histogram** latency_slot = push_stats(L_, &latency);
  const Histogram** requests_slot = push_stats(L_, &requests);
  int h = push_handler();
  push_global_function("done");
  auto set_number = [this](const char* key, uint64_t value) {
    lua_pushnumber(L_, static_cast<lua_Number>(value));
    lua_setfield(L_, -2, key);
  };
  lua_createtable(L_, 0, 4);
  set_number("duration", summary.duration_us);
  set_number("requests", summary.requests);
  set_number("bytes", summary.bytes);
  lua_createtable(L_, 0, 5);
  set_number("connect", summary.errors.connect);
  set_number("read", summary.errors.read);
  set_number("write", summary.errors.write);
  set_number("status", summary.errors.status);
  set_number("timeout", summary.errors.timeout);
  lua_setfield(L_, -2, "errors");
  lua_pushvalue(L_, 1);
  lua_pushvalue(L_, 2);
  bool ok = call(h, 3, 0);
  *latency_slot = nullptr;
  *requests_slot = nullptr;
  if (!ok) error = last_error_;
  lua_settop(L_, 0);
  return ok;
}

void Script::bind_recorder(Recorder* recorder, uint32_t scenario) {
  recorder_ = recorder;
  scenario_index_ = scenario;
  ++bind_epoch_;
  custom_lookup_.clear();
  custom_tag_values_.clear();
  custom_tag_sets_ = 0;
}

}  // namespace pelt
