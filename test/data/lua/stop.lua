-- Stops the thread after its 100th response. (As wrk's scripts/stop.lua.)

local counter = 1

function response()
  if counter == 100 then
    wrk.thread:stop()
  end
  counter = counter + 1
end
