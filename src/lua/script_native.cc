// Native functions and userdata types of the Lua API (see script_native.h).
#include "lua/script_native.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pelt {
namespace {

constexpr const char* kAddrType = "pelt.addr";      // metatable name of addr objects
constexpr const char* kThreadType = "pelt.thread";  // metatable name of thread objects
constexpr const char* kStatsType = "pelt.stats";    // metatable name of stats objects
constexpr int kConnectTimeoutMs = 1000;             // wrk.connect() gives up after this
constexpr int kMaxCopyDepth = 64;                   // nesting limit for thread:get/set tables

#ifndef PELT_VERSION
#define PELT_VERSION "0.1.0"
#endif

// ---- addr -------------------------------------------------------------------------------------

int on_addr_tostring(lua_State* L) {
  const Address* addr = static_cast<const Address*>(luaL_checkudata(L, 1, kAddrType));
  std::string text = addr->to_string();
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

int on_addr_eq(lua_State* L) {
  const Address* a = to_address(L, 1);
  const Address* b = to_address(L, 2);
  bool same =
      a && b && a->length == b->length && std::memcmp(&a->storage, &b->storage, a->length) == 0;
  lua_pushboolean(L, same);
  return 1;
}

// ---- wrk.lookup / wrk.connect ------------------------------------------------------------------

// wrk.lookup(host, service): every address getaddrinfo() returns, as addr objects.
int on_lookup(lua_State* L) {
  const char* host = luaL_checkstring(L, 1);
  const char* service = lua_isnoneornil(L, 2) ? nullptr : luaL_checkstring(L, 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host, service, &hints, &list);
  if (rc != 0) {
    return luaL_error(L, "unable to resolve %s:%s: %s", host, service ? service : "",
                      gai_strerror(rc));
  }
  lua_newtable(L);
  int index = 1;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address addr;
    std::memcpy(&addr.storage, ai->ai_addr, ai->ai_addrlen);
    addr.length = ai->ai_addrlen;
    push_address(L, addr);
    lua_rawseti(L, -2, index++);
  }
  freeaddrinfo(list);
  return 1;
}

// True when a TCP connection to addr completes within kConnectTimeoutMs.
bool try_connect(const Address& addr) {
  int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int n;
    do {
      n = poll(&p, 1, kConnectTimeoutMs);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
      int err = 0;
      socklen_t len = sizeof(err);
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  close(fd);
  return ok;
}

// wrk.connect(addr): true if addr accepts a TCP connection.
int on_connect(lua_State* L) {
  const Address* addr = static_cast<const Address*>(luaL_checkudata(L, 1, kAddrType));
  lua_pushboolean(L, try_connect(*addr));
  return 1;
}

// ---- pelt.check / pelt.name -------------------------------------------------------------------

Script* bound_script(lua_State* L) {
  return static_cast<Script*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// pelt.check(name, ok): records the outcome and returns ok unchanged.
int on_check(lua_State* L) {
  size_t len = 0;
  const char* name = luaL_checklstring(L, 1, &len);
  luaL_checkany(L, 2);
  ScriptAccess::record_check(*bound_script(L), std::string_view(name, len), lua_toboolean(L, 2));
  lua_settop(L, 2);
  return 1;
}

// pelt.name(str): names the current request (inside request()) or every request.
int on_name(lua_State* L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_settop(L, 1);
  ScriptAccess::set_name(*bound_script(L), L);
  return 0;
}

// pelt.tag(key, value): tags the current request (inside request()) or every request.
int on_tag(lua_State* L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_settop(L, 2);
  ScriptAccess::set_tag(*bound_script(L), L, 1, 2, "pelt.tag");
  return 0;
}

// ---- values between states --------------------------------------------------------------------

int absolute(lua_State* L, int index) {
  return index > 0 || index <= LUA_REGISTRYINDEX ? index : lua_gettop(L) + index + 1;
}

// Pushes onto dst a copy of the value at index in src: strings, numbers, booleans, nil and
// tables of those (recursively). On failure returns false with error set; stacks are then
// left for the caller to reset.
bool copy_value(lua_State* src, lua_State* dst, int index, int depth, std::string& error) {
  index = absolute(src, index);
  if (!lua_checkstack(dst, 3) || !lua_checkstack(src, 3)) {
    error = "Lua stack exhausted";
    return false;
  }
  switch (lua_type(src, index)) {
    case LUA_TNIL:
      lua_pushnil(dst);
      return true;
    case LUA_TBOOLEAN:
      lua_pushboolean(dst, lua_toboolean(src, index));
      return true;
    case LUA_TNUMBER:
      lua_pushnumber(dst, lua_tonumber(src, index));
      return true;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(src, index, &len);
      lua_pushlstring(dst, s, len);
      return true;
    }
    case LUA_TTABLE:
      if (depth >= kMaxCopyDepth) {
        error = "table nested too deeply (a cycle?) to transfer";
        return false;
      }
      lua_newtable(dst);
      lua_pushnil(src);
      while (lua_next(src, index) != 0) {
        if (!copy_value(src, dst, -2, depth + 1, error) ||
            !copy_value(src, dst, -1, depth + 1, error)) {
          return false;
        }
        lua_rawset(dst, -3);
        lua_pop(src, 1);
      }
      return true;
    default:
      error = std::string("cannot transfer '") + luaL_typename(src, index) + "' between threads";
      return false;
  }
}

// ---- thread -----------------------------------------------------------------------------------

ThreadHandle* check_thread(lua_State* L) {
  ThreadHandle* t = *static_cast<ThreadHandle**>(luaL_checkudata(L, 1, kThreadType));
  if (t == nullptr) luaL_error(L, "thread object is no longer valid");
  return t;
}

// The thread's Lua state, or a Lua error when it has none.
lua_State* thread_state(lua_State* L, ThreadHandle* t) {
  if (t->state == nullptr || ScriptAccess::state(*t->state) == nullptr) {
    luaL_error(L, "thread %d has no Lua state", t->id);
  }
  return ScriptAccess::state(*t->state);
}

// thread:get(name): a copy of the global name in the thread's state.
int on_thread_get(lua_State* L) {
  ThreadHandle* t = check_thread(L);
  const char* name = luaL_checkstring(L, 2);
  lua_State* T = thread_state(L, t);
  if (T == L) {
    lua_getglobal(L, name);
    return 1;
  }
  int top = lua_gettop(T);
  lua_getglobal(T, name);
  std::string error;
  bool ok = copy_value(T, L, -1, 0, error);
  lua_settop(T, top);
  if (!ok) return luaL_error(L, "thread:get('%s'): %s", name, error.c_str());
  return 1;
}

// thread:set(name, value): stores a copy of value as the global name in the thread's state.
int on_thread_set(lua_State* L) {
  ThreadHandle* t = check_thread(L);
  const char* name = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  lua_State* T = thread_state(L, t);
  if (T == L) {
    lua_setglobal(L, name);
    return 0;
  }
  int top = lua_gettop(T);
  std::string error;
  if (!copy_value(L, T, 3, 0, error)) {
    lua_settop(T, top);
    lua_settop(L, 3);
    return luaL_error(L, "thread:set('%s'): %s", name, error.c_str());
  }
  lua_setglobal(T, name);
  lua_settop(T, top);
  return 0;
}

// thread:stop(): asks the thread to finish its run.
int on_thread_stop(lua_State* L) {
  check_thread(L)->stop.store(true, std::memory_order_relaxed);
  return 0;
}

// thread.addr, thread.id and the methods; upvalues 1..3 hold get, set and stop. Any other
// string key reads as itself, as in wrk (whose __index pushes nothing and returns one value).
int on_thread_index(lua_State* L) {
  ThreadHandle* t = check_thread(L);
  const char* key = lua_tostring(L, 2);
  if (key == nullptr) return 0;
  if (std::strcmp(key, "get") == 0) {
    lua_pushvalue(L, lua_upvalueindex(1));
  } else if (std::strcmp(key, "set") == 0) {
    lua_pushvalue(L, lua_upvalueindex(2));
  } else if (std::strcmp(key, "stop") == 0) {
    lua_pushvalue(L, lua_upvalueindex(3));
  } else if (std::strcmp(key, "addr") == 0) {
    if (t->addr.length == 0) return 0;
    push_address(L, t->addr);
  } else if (std::strcmp(key, "id") == 0) {
    lua_pushinteger(L, t->id);
  } else {
    lua_pushvalue(L, 2);  // as in wrk: an unknown key reads as the key itself
  }
  return 1;
}

// thread.addr = addr; anything else is an error, as in wrk.
int on_thread_newindex(lua_State* L) {
  ThreadHandle* t = check_thread(L);
  const char* key = lua_tostring(L, 2);
  if (key != nullptr && std::strcmp(key, "addr") == 0) {
    const Address* addr = static_cast<const Address*>(luaL_checkudata(L, 3, kAddrType));
    t->addr = *addr;
    return 0;
  }
  return luaL_error(L, "cannot set '%s' on thread", key ? key : luaL_typename(L, 2));
}

// ---- stats ------------------------------------------------------------------------------------

const Histogram* check_stats(lua_State* L) {
  const Histogram* h = *static_cast<const Histogram**>(luaL_checkudata(L, 1, kStatsType));
  if (h == nullptr) luaL_error(L, "statistics are only available during done()");
  return h;
}

// stats:percentile(p), p in 0..100 (clamped).
int on_stats_percentile(lua_State* L) {
  const Histogram* h = check_stats(L);
  double p = luaL_checknumber(L, 2);
  p = p < 0 ? 0 : (p > 100 ? 100 : p);
  lua_pushnumber(L, static_cast<lua_Number>(h->percentile(p)));
  return 1;
}

// Pushes the i-th (1-based) distinct value and its count; false when out of range.
bool push_value_at(lua_State* L, const Histogram* h, lua_Number i) {
  uint64_t value = 0, count = 0;
  if (i < 1 || !h->value_at(static_cast<size_t>(i) - 1, value, count)) return false;
  lua_pushnumber(L, static_cast<lua_Number>(value));
  lua_pushnumber(L, static_cast<lua_Number>(count));
  return true;
}

// stats(i): the i-th distinct value and its count (wrk's form).
int on_stats_call(lua_State* L) {
  const Histogram* h = check_stats(L);
  if (!push_value_at(L, h, luaL_checknumber(L, 2))) return 0;
  return 2;
}

// stats.min/.max/.mean/.stdev/.count, stats:percentile, stats[i] (i-th distinct value). Any
// other string key reads as itself, as in wrk.
int on_stats_index(lua_State* L) {
  const Histogram* h = check_stats(L);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    if (!push_value_at(L, h, lua_tonumber(L, 2))) return 0;
    lua_pop(L, 1);  // keep the value only
    return 1;
  }
  const char* key = lua_tostring(L, 2);
  if (key == nullptr) return 0;
  if (std::strcmp(key, "min") == 0) {
    lua_pushnumber(L, static_cast<lua_Number>(h->min()));
  } else if (std::strcmp(key, "max") == 0) {
    lua_pushnumber(L, static_cast<lua_Number>(h->max()));
  } else if (std::strcmp(key, "mean") == 0) {
    lua_pushnumber(L, h->mean());
  } else if (std::strcmp(key, "stdev") == 0) {
    lua_pushnumber(L, h->stdev());
  } else if (std::strcmp(key, "count") == 0) {
    lua_pushnumber(L, static_cast<lua_Number>(h->count()));
  } else if (std::strcmp(key, "percentile") == 0) {
    lua_pushcfunction(L, on_stats_percentile);
  } else {
    lua_pushvalue(L, 2);  // as in wrk: an unknown key reads as the key itself
  }
  return 1;
}

// #stats: the number of distinct values.
int on_stats_len(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_stats(L)->distinct()));
  return 1;
}

