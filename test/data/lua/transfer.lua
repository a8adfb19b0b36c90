-- Moves values between the main state and thread states with thread:set/get.
threads = {}

function setup(thread)
  thread:set("config", { name = "alpha", weights = { 1, 2, 3 }, nested = { deep = { on = true } } })
  thread:set("limit", 12.5)
  thread:set("nothing", nil)
  table.insert(threads, thread)
end

function init(args)
  seen = {
    name = config.name,
    second = config.weights[2],
    deep = config.nested.deep.on,
    limit = limit,
    arg0 = args[0],
    arg1 = args[1],
  }
  greeting = "from thread " .. wrk.thread.id
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local s = thread:get("seen")
    local text = string.format("%s %d %s %g %s %s %s", s.name, s.second, tostring(s.deep), s.limit,
      tostring(s.arg0), tostring(s.arg1), thread:get("greeting"))
    pelt.check(text, true)
  end
  pelt.check(string.format("requests=%d duration=%d bytes=%d connect=%d status=%d timeout=%d",
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.status, summary.errors.timeout), true)
  pelt.check(string.format("lat min=%d max=%d mean=%.1f n=%d first=%d", latency.min, latency.max,
    latency.mean, #latency, latency[1]), true)
  local v, c = latency(2)
  pelt.check(string.format("lat(2)=%d,%d req p50=%d", v, c, requests:percentile(50)), true)
  kept = latency
end
