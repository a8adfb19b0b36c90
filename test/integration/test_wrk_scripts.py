"""wrk's documented example scripts run unchanged against real servers (nginx, pelt-target)."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Nginx, Target, TestCase, run_pelt, run_pelt_json  # noqa: E402

t = TestCase("wrk_scripts")
tmp = tempfile.mkdtemp(prefix="pelt-wrk-scripts-")


def script(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


AUTH = script("auth.lua", """
-- response() captures a token; every later request carries it
token = nil
path  = "/authenticate"

request = function()
   return wrk.format("GET", path)
end

response = function(status, headers, body)
   if not token and status == 200 then
      token = headers["X-Token"]
      path  = "/resource"
      wrk.headers["X-Token"] = token
   end
end
""")

COUNTER = script("counter.lua", """
-- a new path and header value on every request
counter = 1

request = function()
   path = "/" .. counter
   wrk.headers["X-Counter"] = counter
   counter = counter + 1
   return wrk.format(nil, path)
end
""")

DELAY = script("delay.lua", """
-- wait 10 to 20 ms before each request
function delay()
   return math.random(10, 20)
end
""")

PIPELINE = script("pipeline.lua", """
-- three requests written as one batch
init = function(args)
   local r = {}
   r[1] = wrk.format(nil, "/foo")
   r[2] = wrk.format(nil, "/bar")
   r[3] = wrk.format(nil, "/baz")
   req = table.concat(r)
end

request = function()
   return req
