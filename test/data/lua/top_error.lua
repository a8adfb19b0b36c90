-- Fails while the script loads, on line 3.
local limit = 3
error("limit is " .. limit)