// ---- error handler ----------------------------------------------------------------------------

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Length of a "source:123: " prefix starting s (0 when there is none).
size_t location_prefix_length(const std::string& s, const std::string& source) {
  if (!starts_with(s, source) || s.size() <= source.size() || s[source.size()] != ':') return 0;
  size_t i = source.size() + 1;
  size_t digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == digits || i >= s.size() || s[i] != ':') return 0;
  ++i;
  if (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// Turns the error value into "path:line: message", naming the innermost Lua file frame.
int on_error(lua_State* L) {
  std::string message;
  if (const char* m = lua_tostring(L, 1)) {
    message = m;
  } else {
    message = std::string("(error object is a ") + luaL_typename(L, 1) + " value)";
  }
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) == 0 || ar.source == nullptr || ar.source[0] != '@' ||
        ar.currentline <= 0) {
      continue;
    }
    std::string full(ar.source + 1);
    if (location_prefix_length(message, ar.short_src) > 0) {
      message = full_source_prefix(message, full);
    } else {
      size_t skip = location_prefix_length(message, "[pelt]");
      message = full + ":" + std::to_string(ar.currentline) + ": " + message.substr(skip);
    }
    lua_pushlstring(L, message.data(), message.size());
    return 1;
  }
  // No frame of a Lua file is left (e.g. the script tail-called into the prelude).
  message = message.substr(location_prefix_length(message, "[pelt]"));
  const std::string& path = ScriptAccess::path(*bound_script(L));
  if (!path.empty() && !starts_with(message, path + ":")) message = path + ": " + message;
  lua_pushlstring(L, message.data(), message.size());
  return 1;
}

