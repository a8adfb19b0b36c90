// The Lua layer: wrk's scripting contract (the `wrk` table, its hooks and the
// thread object) plus pelt's additions (the `pelt` table). This module is the
// only one that talks to the Lua C API. One Script wraps one lua_State: the
// main state runs setup() and done(), and each worker thread owns its own
// state for init(), request(), response(), delay() and teardown().
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "results/stats.h"

struct lua_State;

namespace pelt {

class Recorder;

// What a state needs to know about the run before the user script loads.
struct ScriptOptions {
  std::string path;                // user script file; "" = none
  std::string scheme, host, port;  // from the URL (port "" when not given) -> wrk.scheme/host/port
  std::string path_query = "/";    // wrk.path
  std::string method = "GET";      // wrk.method
  std::string body;                // wrk.body ("" = nil)
  std::vector<std::pair<std::string, std::string>> headers;  // -H headers -> wrk.headers
  std::map<std::string, std::string> env;  // pelt.env: process environment overlaid with -e
  std::vector<std::string> module_dirs;    // extra require() dirs (script's own dir is added first)
  std::string scenario = "default";        // pelt.scenario
  int thread_id = 0;                       // pelt.thread_id (0-based)
  int thread_count = 1;                    // pelt.threads
  size_t memory_limit_bytes = size_t{1} << 30;  // the state's memory budget (Lua's allocations)
};

struct Address {                  // a resolved socket address (wrk's addr userdata)
  sockaddr_storage storage{};     // the address
  socklen_t length = 0;           // bytes used in storage
  std::string to_string() const;  // "127.0.0.1:8080" / "[::1]:8080"
};

class Script;
struct ThreadHandle {             // wrk's `thread` object, shared by the main and thread states
  int id = 0;                     // 0-based thread index
  Script* state = nullptr;        // the thread's own Lua state
  Address addr;                   // where the thread's connections go; setup() may change it
  std::atomic<bool> stop{false};  // set by thread:stop()
};

struct DoneSummary {         // wrk's summary table for done()
  uint64_t duration_us = 0;  // run time, microseconds
  uint64_t requests = 0;     // completed requests
  uint64_t bytes = 0;        // bytes read
  ErrorCounts errors;        // connect/read/write/status/timeout
};

class Script {
 public:
  // Loads the prelude and the user script into a fresh state. On failure returns nullptr and
  // sets error to "path:line: message" (syntax errors and errors at the script's top level).
  static std::unique_ptr<Script> create(const ScriptOptions& options, std::string& error);
  ~Script();
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  bool has_setup() const;
  bool has_init() const;
  bool has_request() const;
  bool has_response() const;
  bool has_delay() const;
  bool has_done() const;
  bool has_teardown() const;

  // Main state only: wrk.lookup(host, port) through getaddrinfo (first usable address becomes
  // the default thread.addr), then setup(thread) for one thread. false + error on Lua errors.
  // resolve() also fails when no address accepts a TCP connection (as wrk does).
  // Call setup() after thread.state is set: thread:get/set reach the thread's state through it.
  // The main state may keep thread objects until done(), so every ThreadHandle and thread
  // Script must outlive the main state's last call (done()).
  bool resolve(const std::string& host, const std::string& service, Address& first,
               std::string& error);
  bool setup(ThreadHandle& thread, std::string& error);

  // Thread state: binds wrk.thread to the handle (so wrk.thread:stop() works), then wrk.init(args)
  // (sets the Host header, calls init(args), prepares the static request). As in wrk, args are
  // numbered from 0: pass the URL first, then the arguments given after "--". Hooks are probed
  // again afterwards, since init() may define or remove them.
  bool init(ThreadHandle& thread, const std::vector<std::string>& args, std::string& error);

  // wrk.request() once: the static request, or the first dynamic one (used to check it parses
  // and to count the pipeline depth).
  bool first_request(std::string& out, std::string& error);

  // Hot path (thread state). Each returns false on a Lua error; last_error() then holds
  // "path:line: message". A request()/delay()/response() call must not allocate beyond what Lua
  // itself does; the view returned by request() stays valid until the next call into the state.
  bool request(std::string_view& out);
  bool response(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                std::string_view body);
  bool delay(double& ms);
  bool teardown(std::string& error);
  const std::string& last_error() const;
  // The user script's path ("" when there is none).
  const std::string& path() const { return path_; }

  // Keeps the string the last request() returned alive until release(): its bytes stay where
  // they are, and no other string can take its address meanwhile (the string is interned).
  int anchor_last_request();
  void release(int anchor);

  // pelt.name(str) called during the last request(): the request name, "" if none.
  std::string_view request_name() const;
  // The tags of the last request(): pelt.tag() outside request() (every request), then inside
  // it and the tags table request() returned (that request), sorted by key. Valid until the
  // next call into the state. Empty when the script sets none.
  std::span<const TagView> request_tags() const { return {tag_views_.data(), tag_count_}; }

