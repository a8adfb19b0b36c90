-- A different path and X-Counter header on every request; each thread has
-- its own Lua state and therefore its own counter. (As wrk's scripts/counter.lua.)

counter = 0

request = function()
  local path = "/" .. counter
  wrk.headers["X-Counter"] = counter
  counter = counter + 1
  return wrk.format(nil, path)
end
