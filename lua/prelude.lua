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
}

package.loaded.pelt = pelt
_G.pelt = pelt

-- The host keeps this to give response() header tables the same lookup rules.
return header_mt
