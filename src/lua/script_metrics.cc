// Custom metrics from Lua: pelt.counter(name), pelt.gauge(name), pelt.rate(name) and
// pelt.trend(name [, is_time]) return metric objects whose :add(value [, tags]) records one value
// in the worker's statistics through its Recorder. The object caches the figures it writes to,
// so an add without tags is a type check and a few additions; an add with tags looks its
// figures up by a key built in a buffer that keeps its capacity. Nothing allocates once a
// metric and tag set have been seen.
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "lua/script_native.h"
#include "results/catalogue.h"
#include "results/recorder.h"

namespace pelt {
namespace {

constexpr const char* kMetricType = "pelt.metric";  // metatable name of metric objects
constexpr size_t kMaxMetricName = 128;              // bytes in a custom metric's name
constexpr size_t kMaxLookupKeys = 20000;            // raw tag combinations remembered

// A metric object (userdata).
struct MetricHandle {
  uint32_t def = 0;                  // index in the state's definitions
  uint32_t epoch = 0;                // the binding `figures` belongs to (0: none yet)
  CustomFigures* figures = nullptr;  // its figures without tags, in the bound worker
};

const char* kind_name(CustomKind kind) {
  switch (kind) {
    case CustomKind::kCounter:
      return "counter";
    case CustomKind::kGauge:
      return "gauge";
    case CustomKind::kRate:
      return "rate";
    case CustomKind::kTrend:
      return "trend";
  }
  return "metric";
}

Script* bound(lua_State* L) {
  return static_cast<Script*>(lua_touserdata(L, lua_upvalueindex(1)));
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A metric name is a Prometheus name part: letters, digits and _, not starting with a digit.
bool valid_metric_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricName || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// pelt.counter(name) and its siblings (upvalue 2: the kind).
int on_define(lua_State* L) {
  Script& s = *bound(L);
  const auto kind = static_cast<CustomKind>(lua_tointeger(L, lua_upvalueindex(2)));
  size_t len = 0;
  const char* text = luaL_checklstring(L, 1, &len);
  const std::string name(text, len);
  const bool is_time = kind == CustomKind::kTrend && lua_toboolean(L, 2);
  if (!valid_metric_name(name)) {
    return luaL_error(L,
                      "pelt.%s: bad metric name \"%s\": use letters, digits and _ (not starting "
                      "with a digit), at most %d bytes",
                      kind_name(kind), name.c_str(), static_cast<int>(kMaxMetricName));
  }
  if (find_metric(name) != nullptr) {
    return luaL_error(L, "pelt.%s: \"%s\" is a metric of pelt's own; pick another name",
                      kind_name(kind), name.c_str());
  }
  auto& defs = ScriptAccess::custom_defs(s);
  size_t index = 0;
  while (index < defs.size() && defs[index].name != name) ++index;
  if (index == defs.size()) {
    defs.push_back({name, kind, is_time});
  } else if (defs[index].kind != kind || defs[index].is_time != is_time) {
    return luaL_error(L, "pelt.%s: \"%s\" is a %s%s already", kind_name(kind), name.c_str(),
                      defs[index].is_time ? "time " : "", kind_name(defs[index].kind));
  }
  auto* h = static_cast<MetricHandle*>(lua_newuserdata(L, sizeof(MetricHandle)));
  new (h) MetricHandle();
  h->def = static_cast<uint32_t>(index);
  lua_pushvalue(L, lua_upvalueindex(3));  // the metatable
  lua_setmetatable(L, -2);
  return 1;
}

// metric:add(value [, tags]); upvalue 2: the metatable.
int on_add(lua_State* L) {
  Script& s = *bound(L);
  auto* h = static_cast<MetricHandle*>(lua_touserdata(L, 1));
  bool ours = h != nullptr && lua_getmetatable(L, 1) != 0;
  if (ours) {
    ours = lua_rawequal(L, -1, lua_upvalueindex(2)) != 0;
    lua_pop(L, 1);
  }
  if (!ours) return luaL_error(L, "call add with a colon: metric:add(value [, tags])");
  double value = 0;
  switch (lua_type(L, 2)) {
    case LUA_TNUMBER:
      value = lua_tonumber(L, 2);
      break;
    case LUA_TBOOLEAN:
      value = lua_toboolean(L, 2) ? 1 : 0;
      break;
    default:
      return luaL_error(L, "metric:add: the value must be a number or a boolean, not %s",
                        luaL_typename(L, 2));
  }
  Recorder* recorder = ScriptAccess::recorder(s);
  CustomFigures* figures = nullptr;
  if (lua_isnoneornil(L, 3)) {
    if (recorder == nullptr) return 0;  // outside the run: not kept
    if (h->epoch != ScriptAccess::bind_epoch(s)) {
      h->figures = ScriptAccess::custom_figures(s, h->def, {});
      h->epoch = ScriptAccess::bind_epoch(s);
    }
    figures = h->figures;
  } else {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    luaL_checkstack(L, 2 * static_cast<int>(Script::kMaxRequestTags) + 4, "metric:add");
    std::array<TagView, Script::kMaxRequestTags> tags{};
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      std::string error;
      if (lua_type(L, -2) != LUA_TSTRING) {
        return luaL_error(L, "metric:add: tag names must be strings, not %s", luaL_typename(L, -2));
      }
      size_t klen = 0, vlen = 0;
      const char* k = lua_tolstring(L, -2, &klen);
      if (!check_tag_key(std::string_view(k, klen), true, error)) {
        return luaL_error(L, "metric:add: %s", error.c_str());
      }
      const int type = lua_type(L, -1);
      if (type == LUA_TBOOLEAN) {
        lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
        lua_replace(L, -2);
      } else if (type != LUA_TSTRING && type != LUA_TNUMBER) {
        return luaL_error(L,
                          "metric:add: the value of tag \"%s\" must be a string, number or "
                          "boolean, not %s",
                          k, luaL_typename(L, -1));
      }
      if (count == tags.size()) {
        return luaL_error(L, "metric:add: more than %d tags", static_cast<int>(tags.size()));
      }
      // (a number value is converted in a copy: lua_next needs the key untouched)
      lua_pushvalue(L, -1);
      const char* v = lua_tolstring(L, -1, &vlen);
      lua_replace(L, -2);  // the string stays on the stack, anchored, until the add returns
      lua_pushvalue(L, -2);
      const TagView tag{std::string_view(k, klen), std::string_view(v, vlen)};
      size_t i = count++;
      while (i > 0 && tags[i - 1].first > tag.first) {
        tags[i] = tags[i - 1];
        --i;
      }
      tags[i] = tag;
    }
    if (recorder == nullptr) return 0;  // outside the run: not kept (the tags were checked)
    figures = ScriptAccess::custom_figures(s, h->def, {tags.data(), count});
  }
  const bool gauge = figures->kind == CustomKind::kGauge;
  recorder->record_custom(*figures, value, gauge ? monotonic_ns() : 0);
  return 0;
}

int on_tostring(lua_State* L) {
  Script& s = *bound(L);
  const auto* h = static_cast<const MetricHandle*>(lua_touserdata(L, 1));
  const auto& defs = ScriptAccess::custom_defs(s);
  if (h == nullptr || h->def >= defs.size()) return luaL_error(L, "not a metric");
  const CustomMetricInfo& d = defs[h->def];
  lua_pushfstring(L, "pelt.%s(\"%s\")", kind_name(d.kind), d.name.c_str());
  return 1;
}

// `def` (4 bytes), then each tag key and value, separated by NUL bytes.
void lookup_key(std::string& out, uint32_t def, std::span<const TagView> tags) {
  out.assign(reinterpret_cast<const char*>(&def), sizeof(def));
  for (const auto& [k, v] : tags) {
    out.append(k.data(), k.size());
    out += '\0';
    out.append(v.data(), v.size());
    out += '\0';
  }
}

}  // namespace

CustomFigures* ScriptAccess::custom_figures(Script& s, uint32_t def,
                                            std::span<const TagView> tags) {
  lookup_key(s.custom_key_, def, tags);
  const auto found = s.custom_lookup_.find(s.custom_key_);
  if (found != s.custom_lookup_.end()) return found->second;
  const CustomMetricInfo& info = s.custom_defs_[def];
  NameKey key(info.name);
  for (const auto& [k, v] : tags) {
    // Past the cap on values, a tag's new values count as "other".
    auto& admitted = s.custom_tag_values_[std::string(k)];
    std::string value(v);
    if (!admitted.count(value)) {
      if (admitted.size() < WorkerStats::kMaxTagValues) {
        admitted.insert(value);
      } else {
        s.recorder_->record_capped_tag(s.scenario_index_, std::string(k));
        value = "other";
      }
    }
    key.tags.emplace_back(std::string(k), std::move(value));
  }
  if (!key.tags.empty()) {
    if (s.custom_tag_sets_ >= WorkerStats::kMaxTagSets) {
      key.tags.clear();  // past the cap on tag sets: the metric without tags
      s.recorder_->record_capped_tag(s.scenario_index_, "");
    } else {
      ++s.custom_tag_sets_;
    }
  }
  CustomFigures* figures =
      s.recorder_->custom_figures(s.scenario_index_, std::move(key), info.kind, info.is_time);
  if (s.custom_lookup_.size() < kMaxLookupKeys) s.custom_lookup_.emplace(s.custom_key_, figures);
  return figures;
}

void register_metric_type(lua_State* L) {
  luaL_newmetatable(L, kMetricType);
  lua_pop(L, 1);
}

void push_metric_functions(lua_State* L, Script* script) {
  const int table = lua_gettop(L);
  luaL_getmetatable(L, kMetricType);
  const int mt = lua_gettop(L);
  // Methods: mt.__index = { add = ... }, and a readable __tostring.
  lua_newtable(L);
  lua_pushlightuserdata(L, script);
  lua_pushvalue(L, mt);
  lua_pushcclosure(L, on_add, 2);
  lua_setfield(L, -2, "add");
  lua_setfield(L, mt, "__index");
  lua_pushlightuserdata(L, script);
  lua_pushcclosure(L, on_tostring, 1);
  lua_setfield(L, mt, "__tostring");
  for (const CustomKind kind :
       {CustomKind::kCounter, CustomKind::kGauge, CustomKind::kRate, CustomKind::kTrend}) {
    lua_pushlightuserdata(L, script);
    lua_pushinteger(L, static_cast<lua_Integer>(kind));
    lua_pushvalue(L, mt);
    lua_pushcclosure(L, on_define, 3);
    lua_setfield(L, table, kind_name(kind));
  }
  lua_settop(L, table);
}

}  // namespace pelt
