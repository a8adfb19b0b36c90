-- Waits a random 10-50 ms before each request. (As wrk's scripts/delay.lua.)

function delay()
  return math.random(10, 50)
end
