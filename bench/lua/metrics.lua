-- case (g): case (f)'s request() hook plus a custom counter and a trend added on every request:
-- the cost of custom metrics (pelt only; wrk has no pelt table)
local requests = pelt.counter("bench_requests")
local sizes = pelt.trend("bench_request_bytes")
request = function()
  local r = wrk.format()
  requests:add(1)
  sizes:add(#r)
  return r
end
