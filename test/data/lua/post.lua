-- A form POST: method, body and a Content-Type header. (As wrk's scripts/post.lua.)

wrk.method = "POST"
wrk.body = "foo=bar&baz=quux"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
