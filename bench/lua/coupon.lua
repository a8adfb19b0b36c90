math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, "/coupons/" .. math.random(41593, 42592) .. "/issue-async?couponId=1")
end
