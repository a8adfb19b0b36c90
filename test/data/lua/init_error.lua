-- init() fails at run time on line 4.
function init(args)
  local t = nil
  return t.field
end
