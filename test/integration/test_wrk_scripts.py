"""wrk's documented example scripts run unchanged against real servers (nginx, pelt-target),
over HTTP/1.1 and over HTTP/2 (h2c with prior knowledge: nginx's http2 module, pelt-target)."""
import re

import pytest

from harness import Nginx, run_pelt, run_pelt_for_json

# wrk's example scripts by name; the `scripts` fixture writes them to files.
SCRIPTS = {}
SCRIPTS["auth"] = """
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
"""

SCRIPTS["counter"] = """
-- a new path and header value on every request
counter = 1

request = function()
   path = "/" .. counter
   wrk.headers["X-Counter"] = counter
   counter = counter + 1
   return wrk.format(nil, path)
end
"""

SCRIPTS["delay"] = """
-- wait 10 to 20 ms before each request
function delay()
   return math.random(10, 20)
end
"""

SCRIPTS["pipeline"] = """
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
"""

SCRIPTS["post"] = """
wrk.method = "POST"
wrk.body   = "foo=bar&baz=quux"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""

SCRIPTS["report"] = """
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
"""

SCRIPTS["setup"] = """
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
"""

SCRIPTS["stop"] = """
local counter = 1

function response()
   if counter == 100 then
      wrk.thread:stop()
   end
   counter = counter + 1
end
"""

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


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """{name: path} of wrk's example scripts above."""
    tmp = tmp_path_factory.mktemp("wrk-scripts")
    paths = {}
    for name, text in SCRIPTS.items():
        path = tmp / f"{name}.lua"
        path.write_text(text)
        paths[name] = str(path)
    return paths


@pytest.fixture(scope="module", params=["http1", "h2c"])
def ng(request):
    """nginx with the routes the scripts expect and an access log of every request, speaking
    HTTP/1.1 or h2c; `ng.args` are the pelt options for it."""
    h2c = request.param == "h2c"
    with Nginx(access_log=True, extra_server=NGINX_ROUTES, http2=h2c) as server:
        server.args = ["--h2c"] if h2c else []
        yield server


@pytest.fixture(params=["http1", "h2c"])
def proto(request):
    """pelt options for pelt-target: HTTP/1.1, or h2c on the same port."""
    return ["--h2c"] if request.param == "h2c" else []


def test_static_get(checks, ng):
    """Plain GET: pelt's count matches what nginx logged."""
    before = len(ng.access_log_lines())
    cp, data = run_pelt_for_json(ng.args + ["-t2", "-c8", "-d1s", ng.url("/")])
    checks.equal(cp.returncode, 0, "static GET exit code")
    lines = ng.access_log_lines()[before:]
    logged = len(lines)
    version = "HTTP/2.0" if ng.args else "HTTP/1.1"
    checks.check(all(f'"GET / {version}"' in line for line in lines), f"nginx logged {version}")
    led = data["ledger"]
    checks.check(led["completed"] > 100, f"static GET completed requests ({led['completed']})")
    checks.check(led["completed"] <= logged <= led["sent"],
                 f"nginx logged {logged}, pelt completed {led['completed']} sent {led['sent']}")
    checks.check(ledger_ok(data), "ledger adds up")
    checks.check("Requests/sec:" in cp.stdout and "Transfer/sec:" in cp.stdout, "wrk summary lines")


def test_auth(checks, ng, scripts):
    before = len(ng.access_log_lines())
    cp, data = run_pelt_for_json(ng.args + ["-t1", "-c2", "-d1s", "-s", scripts["auth"], ng.url("/")])
    checks.equal(cp.returncode, 0, "auth exit code")
    lines = ng.access_log_lines()[before:]
    checks.check(any("/resource" in line for line in lines), "auth: later requests go to /resource")
    checks.check(data["errors"]["status"] == 0,
                 f"auth: no 401 once the token is set ({data['status_codes']})")


def test_counter(checks, ng, scripts):
    before = len(ng.access_log_lines())
    cp, data = run_pelt_for_json(ng.args + ["-t1", "-c1", "-d1s", "-s", scripts["counter"], ng.url("/")])
    lines = ng.access_log_lines()[before:]
    paths = [re.search(r'"GET (\S+) ', line).group(1) for line in lines if '"GET ' in line]
    checks.check(len(paths) > 10, f"counter: requests logged ({len(paths)})")
    checks.check(paths[:5] in (["/1", "/2", "/3", "/4", "/5"], ["/2", "/3", "/4", "/5", "/6"]),
                 f"counter: paths count up ({paths[:6]})")
    checks.check(data["errors"]["status"] == 0, "counter: X-Counter header sent")


def test_delay(checks, ng, scripts):
    """10-20 ms between requests per connection bounds the count."""
    cp, data = run_pelt_for_json(ng.args + ["-t1", "-c2", "-d1s", "-s", scripts["delay"], ng.url("/")])
    checks.equal(cp.returncode, 0, "delay exit code")
    n = data["ledger"]["completed"]
    checks.check(40 <= n <= 220, f"delay: 2 connections x 1 s / 10-20 ms gives 100-200 requests, got {n}")


