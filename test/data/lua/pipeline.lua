-- Three requests sent back to back in one write (HTTP pipelining).
-- (As wrk's scripts/pipeline.lua.)

init = function(args)
  local batch = {
    wrk.format(nil, "/?foo"),
    wrk.format(nil, "/?bar"),
    wrk.format(nil, "/?baz"),
  }
  req = table.concat(batch)
end

request = function()
  return req
end
