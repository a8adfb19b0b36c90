-- Bad arguments to wrk.format fail inside the prelude; the error still names
-- this file: with the line when the call is not a tail call.
function request()
  local req = wrk.format({}, "/")
  return req
end

-- A tail call leaves no frame of this file on the stack: the error names the file only.
function request_tail()
  return wrk.format("GET", {})
end

if pelt.env.TAIL then
  request = request_tail
end
