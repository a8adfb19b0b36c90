-- pelt's Lua prelude: builds the `wrk` table (wrk's scripting contract) and the
-- `pelt` table before the user script runs. It is embedded in the pelt binary
-- and runs once per Lua state, called with a table of native functions.
local native = ...

local lower, type, next = string.lower, type, next
local rawget, rawset, setmetatable = rawget, rawset, setmetatable

-- Finds the key of table t equal to name ignoring case (nil when absent).
local function find_key(t, name)
  local wanted = lower(name)
  for key in next, t do
    if type(key) == "string" and lower(key) == wanted then
      return key
    end
  end
  return nil
end

-- Header tables keep the case names were first written in, and look names up
-- ignoring case: headers["content-type"] finds "Content-Type".
local header_mt = {
  __index = function(t, name)
    if type(name) ~= "string" then return nil end
    local key = find_key(t, name)
    return key and rawget(t, key)
  end,
  __newindex = function(t, name, value)
    local key = type(name) == "string" and find_key(t, name) or name
    rawset(t, key, value)
  end,
}

local wrk = {
  scheme  = "http",
  host    = "localhost",
  port    = nil,
  method  = "GET",
  path    = "/",
  headers = setmetatable({}, header_mt),
  body    = nil,
  thread  = nil,
  lookup  = native.lookup,
  connect = native.connect,
}

-- The Host header value for wrk.host and wrk.port ("[::1]:8080" for IPv6).
local function default_host()
  local host, port = wrk.host, wrk.port
  if host:find(":", 1, true) then host = "[" .. host .. "]" end
  if port then host = host .. ":" .. port end
  return host
end

-- Resolves host/service and keeps the addresses that accept a connection.
function wrk.resolve(host, service)
  local addrs = wrk.lookup(host, service)
  for i = #addrs, 1, -1 do
    if not wrk.connect(addrs[i]) then
      table.remove(addrs, i)
    end
  end
  wrk.addrs = addrs
end

-- Main state: gives the thread the first usable address, then runs setup().
function wrk.setup(thread)
  if wrk.addrs and wrk.addrs[1] then
    thread.addr = wrk.addrs[1]
  end
  if type(setup) == "function" then
    setup(thread)
  end
end

-- Thread state: sets Host, runs init(args), then fixes the static request.
function wrk.init(args)
  if not wrk.headers["Host"] then
    wrk.headers["Host"] = default_host()
  end
  if type(init) == "function" then
    init(args)
  end
  local req = wrk.format()
  wrk.request = function()
    return req
  end
end

-- wrk.format(method, path, headers, body) is native (set by the host after this
-- chunk runs): Host first (from headers, else wrk.headers, else wrk.host/port),
-- then the other headers sorted by name, then Content-Length when there is a body.

package.loaded.wrk = wrk
_G.wrk = wrk

local pelt = {
  version   = native.version,
  thread_id = 0,
  threads   = 1,
  scenario  = "default",
  env       = {},
  check     = native.check,
  name      = native.name,
  tag       = native.tag,
  counter   = native.counter,
  gauge     = native.gauge,
  rate      = native.rate,
  trend     = native.trend,
}

package.loaded.pelt = pelt
_G.pelt = pelt

-- wrk.format's front. The engine builds requests natively and hands that builder to
-- install_format. A request depends on method, path, headers, body, a Host from wrk.headers
-- and wrk.host/wrk.port; scripts usually vary only the path. The front keeps the requests it
-- built, by path, for as long as every other input stays the same (values compared, header
-- tables entry by entry), so a path seen before costs a table lookup and creates no string.
-- Any other input changing starts the cache over; when paths rarely repeat it stops caching.
local function install_format(build)
  local MAX_ENTRIES, MAX_BYTES, TRIAL = 10000, 4 * 1024 * 1024, 8192
  local results, entries, bytes = nil, 0, 0  -- results: path -> request; false = off
  local calls, hits = 0, 0
  local s_method, s_body, s_base, s_host, s_port          -- inputs of the cached requests
  local h_keys, h_values, h_n = {}, {}, 0                  -- entries of the headers used
  local b_keys, b_values, b_n = {}, {}, 0                  -- entries of wrk.headers, if other

  local function same(t, keys, values, n)
    local i = 0
    for k, v in next, t do
      i = i + 1
      if keys[i] ~= k or values[i] ~= v then return false end
    end
    return i == n
  end

  -- Copies the entries of t (none when t is nil) over the first n of keys/values.
  local function remember(t, keys, values, n)
    local i = 0
    if t then
      for k, v in next, t do
        i = i + 1
        keys[i], values[i] = k, v
      end
    end
    for j = i + 1, n do keys[j], values[j] = nil, nil end
    return i
  end

  wrk.format = function(method, path, headers, body)
    if results == false then return build(method, path, headers, body) end
    local p, h, b = path or wrk.path, headers or wrk.headers, body
    if b == nil then b = wrk.body end
    if type(p) ~= "string" or type(h) ~= "table" then
      return build(method, path, headers, body)
    end
    local m, base, host, port = method or wrk.method, wrk.headers, wrk.host, wrk.port
    local other = base ~= h and type(base) == "table"
    calls = calls + 1
    local unchanged = results ~= nil and m == s_method and b == s_body and base == s_base and
      host == s_host and port == s_port and same(h, h_keys, h_values, h_n) and
      (not other or same(base, b_keys, b_values, b_n))
    if unchanged then
      local r = results[p]
      if r then
        hits = hits + 1
        return r
      end
    end
    local r = build(method, path, headers, body)
    if not unchanged then
      results, entries, bytes = {}, 0, 0
      s_method, s_body, s_base, s_host, s_port = m, b, base, host, port
      h_n = remember(h, h_keys, h_values, h_n)
      b_n = remember(other and base or nil, b_keys, b_values, b_n)
    end
    if entries < MAX_ENTRIES and bytes + #r <= MAX_BYTES then
      results[p] = r
      entries, bytes = entries + 1, bytes + #r
    end
    if calls >= TRIAL and hits * 2 < calls then
      results = false
      h_keys, h_values, b_keys, b_values = nil, nil, nil, nil
    end
    return r
  end
end

-- The host keeps header_mt to give response() header tables the same lookup rules, and calls
-- install_format with the native request builder.
return header_mt, install_format