// Keys a tag may not take: labels and filters pelt sets itself.
constexpr std::string_view kReservedTags[] = {"scenario", "method",   "status", "expected_response",
                                              "reason",   "stage",    "run_id", "check",
                                              "le",       "quantile", "job",    "instance"};

}  // namespace

bool check_tag_key(std::string_view k, bool metric, std::string& error) {
  bool valid =
      !k.empty() && k.size() <= 64 && !(k[0] >= '0' && k[0] <= '9') && !k.starts_with("__");
  for (char c : k) {
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_');
  }
  if (!valid) {
    error = "bad tag name \"" + std::string(k) +
            "\": a tag is a Prometheus label, so use letters, digits and _, not starting with a "
            "digit or __";
    return false;
  }
  bool reserved = metric && (k == "name" || k == "result");
  for (std::string_view r : kReservedTags) reserved = reserved || k == r;
  if (reserved) {
    error = "tag \"" + std::string(k) + "\" is one pelt sets itself; pick another name";
    return false;
  }
  return true;
}

std::string full_source_prefix(std::string message, const std::string& full_path) {
  if (!starts_with(message, "...")) return message;
  size_t colon = message.find(':');
  if (colon == std::string::npos) return message;
  std::string tail = message.substr(3, colon - 3);
  if (full_path.size() >= tail.size() &&
      full_path.compare(full_path.size() - tail.size(), tail.size(), tail) == 0) {
    return full_path + message.substr(colon);
  }
  return message;
}

