-- pelt.random: random values for request parameters.
--
--   local random = require("pelt.random")
--   random.seed(pelt.thread_id)            -- optional; seeded per thread by default
--   random.int(1, 100)                     -- integer in [1, 100]
--   random.float()                         -- number in [0, 1)
--   random.string(8)                       -- 8 letters and digits
--   random.string(4, "0123456789")         -- 4 characters from a custom alphabet
--   random.pick({ "a", "b", "c" })         -- one element of a list
--   random.uuid()                          -- RFC 4122 version 4 UUID string
--
-- The generator is xorshift64* in LuaJIT 64-bit integers: fast, not for secrets.
-- Each Lua state (each thread) has its own generator.
local bit = require("bit")
local ffi = require("ffi")

local random = {}

local state = ffi.new("uint64_t[1]")
local kMultiplier = 2685821657736338717ULL
local kAlnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local floor, abs, format = math.floor, math.abs, string.format
local concat = table.concat

-- Next 64-bit output of the generator.
local function next64()
  local x = state[0]
  x = bit.bxor(x, bit.rshift(x, 12))
  x = bit.bxor(x, bit.lshift(x, 25))
  x = bit.bxor(x, bit.rshift(x, 27))
  state[0] = x
  return x * kMultiplier
end

-- Restarts the sequence from seed (any number); the same seed gives the same values.
function random.seed(seed)
  local s = ffi.new("uint64_t", floor(abs(tonumber(seed) or 0)) % 2 ^ 53)
  s = bit.bxor(s, 0x9E3779B97F4A7C15ULL)
  if s == 0ULL then s = 1ULL end
  state[0] = s
  for _ = 1, 4 do next64() end
end

-- A number in [0, 1).
function random.float()
  return tonumber(bit.rshift(next64(), 11)) / 9007199254740992
end

-- An integer in [low, high] (both inclusive); random.int(n) is [1, n].
function random.int(low, high)
  if high == nil then low, high = 1, low end
  assert(type(low) == "number" and type(high) == "number" and low <= high,
    "random.int: need low <= high")
  return low + floor(random.float() * (high - low + 1))
end

-- A string of length n drawn from alphabet (letters and digits by default).
function random.string(n, alphabet)
  alphabet = alphabet or kAlnum
  local size = #alphabet
  assert(size > 0, "random.string: empty alphabet")
  local out = {}
  for i = 1, n do
    local k = floor(random.float() * size) + 1
    out[i] = alphabet:sub(k, k)
  end
  return concat(out)
end

-- One element of the list t (nil when t is empty).
function random.pick(t)
  local n = #t
  if n == 0 then return nil end
  return t[floor(random.float() * n) + 1]
end

-- A version 4 UUID such as "3f2b8c1e-9a4d-4f6b-8e21-0c5d7a9b1e43".
function random.uuid()
  local b = {}
  for i = 1, 16 do b[i] = floor(random.float() * 256) end
  b[7] = bit.bor(bit.band(b[7], 0x0f), 0x40)
  b[9] = bit.bor(bit.band(b[9], 0x3f), 0x80)
  return format("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
    b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
    b[15], b[16])
end

-- Default seed: differs per thread and per run.
random.seed(os.time() * 1000 + ((pelt and pelt.thread_id) or 0) * 7919 + floor(os.clock() * 1e6))

return random