def test_pipeline(checks, ng, scripts):
    """Batches of 3."""
    before = len(ng.access_log_lines())
    cp, data = run_pelt_for_json(ng.args + ["-t1", "-c2", "-d1s", "-s", scripts["pipeline"], ng.url("/")])
    lines = ng.access_log_lines()[before:]
    counts = {p: sum(1 for line in lines if f"GET /{p} " in line) for p in ("foo", "bar", "baz")}
    checks.check(min(counts.values()) > 10, f"pipeline: all three paths requested {counts}")
    checks.check(max(counts.values()) - min(counts.values()) <= 2, f"pipeline: equal counts {counts}")
    checks.check(data["errors"]["status"] == 0 and data["errors"]["read"] == 0, "pipeline: no errors")
    checks.check(ledger_ok(data), "pipeline: ledger adds up")


def test_post(ng, scripts):
    cp, data = run_pelt_for_json(ng.args + ["-t1", "-c2", "-d1s", "-s", scripts["post"], ng.url("/post")])
    assert data["ledger"]["completed"] > 10 and data["errors"]["status"] == 0, \
        f"post: method, body and header arrive ({data['status_codes']})"


def test_report(checks, ng, scripts):
    cp = run_pelt(ng.args + ["-t1", "-c2", "-d1s", "-s", scripts["report"], ng.url("/")])
    checks.check("50%," in cp.stdout and "99.999%," in cp.stdout, "report: done() printed percentiles")
    m = re.search(r"requests,(\d+)", cp.stdout)
    m2 = re.search(r"(\d+) requests in", cp.stdout)
    checks.check(m and m2 and m.group(1) == m2.group(1), "report: summary.requests matches the summary")
    m3 = re.search(r"distinct,(\d+),first,(\d+)", cp.stdout)
    checks.check(m3 and int(m3.group(1)) > 0 and int(m3.group(2)) > 0, "report: #latency and latency[1]")


def test_setup(checks, ng, scripts):
    cp, data = run_pelt_for_json(ng.args + ["-t2", "-c4", "-d1s", "-s", scripts["setup"], ng.url("/")])
    checks.check("thread 1 created" in cp.stdout and "thread 2 created" in cp.stdout, "setup: init saw ids")
    made = re.findall(r"thread (\d) made (\d+) requests and got (\d+) responses", cp.stdout)
    checks.equal(sorted(x[0] for x in made), ["1", "2"], "setup: done() read both threads")
    responses = sum(int(x[2]) for x in made)
    checks.equal(responses, data["ledger"]["completed"], "setup: responses counted by the threads")


def test_stop(checks, ng, scripts):
    """Each thread stops after 100 responses."""
    cp, data = run_pelt_for_json(ng.args + ["-t2", "-c4", "-d5s", "-s", scripts["stop"], ng.url("/")])
    n = data["ledger"]["completed"]
    checks.check(200 <= n <= 210, f"stop: two threads stop after 100 responses each, got {n}")
    checks.check(data["duration_seconds"] < 3, f"stop: run ended early ({data['duration_seconds']:.2f}s)")


def test_target_counts(checks, target, proto):
    target.reset()
    cp, data = run_pelt_for_json(proto + ["-t2", "-c10", "-d1s", target.url("/")])
    checks.equal(cp.returncode, 0, "pelt-target exit code")
    st = target.stats()
    led = data["ledger"]
    checks.check(led["completed"] <= st["requests"] <= led["sent"],
                 f"pelt-target counted {st['requests']}, pelt completed {led['completed']} sent {led['sent']}")


def test_connection_close_reconnects(target, proto):
    """Connection: close is followed by a reconnect, and counted."""
    cp, data = run_pelt_for_json(proto + ["-t1", "-c2", "-d1s", target.url("/close")])
    assert data["reconnects"] > 10 and data["errors"]["read"] == 0, \
        f"close: reconnects counted ({data['reconnects']}), no read errors ({data['error_reasons']})"


def test_chunked_bodies(target, proto):
    cp, data = run_pelt_for_json(proto + ["-t1", "-c2", "-d1s", target.url("/chunked/5000")])
    assert data["ledger"]["completed"] > 10 and data["errors"]["read"] == 0, \
        f"chunked responses ({data['ledger']}, {data['error_reasons']})"


def test_close_delimited_bodies(target, proto):
    cp, data = run_pelt_for_json(proto + ["-t1", "-c2", "-d1s", target.url("/fault/http10")])
    assert data["ledger"]["completed"] > 10 and data["errors"]["read"] == 0, \
        f"HTTP/1.0 close-delimited bodies ({data['error_reasons']})"


def test_status_errors(checks, target, proto):
    """status >= 400 counted as wrk does."""
    cp, data = run_pelt_for_json(proto + ["-t1", "-c2", "-d1s", target.url("/status/503")])
    checks.check("Non-2xx or 3xx responses:" in cp.stdout, "status errors line")
    checks.check(data["errors"]["status"] == data["ledger"]["completed"] > 0, "every 503 counted")