void register_native_types(lua_State* L) {
  luaL_newmetatable(L, kAddrType);
  lua_pushcfunction(L, on_addr_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, on_addr_eq);
  lua_setfield(L, -2, "__eq");
  lua_pop(L, 1);

  luaL_newmetatable(L, kThreadType);
  lua_pushcfunction(L, on_thread_get);
  lua_pushcfunction(L, on_thread_set);
  lua_pushcfunction(L, on_thread_stop);
  lua_pushcclosure(L, on_thread_index, 3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, on_thread_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);

  register_metric_type(L);

  luaL_newmetatable(L, kStatsType);
  lua_pushcfunction(L, on_stats_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, on_stats_call);
  lua_setfield(L, -2, "__call");
  lua_pushcfunction(L, on_stats_len);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
}

void push_native_table(lua_State* L, Script* script) {
  lua_newtable(L);
  lua_pushcfunction(L, on_lookup);
  lua_setfield(L, -2, "lookup");
  lua_pushcfunction(L, on_connect);
  lua_setfield(L, -2, "connect");
  lua_pushlightuserdata(L, script);
  lua_pushcclosure(L, on_check, 1);
  lua_setfield(L, -2, "check");
  lua_pushlightuserdata(L, script);
  lua_pushcclosure(L, on_name, 1);
  lua_setfield(L, -2, "name");
  lua_pushlightuserdata(L, script);
  lua_pushcclosure(L, on_tag, 1);
  lua_setfield(L, -2, "tag");
  push_metric_functions(L, script);
  lua_pushstring(L, PELT_VERSION);
  lua_setfield(L, -2, "version");
}

void push_error_handler(lua_State* L, Script* script) {
  lua_pushlightuserdata(L, script);
  lua_pushcclosure(L, on_error, 1);
}

void push_thread(lua_State* L, ThreadHandle* handle) {
  auto** slot = static_cast<ThreadHandle**>(lua_newuserdata(L, sizeof(ThreadHandle*)));
  *slot = handle;
  luaL_getmetatable(L, kThreadType);
  lua_setmetatable(L, -2);
}

void push_address(lua_State* L, const Address& addr) {
  auto* copy = static_cast<Address*>(lua_newuserdata(L, sizeof(Address)));
  new (copy) Address(addr);
  luaL_getmetatable(L, kAddrType);
  lua_setmetatable(L, -2);
}

const Address* to_address(lua_State* L, int index) {
  void* p = lua_touserdata(L, index);
  if (p == nullptr || !lua_getmetatable(L, index)) return nullptr;
  luaL_getmetatable(L, kAddrType);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? static_cast<const Address*>(p) : nullptr;
}

const Histogram** push_stats(lua_State* L, const Histogram* hist) {
  auto** slot = static_cast<const Histogram**>(lua_newuserdata(L, sizeof(const Histogram*)));
  *slot = hist;
  luaL_getmetatable(L, kStatsType);
  lua_setmetatable(L, -2);
  return slot;
}

}  // namespace pelt
