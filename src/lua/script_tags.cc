// Per-request tags (see script.h, request_tags()): pelt.tag(key, value) and the tags table
// request() may return, kept in two Lua tables anchored in the registry (the current request's
// and the defaults set outside request()), and turned into a sorted list of views after each
// request() without copying a string.
#include "lua/script_native.h"

namespace pelt {

void ScriptAccess::set_tag(Script& s, lua_State* L, int key, int value, const char* who) {
  std::string error;
  if (!put_tag(s, L, key, value, error)) luaL_error(L, "%s: %s", who, error.c_str());
}

bool ScriptAccess::put_tag(Script& s, lua_State* L, int key, int value, std::string& error) {
  key = key > 0 ? key : lua_gettop(L) + key + 1;
  value = value > 0 ? value : lua_gettop(L) + value + 1;
  if (lua_type(L, key) != LUA_TSTRING) {
    error = std::string("a tag name must be a string, not ") + luaL_typename(L, key);
    return false;
  }
  size_t klen = 0;
  const char* kdata = lua_tolstring(L, key, &klen);
  const std::string_view k(kdata, klen);
  const int type = lua_type(L, value);
  if (k == "name") {  // k6's name tag names the request
    if (type != LUA_TSTRING) {
      error = "the name tag must be a string";
      return false;
    }
    set_name(s, L, value);
    return true;
  }
  if (!check_tag_key(k, false, error)) return false;
  if (type != LUA_TSTRING && type != LUA_TNUMBER && type != LUA_TBOOLEAN && type != LUA_TNIL) {
    error = "the value of tag \"" + std::string(k) +
            "\" must be a string, number or boolean, not " + luaL_typename(L, value);
    return false;
  }
  const bool request = s.in_request_;
  lua_rawgeti(L, LUA_REGISTRYINDEX, request ? s.tags_ref_ : s.default_tags_ref_);
  const int table = lua_gettop(L);
  lua_pushvalue(L, key);
  lua_rawget(L, table);
  const bool had = !lua_isnil(L, -1);
  lua_pop(L, 1);
  size_t& keys = request ? s.request_tag_keys_ : s.default_tag_keys_;
  if (!had && type != LUA_TNIL && keys >= Script::kMaxRequestTags) {
    lua_pop(L, 1);
    error = "more than " + std::to_string(Script::kMaxRequestTags) + " tags";
    return false;
  }
  lua_pushvalue(L, key);
  if (type == LUA_TBOOLEAN) {
    lua_pushstring(L, lua_toboolean(L, value) ? "true" : "false");
  } else {
    lua_pushvalue(L, value);
    if (type == LUA_TNUMBER) lua_tolstring(L, -1, nullptr);  // the copy becomes its text
  }
  lua_rawset(L, table);
  lua_pop(L, 1);
  if (!had && type != LUA_TNIL) ++keys;
  if (had && type == LUA_TNIL) --keys;
  return true;
}

bool Script::collect_tags(int returned) {
  tag_count_ = 0;
  if (returned != 0) {
    // The tags table request() returned: its entries join pelt.tag()'s for this request.
    const bool was = in_request_;
    in_request_ = true;
    lua_pushnil(L_);
    while (lua_next(L_, returned) != 0) {
      std::string error;
      if (!ScriptAccess::put_tag(*this, L_, -2, -1, error)) {
        in_request_ = was;
        last_error_ = (path_.empty() ? std::string("request") : path_) +
                      ": the tags request() returned: " + error;
        return false;
      }
      lua_pop(L_, 1);
    }
    in_request_ = was;
  }
  if (default_tag_keys_ == 0 && request_tag_keys_ == 0) return true;
  // Defaults first, then the request's own (which win), each sorted into place by key.
  for (const int ref : {default_tags_ref_, tags_ref_}) {
    lua_rawgeti(L_, LUA_REGISTRYINDEX, ref);
    const int table = lua_gettop(L_);
    lua_pushnil(L_);
    while (lua_next(L_, table) != 0) {
      size_t klen = 0, vlen = 0;
      const char* k = lua_tolstring(L_, -2, &klen);
      const char* v = lua_tolstring(L_, -1, &vlen);
      const TagView tag{std::string_view(k, klen), std::string_view(v, vlen)};
      lua_pop(L_, 1);
      size_t i = 0;
      while (i < tag_count_ && tag_views_[i].first < tag.first) ++i;
      if (i < tag_count_ && tag_views_[i].first == tag.first) {
        tag_views_[i] = tag;  // the request's own value wins
        continue;
      }
      if (tag_count_ == kMaxRequestTags) {
        lua_settop(L_, 0);
        tag_count_ = 0;
        last_error_ = (path_.empty() ? std::string("request") : path_) + ": more than " +
                      std::to_string(kMaxRequestTags) + " tags on one request";
        return false;
      }
      for (size_t j = tag_count_; j > i; --j) tag_views_[j] = tag_views_[j - 1];
      tag_views_[i] = tag;
      ++tag_count_;
    }
    lua_pop(L_, 1);
  }
  return true;
}

}  // namespace pelt
