-- The fleet example's requests: GET /delay/5 on the target (5 ms of server time), named.
local path = "/delay/5"

function request()
  pelt.name("delay")
  return wrk.format("GET", path)
end
