// wrk.format(method, path, headers, body): serializes one HTTP/1.1 request.
//
// Arguments left nil come from the wrk table. The output is deterministic: the
// request line, Host (from headers, else wrk.headers, else wrk.host/wrk.port),
// the other headers sorted by name, Content-Length when there is a body, an
// empty line and the body. A Content-Length given in the headers is replaced.
// The text is built in a buffer owned by the Script, so a call allocates only
// the resulting Lua string.
#include <strings.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "lua/script_native.h"

namespace pelt {
namespace {

constexpr int kMaxHeaders = 128;  // headers one call accepts

// Upvalues of the native builder: the Script, the wrk table (a plain table, so rawget is what
// a field read does) and the field names, made once so a call hashes no key string.
enum Upvalue : int {
  kScript = 1,
  kWrk,
  kKeyMethod,  // then path, headers, body in this order
  kKeyPath,
  kKeyHeaders,
  kKeyBody,
  kKeyHost,
  kKeyPort,
};

// One piece of text: a Lua string (anchored by a table) or a number formatted in place.
// Trivially constructible on purpose: an array of them costs nothing until filled.
struct Text {
  const char* data;  // bytes of a Lua string or literal (unused when own is set)
  size_t size;       // byte count
  bool own;          // the bytes are in number (copies stay valid)
  char number[32];   // storage when the value was a number

