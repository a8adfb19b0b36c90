-- Hands each thread an id in setup(), counts requests and responses in the
-- threads, and reads the counts back in done(). (As wrk's scripts/setup.lua.)

local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  requests = 0
  responses = 0
  print(string.format("thread %d created", id))
end

function request()
  requests = requests + 1
  return wrk.request()
end

function response(status, headers, body)
  responses = responses + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local id = thread:get("id")
    local sent = thread:get("requests")
    local received = thread:get("responses")
    print(string.format("thread %d made %d requests and got %d responses", id, sent, received))
  end
end