  static constexpr size_t kMaxRequestTags = 8;  // tags one request may carry

  // pelt.check(name, ok) results recorded in this state so far.
  const std::map<std::string, CheckCount>& checks() const;

  // Custom metrics this state defined so far (pelt.counter, pelt.gauge, pelt.rate, pelt.trend).
  const std::vector<CustomMetricInfo>& custom_metrics() const { return custom_defs_; }
  // Worker thread, before the run: custom metric values go to `recorder`, under scenario
  // `scenario`. Before that (the top level, init()) and in the main state they are not kept.
  void bind_recorder(Recorder* recorder, uint32_t scenario);

  // Main state: done(summary, latency, requests). latency in microseconds; requests = per-thread
  // requests/s samples (wrk's semantics). Objects expose .min .max .mean .stdev,
  // :percentile(p), [i] (i-th distinct value and its count, as wrk does) and #.
  bool done(const DoneSummary& summary, const Histogram& latency, const Histogram& requests,
            std::string& error);

  // Lua C callbacks reach the owning Script through this (not part of the engine API).
  static Script* from(lua_State* L);

 private:
  friend struct ScriptAccess;
  Script() = default;
  bool load(const ScriptOptions& options, std::string& error);
  // The state's allocator: realloc within memory_limit_bytes_.
  static void* allocate(void* ud, void* block, size_t old_size, size_t new_size);
  void detect_hooks();
  int push_handler();  // pushes the error handler, returns its stack index
  bool call(int handler, int nargs, int nresults);  // lua_pcall; on error fills last_error_
  bool push_global_function(const char* name);      // pushes the global if it is a function
  bool collect_tags(int returned);  // request_tags() from the tables (and `returned`, or 0)

  lua_State* L_ = nullptr;         // the owned Lua state
  size_t memory_bytes_ = 0;        // bytes the state has allocated
  size_t memory_limit_bytes_ = 0;  // its budget
  std::string path_;               // user script path, "" when none
  int handler_ref_ = -1;           // registry ref of the error message handler
  int header_mt_ref_ = -1;         // registry ref of the case-insensitive header metatable
  int keep_ref_ = -1;              // registry slot anchoring the last request() string
  int name_ref_ = -1;              // registry slot anchoring the current pelt.name() string
  int default_name_ref_ = -1;      // registry slot anchoring the name set outside request()
  int tags_ref_ = -1;              // registry ref of the table of the current request's tags
  int default_tags_ref_ = -1;      // registry ref of the table of tags set outside request()
  size_t request_tag_keys_ = 0;    // entries in the tags_ref_ table
  size_t default_tag_keys_ = 0;    // entries in the default_tags_ref_ table
  std::array<TagView, kMaxRequestTags> tag_views_{};  // request_tags(), sorted by key
  size_t tag_count_ = 0;                              // entries of tag_views_ in use
  bool has_setup_ = false;         // global setup() is a function
  bool has_init_ = false;          // global init() is a function
  bool has_request_ = false;       // global request() is a function
  bool has_response_ = false;      // global response() is a function
  bool has_delay_ = false;         // global delay() is a function
  bool has_done_ = false;          // global done() is a function
  bool has_teardown_ = false;      // global teardown() is a function
  bool in_request_ = false;        // a request() call is running
  std::string last_error_;         // message of the last failed call, "path:line: message"
  std::string_view name_;          // pelt.name() of the current request (anchored by name_ref_)
  std::string_view default_name_;  // pelt.name() set outside request() (default_name_ref_)
  std::string check_key_;          // scratch key for checks_ lookups (keeps its capacity)
  std::string format_buffer_;      // scratch output of wrk.format (keeps its capacity)
  std::map<std::string, CheckCount> checks_;  // pelt.check() results by name
  ThreadHandle* thread_ = nullptr;            // handle bound by init() (thread state)
  std::vector<CustomMetricInfo> custom_defs_;  // pelt.counter/gauge/rate/trend definitions
  Recorder* recorder_ = nullptr;  // where custom metric values go (a worker's), or none
  uint32_t scenario_index_ = 0;   // the scenario they count under
  uint32_t bind_epoch_ = 0;       // bumped by bind_recorder(): figures cached before expire
  std::string custom_key_;        // scratch: lookup key of a tagged add (keeps capacity)
  std::unordered_map<std::string, CustomFigures*> custom_lookup_;  // figures by lookup key
  std::unordered_map<std::string, std::unordered_set<std::string>> custom_tag_values_;  // admitted
  size_t custom_tag_sets_ = 0;  // tagged custom figures created
};

}  // namespace pelt