end
""")

POST = script("post.lua", """
wrk.method = "POST"
wrk.body   = "foo=bar&baz=quux"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
""")

REPORT = script("report.lua", """
done = function(summary, latency, requests)
   io.write("------------------------------\\n")
   for _, p in pairs({ 50, 90, 99, 99.999 }) do
      n = latency:percentile(p)
      io.write(string.format("%g%%,%d\\n", p, n))
   end
   io.write(string.format("requests,%d\\n", summary.requests))
   io.write(string.format("distinct,%d,first,%d\\n", #latency, latency[1]))
   io.write(string.format("minmax,%d,%d\\n", latency.min, latency.max))
end
""")

SETUP = script("setup.lua", """
local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   requests  = 0
   responses = 0
   local msg = "thread %d created"
   print(msg:format(id))
end

function request()
   requests = requests + 1
   return wrk.request()
end

function response(status, headers, body)
   responses = responses + 1
end

function done(summary, latency, requests)
   for index, thread in ipairs(threads) do
      local id        = thread:get("id")
      local requests  = thread:get("requests")
      local responses = thread:get("responses")
      local msg = "thread %d made %d requests and got %d responses"
      print(msg:format(id, requests, responses))
   end
end
""")

STOP = script("stop.lua", """
local counter = 1

function response()
   if counter == 100 then
      wrk.thread:stop()
   end
   counter = counter + 1
end
""")

NGINX_ROUTES = """
    location = /authenticate { add_header X-Token "tok-42"; return 200 "ok\\n"; }
    location = /resource {
      if ($http_x_token != "tok-42") { return 401; }
      return 200 "resource\\n";
    }
    location = /post {
      if ($request_method != POST) { return 405; }
      if ($http_content_type != "application/x-www-form-urlencoded") { return 415; }
      if ($http_content_length != "16") { return 411; }
      return 200 "posted\\n";
    }
    location ~ ^/(foo|bar|baz)$ { return 200 "$1\\n"; }
    location ~ ^/[0-9]+$ {
      if ($http_x_counter = "") { return 400; }
      return 200 "n\\n";
    }
"""


def ledger_ok(data):
    led = data["ledger"]
    return led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"]


with Nginx(access_log=True, extra_server=NGINX_ROUTES) as ng:
    # Plain GET: pelt's count matches what nginx logged.
    cp, data = run_pelt_json(["-t2", "-c8", "-d1s", ng.url("/")])
    t.equal(cp.returncode, 0, "static GET exit code")
    t.check(data is not None, "static GET wrote JSON")
    if data:
        logged = len(ng.access_log_lines())
        led = data["ledger"]
        t.check(led["completed"] > 100, f"static GET completed requests ({led['completed']})")
        t.check(led["completed"] <= logged <= led["sent"],
                f"nginx logged {logged}, pelt completed {led['completed']} sent {led['sent']}")
        t.check(ledger_ok(data), "ledger adds up")
        t.check("Requests/sec:" in cp.stdout and "Transfer/sec:" in cp.stdout, "wrk summary lines")

    # auth.lua
    before = len(ng.access_log_lines())
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "-s", AUTH, ng.url("/")])
    t.equal(cp.returncode, 0, "auth exit code")
    lines = ng.access_log_lines()[before:]
    t.check(any("/resource" in l for l in lines), "auth: later requests go to /resource")
    t.check(data and data["errors"]["status"] == 0,
            f"auth: no 401 once the token is set ({data and data['status_codes']})")

    # counter.lua
    before = len(ng.access_log_lines())
    cp, data = run_pelt_json(["-t1", "-c1", "-d1s", "-s", COUNTER, ng.url("/")])
    lines = ng.access_log_lines()[before:]
    paths = [re.search(r'"GET (\S+) ', l).group(1) for l in lines if '"GET ' in l]
    t.check(len(paths) > 10, f"counter: requests logged ({len(paths)})")
    t.check(paths[:5] in (["/1", "/2", "/3", "/4", "/5"], ["/2", "/3", "/4", "/5", "/6"]),
            f"counter: paths count up ({paths[:6]})")
    t.check(data and data["errors"]["status"] == 0, "counter: X-Counter header sent")

    # delay.lua: 10-20 ms between requests per connection bounds the count.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "-s", DELAY, ng.url("/")])
    t.equal(cp.returncode, 0, "delay exit code")
    if data:
        n = data["ledger"]["completed"]
        t.check(40 <= n <= 220, f"delay: 2 connections x 1 s / 10-20 ms gives 100-200 requests, got {n}")

    # pipeline.lua: batches of 3.
    before = len(ng.access_log_lines())
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "-s", PIPELINE, ng.url("/")])
    lines = ng.access_log_lines()[before:]
    counts = {p: sum(1 for l in lines if f"GET /{p} " in l) for p in ("foo", "bar", "baz")}
    t.check(min(counts.values()) > 10, f"pipeline: all three paths requested {counts}")
    t.check(max(counts.values()) - min(counts.values()) <= 2, f"pipeline: equal counts {counts}")
    if data:
        t.check(data["errors"]["status"] == 0 and data["errors"]["read"] == 0, "pipeline: no errors")
        t.check(ledger_ok(data), "pipeline: ledger adds up")

    # post.lua
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "-s", POST, ng.url("/post")])
    t.check(data and data["ledger"]["completed"] > 10 and data["errors"]["status"] == 0,
            f"post: method, body and header arrive ({data and data['status_codes']})")

    # report.lua
    cp = run_pelt(["-t1", "-c2", "-d1s", "-s", REPORT, ng.url("/")])
    t.check("50%," in cp.stdout and "99.999%," in cp.stdout, "report: done() printed percentiles")
    m = re.search(r"requests,(\d+)", cp.stdout)
    m2 = re.search(r"(\d+) requests in", cp.stdout)
    t.check(m and m2 and m.group(1) == m2.group(1), "report: summary.requests matches the summary")
    m3 = re.search(r"distinct,(\d+),first,(\d+)", cp.stdout)
    t.check(m3 and int(m3.group(1)) > 0 and int(m3.group(2)) > 0, "report: #latency and latency[1]")

    # setup.lua
    cp, data = run_pelt_json(["-t2", "-c4", "-d1s", "-s", SETUP, ng.url("/")])
    t.check("thread 1 created" in cp.stdout and "thread 2 created" in cp.stdout, "setup: init saw ids")
    made = re.findall(r"thread (\d) made (\d+) requests and got (\d+) responses", cp.stdout)
    t.equal(sorted(x[0] for x in made), ["1", "2"], "setup: done() read both threads")
    if data and made:
        responses = sum(int(x[2]) for x in made)
        t.equal(responses, data["ledger"]["completed"], "setup: responses counted by the threads")

    # stop.lua: each thread stops after 100 responses.
    cp, data = run_pelt_json(["-t2", "-c4", "-d5s", "-s", STOP, ng.url("/")])
    if data:
        n = data["ledger"]["completed"]
        t.check(200 <= n <= 210, f"stop: two threads stop after 100 responses each, got {n}")
        t.check(data["duration_seconds"] < 3, f"stop: run ended early ({data['duration_seconds']:.2f}s)")

with Target(threads=1) as tg:
    cp, data = run_pelt_json(["-t2", "-c10", "-d1s", tg.url("/")])
    t.equal(cp.returncode, 0, "pelt-target exit code")
    st = tg.stats()
    if data:
        led = data["ledger"]
        t.check(led["completed"] <= st["requests"] <= led["sent"],
                f"pelt-target counted {st['requests']}, pelt completed {led['completed']} sent {led['sent']}")
    # Connection: close is followed by a reconnect, and counted.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/close")])
    if data:
        t.check(data["reconnects"] > 10 and data["errors"]["read"] == 0,
                f"close: reconnects counted ({data['reconnects']}), no read errors")
    # chunked bodies and read-until-close bodies.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/chunked/5000")])
    t.check(data and data["ledger"]["completed"] > 10 and data["errors"]["read"] == 0, "chunked responses")
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/fault/http10")])
    t.check(data and data["ledger"]["completed"] > 10 and data["errors"]["read"] == 0,
            f"HTTP/1.0 close-delimited bodies ({data and data['error_reasons']})")
    # status >= 400 counted as wrk does
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/status/503")])
    t.check("Non-2xx or 3xx responses:" in cp.stdout, "status errors line")
    t.check(data and data["errors"]["status"] == data["ledger"]["completed"] > 0, "every 503 counted")

t.finish()
