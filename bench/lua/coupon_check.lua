math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
bad = 0
request = function()
  return wrk.format(nil, "/coupons/" .. math.random(41593, 42592) .. "/issue-async?couponId=1")
end
response = function(status, headers, body)
  if status ~= 200 and status ~= 201 then bad = bad + 1 end
end
