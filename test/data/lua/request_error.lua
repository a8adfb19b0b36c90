-- request() works twice, then fails on line 8.
local n = 0

function request()
  n = n + 1
  if n > 2 then
    local missing = nil
    missing()
  end
  return wrk.format()
end
