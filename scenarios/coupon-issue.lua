-- Coupon issuance: every iteration asks for coupon 1 for a random user.
--
--   POST /coupons/{userId}/issue-async?couponId=1   userId uniform in 41593..42592
--
-- The request is named "issue" (pelt.name), so thresholds and Prometheus series can
-- address it as {name:issue}. A 200 (already issued) or 201 (queued) passes the
-- "status is 200 or 201" check; anything else fails it.

local first_user, last_user = 41593, 42592
local coupon_id = 1

function init(args)
  -- A different sequence of users on each thread.
  math.randomseed(1000 + pelt.thread_id)
end

function request()
  local user = math.random(first_user, last_user)
  pelt.name("issue")
  return wrk.format("POST", "/coupons/" .. user .. "/issue-async?couponId=" .. coupon_id)
end

function response(status, headers, body)
  pelt.check("status is 200 or 201", status == 200 or status == 201)
end