  const char* bytes() const { return own ? number : data; }
};

struct Header {
  Text name;   // header name as written
  Text value;  // header value
};

template <size_t N>
bool equals_ignoring_case(const Text& t, const char (&word)[N]) {
  return t.size == N - 1 && strncasecmp(t.bytes(), word, N - 1) == 0;
}

// Writes n as Lua's tostring() would ("%.14g"), integers without printf.
void format_number(lua_Number n, Text& out) {
  out.own = true;
  if (n == std::floor(n) && std::fabs(n) < 1e14) {
    char digits[24];
    int len = 0;
    auto v = static_cast<long long>(std::fabs(n));
    do {
      digits[len++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    size_t size = 0;
    if (n < 0) out.number[size++] = '-';
    while (len > 0) out.number[size++] = digits[--len];
    out.size = size;
    return;
  }
  int len = std::snprintf(out.number, sizeof(out.number), "%.14g", n);
  out.size = len > 0 ? static_cast<size_t>(len) : 0;
}

// Reads the value at index as text without converting the stack slot (safe during lua_next).
// Strings and numbers are accepted everywhere, booleans as header values.
bool read_text(lua_State* L, int index, Text& out, bool allow_boolean) {
  out.own = false;
  switch (lua_type(L, index)) {
    case LUA_TSTRING:
      out.data = lua_tolstring(L, index, &out.size);
      return true;
    case LUA_TNUMBER:
      format_number(lua_tonumber(L, index), out);
      return true;
    case LUA_TBOOLEAN:
      if (!allow_boolean) return false;
      out.data = lua_toboolean(L, index) ? "true" : "false";
      out.size = std::strlen(out.data);
      return true;
    default:
      return false;
  }
}

// Finds a Host entry (any case) in the table at index; true and value set when found.
bool find_host(lua_State* L, int index, Text& value) {
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    Text name;
    if (lua_type(L, -2) == LUA_TSTRING && read_text(L, -2, name, false) &&
        equals_ignoring_case(name, "host") && read_text(L, -1, value, true)) {
      lua_pop(L, 2);
      return true;
    }
    lua_pop(L, 1);
  }
  return false;
}

void append(std::string& out, const Text& t) {
  out.append(t.bytes(), t.size);
}

bool name_less(const Text& a, const Text& b) {
  int c = std::memcmp(a.bytes(), b.bytes(), a.size < b.size ? a.size : b.size);
  return c < 0 || (c == 0 && a.size < b.size);
}

int on_format(lua_State* L) {
  auto* script = static_cast<Script*>(lua_touserdata(L, lua_upvalueindex(kScript)));
  const int wrk = lua_upvalueindex(kWrk);
  lua_settop(L, 4);
  for (int i = 1; i <= 4; ++i) {
    if (lua_isnil(L, i)) {
      lua_pushvalue(L, lua_upvalueindex(kKeyMethod + i - 1));  // method, path, headers, body
      lua_rawget(L, wrk);
      lua_replace(L, i);
    }
  }
  Text method, path, body;
  body.size = 0;
  if (lua_type(L, 1) != LUA_TSTRING || !read_text(L, 1, method, false)) {
    return luaL_error(L, "wrk.format: method must be a string, got %s", luaL_typename(L, 1));
  }
  if (!read_text(L, 2, path, false)) {
    return luaL_error(L, "wrk.format: path must be a string, got %s", luaL_typename(L, 2));
  }
  if (!lua_istable(L, 3)) {
    return luaL_error(L, "wrk.format: headers must be a table, got %s", luaL_typename(L, 3));
  }
  bool has_body = !lua_isnil(L, 4);
  if (has_body && !read_text(L, 4, body, false)) {
    return luaL_error(L, "wrk.format: body must be a string, got %s", luaL_typename(L, 4));
  }

  Header headers[kMaxHeaders];
  int count = 0;
  Text host;
  host.size = 0;
  bool has_host = false;
  lua_pushnil(L);
  while (lua_next(L, 3) != 0) {
    Header h;
    if (lua_type(L, -2) != LUA_TSTRING || !read_text(L, -2, h.name, false)) {
      return luaL_error(L, "wrk.format: header names must be strings, got %s",
                        luaL_typename(L, -2));
    }
    if (!read_text(L, -1, h.value, true)) {
      return luaL_error(L, "wrk.format: header '%s' must be a string or number, got %s",
                        h.name.bytes(), luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    if (equals_ignoring_case(h.name, "host")) {
      host = h.value;
      has_host = true;
    } else if (!equals_ignoring_case(h.name, "content-length")) {
      if (count == kMaxHeaders) {
        return luaL_error(L, "wrk.format: more than %d headers", kMaxHeaders);
      }
      headers[count++] = h;
    }
  }
  // Insertion sort by name: header counts are small.
  for (int i = 1; i < count; ++i) {
    Header h = headers[i];
    int j = i - 1;
    while (j >= 0 && name_less(h.name, headers[j].name)) {
      headers[j + 1] = headers[j];
      --j;
    }
    headers[j + 1] = h;
  }

  std::string& out = ScriptAccess::format_buffer(*script);
  out.clear();
  append(out, method);
  out += ' ';
  append(out, path);
  out += " HTTP/1.1\r\nHost: ";
  if (!has_host) {
    // Headers passed in the call may lack Host while wrk.headers has it; when the call used
    // wrk.headers itself the search above already covered it.
    lua_pushvalue(L, lua_upvalueindex(kKeyHeaders));
    lua_rawget(L, wrk);
    has_host = lua_istable(L, -1) && !lua_rawequal(L, -1, 3) &&
               find_host(L, lua_gettop(L), host);
  }
  if (has_host) {
    append(out, host);
  } else {
    lua_pushvalue(L, lua_upvalueindex(kKeyHost));
    lua_rawget(L, wrk);
    lua_pushvalue(L, lua_upvalueindex(kKeyPort));
    lua_rawget(L, wrk);
    Text name, port;
    if (read_text(L, -2, name, false)) {
      bool ipv6 = std::memchr(name.bytes(), ':', name.size) != nullptr;
      if (ipv6) out += '[';
      append(out, name);
      if (ipv6) out += ']';
    }
    if (read_text(L, -1, port, false)) {
      out += ':';
      append(out, port);
    }
  }
  out += "\r\n";
  for (int i = 0; i < count; ++i) {
    append(out, headers[i].name);
    out += ": ";
    append(out, headers[i].value);
    out += "\r\n";
  }
  if (has_body) {
    char length[24];
    int n = std::snprintf(length, sizeof(length), "%zu", body.size);
    out += "Content-Length: ";
    out.append(length, static_cast<size_t>(n));
    out += "\r\n";
  }
  out += "\r\n";
  if (has_body) append(out, body);
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

}  // namespace

void push_format(lua_State* L, Script* script, int wrk) {
  lua_pushvalue(L, wrk);
  lua_pushlightuserdata(L, script);
  lua_insert(L, -2);
  for (const char* key : {"method", "path", "headers", "body", "host", "port"}) {
    lua_pushstring(L, key);
  }
  lua_pushcclosure(L, on_format, kKeyPort);
}

}  // namespace pelt
