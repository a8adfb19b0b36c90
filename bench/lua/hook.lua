-- the same GET as case (a), built by a request() hook on every request: the hook's cost
request = function() return wrk.format() end
