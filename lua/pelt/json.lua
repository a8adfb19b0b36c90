-- pelt.json: a small JSON encoder for request bodies.
--
--   local json = require("pelt.json")
--   wrk.body = json.encode({ productId = 1, quantity = 2, tags = { "a", "b" } })
--
-- Tables with keys 1..n (and no others) become arrays, other tables objects with
-- their keys sorted (so output is stable); json.null encodes null; an empty table
-- encodes as {} unless marked with json.array({}). NaN and infinities are errors,
-- as are cycles and values of other types.
local json = {}

local concat, sort, format, type = table.concat, table.sort, string.format, type
local floor, huge = math.floor, math.huge

json.null = setmetatable({}, { __tostring = function() return "null" end })
local array_mark = setmetatable({}, { __mode = "k" })

-- Marks t as an array so an empty t encodes as [].
function json.array(t)
  array_mark[t] = true
  return t
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function escape_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\u%04x", c:byte())
  end) .. '"'
end

-- Number of array elements when t is a sequence 1..n with no other keys, else nil.
local function array_length(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k <= 0 or floor(k) ~= k then return nil end
    if k > n then n = k end
  end
  for i = 1, n do
    if t[i] == nil then return nil end
  end
  return n
end

local encode_value

local function encode_table(t, out, seen)
  if seen[t] then error("json.encode: cycle in table", 0) end
  seen[t] = true
  local n = array_length(t)
  if n and (n > 0 or array_mark[t]) then
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, seen)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" and type(k) ~= "number" then
        error("json.encode: object keys must be strings or numbers", 0)
      end
      keys[#keys + 1] = tostring(k)
    end
    sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = escape_string(k)
      out[#out + 1] = ":"
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      encode_value(v, out, seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

encode_value = function(v, out, seen)
  local kind = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif kind == "number" then
    if v ~= v or v == huge or v == -huge then error("json.encode: cannot encode " .. v, 0) end
    if floor(v) == v and v > -1e15 and v < 1e15 then
      out[#out + 1] = format("%d", v)
    else
      out[#out + 1] = format("%.17g", v)
    end
  elseif kind == "string" then
    out[#out + 1] = escape_string(v)
  elseif kind == "table" then
    encode_table(v, out, seen)
  else
    error("json.encode: cannot encode a " .. kind, 0)
  end
end

-- The JSON text of v.
function json.encode(v)
  local out = {}
  encode_value(v, out, {})
  return concat(out)
end

return json
