-- pelt's additions: checks, request names, env, require of local and bundled modules.
local helper = require("helper")
local random = require("pelt.random")
local json = require("pelt.json")

base = pelt.env.BASE_PATH or "/none"
info = string.format("%d/%d %s %s", pelt.thread_id, pelt.threads, pelt.scenario, pelt.version)
greeting = helper.greet("pelt")
payload = json.encode({ id = 7, tags = { "a", "b" }, ok = true })
random.seed(42)
first_id = random.int(1, 1000000)
local uuid = random.uuid()

-- Expose what the top level computed as check names, which the host can read.
pelt.check("info=" .. info, true)
pelt.check("greeting=" .. greeting, true)
pelt.check("payload=" .. payload, true)
pelt.check("id in range", first_id >= 1 and first_id <= 1000000)
pelt.check("uuid shape", uuid:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$") ~= nil and #uuid == 36)
pelt.check("word", #random.string(12) == 12)
random.seed(42)
pelt.check("seeded", random.int(1, 1000000) == first_id)
pelt.check("pick", random.pick({ "only" }) == "only")

local n = 0

function request()
  n = n + 1
  if n % 2 == 1 then
    pelt.name("/users/{id}")
    return wrk.format("GET", base .. "/users/" .. n)
  end
  return wrk.format("GET", base .. "/health")
end

function response(status, headers, body)
  pelt.check("status is 200", status == 200)
  pelt.check("has body", #body > 0)
end

function teardown()
  pelt.check("teardown ran", true)
end
