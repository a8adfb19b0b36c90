// Native (C) functions and userdata types behind the Lua API: wrk.lookup,
// wrk.connect, the addr, thread and stats objects, pelt.check / pelt.name, the
// error message handler and value copying between states. Used by script.cc
// only; callers hold a lua_State owned by a pelt::Script.
#pragma once

#include <lua.hpp>
#include <string>
#include <string_view>

#include "lua/script.h"

namespace pelt {

// Internal access to a Script's private state for the native functions.
struct ScriptAccess {
  static lua_State* state(Script& s) { return s.L_; }
  static const std::string& path(const Script& s) { return s.path_; }
  static std::string& format_buffer(Script& s) { return s.format_buffer_; }
  // pelt.check(name, ok): counts one pass or fail under name.
  static void record_check(Script& s, std::string_view name, bool ok);
  // pelt.name(str): the string at stack index `index` names the current (or every) request.
  static void set_name(Script& s, lua_State* L, int index = 1);
  // pelt.tag(key, value): the string key at `key` with the value at `value` (a string, number
  // or boolean; nil removes the tag) tags the current (or every) request. A Lua error for a
  // bad or reserved key, a bad value, or more than Script::kMaxRequestTags tags; `name` is
  // pelt.name.
  static void set_tag(Script& s, lua_State* L, int key, int value, const char* who);
  // set_tag without the Lua error: false with a message.
  static bool put_tag(Script& s, lua_State* L, int key, int value, std::string& error);

  // Custom metrics (lua/script_metrics.cc).
  static std::vector<CustomMetricInfo>& custom_defs(Script& s) { return s.custom_defs_; }
  static Recorder* recorder(Script& s) { return s.recorder_; }
  static uint32_t bind_epoch(const Script& s) { return s.bind_epoch_; }
  // The worker's figures of definition `def` under `tags` (sorted by key; values past the caps
  // become "other", and the scenario says so). Only while bound to a recorder.
  static CustomFigures* custom_figures(Script& s, uint32_t def, std::span<const TagView> tags);
};

// Whether `key` may name a tag a script sets (pelt.tag, or a custom metric's add(); `metric`:
// also not name or result, which their families use); false with a message otherwise.
bool check_tag_key(std::string_view key, bool metric, std::string& error);

// Adds pelt.counter, pelt.gauge, pelt.rate and pelt.trend, bound to script, to the table at the
// top of the stack (lua/script_metrics.cc).
void push_metric_functions(lua_State* L, Script* script);
// Creates the metatable of custom metric objects (lua/script_metrics.cc).
void register_metric_type(lua_State* L);

// Creates the metatables of the userdata types in L's registry.
void register_native_types(lua_State* L);

// Pushes a table holding the native functions the prelude wires into `wrk` and `pelt`
// (lookup, connect, check, name, version). check and name are bound to script.
void push_native_table(lua_State* L, Script* script);

// Pushes wrk.format bound to script and to the wrk table at index wrk.
void push_format(lua_State* L, Script* script, int wrk);

// Pushes the error message handler bound to script: it turns any error into
// "path:line: message" naming the innermost frame of a Lua file.
void push_error_handler(lua_State* L, Script* script);

// Pushes a thread object (wrk's thread userdata) for handle.
void push_thread(lua_State* L, ThreadHandle* handle);

// Pushes an addr object holding a copy of addr.
void push_address(lua_State* L, const Address& addr);

// The Address inside the addr object at index, or nullptr if it is not one.
const Address* to_address(lua_State* L, int index);

// Pushes a stats object reading hist; returns the slot to clear (set to nullptr) once the
// histogram may go away, after which any use raises a Lua error.
const Histogram** push_stats(lua_State* L, const Histogram* hist);

// Makes message name the script file: replaces a truncated "...tail:" source prefix with
// full_path. Used for load errors, which do not pass through the handler.
std::string full_source_prefix(std::string message, const std::string& full_path);

}  // namespace pelt
