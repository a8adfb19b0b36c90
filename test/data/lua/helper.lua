-- A module next to extras.lua, found through the script's directory.
local helper = {}

function helper.greet(name)
  return "hello " .. name
end

return helper
