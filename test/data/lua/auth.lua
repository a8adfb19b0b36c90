-- Logs in once, then sends the token it received on every later request.
-- (Same behaviour as wrk's scripts/auth.lua.)

token = nil
path = "/authenticate"

request = function()
  return wrk.format("GET", path)
end

response = function(status, headers, body)
  if token == nil and status == 200 then
    token = headers["X-Token"]
    path = "/resource"
    wrk.headers["X-Token"] = token
  end
end
