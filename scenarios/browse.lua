-- Catalogue browsing: GET /books, named "books". A 200, or a 304 when the
-- server answers the If-None-Match revalidation, passes the "books served" check.

local etag = nil

function request()
  pelt.name("books")
  local headers = {}
  if etag then headers["If-None-Match"] = etag end
  return wrk.format("GET", "/books", headers)
end

function response(status, headers, body)
  if status == 200 then
    for name, value in pairs(headers) do
      if string.lower(name) == "etag" then etag = value end
    end
  end
  pelt.check("books served", status == 200 or status == 304)
end
