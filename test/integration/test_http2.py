"""HTTP/2: h2c and h2 over TLS against pelt-target and nginx's http2 module; counts equal the
servers' own counts with 1, 10 and 100 streams per connection; ALPN and its fallback; open
loop over streams; the options' errors. Faults, GOAWAY and flow control: test_http2_faults.py.
"""
import json
import os
import re
import ssl
import urllib.request

import pytest

from harness import SANITIZED, SOURCE_DIR, Nginx, Target, run_pelt, run_pelt_for_json


def ledger_ok(data):
    led = data["ledger"]
    return led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"]


def tls_stats(target, cafile):
    """/stats of a --tls pelt-target, over HTTPS."""
    ctx = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(f"https://127.0.0.1:{target.port}/stats", context=ctx,
                                timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def tls_target(tmp_path_factory):
    """pelt-target over TLS, ALPN h2,http/1.1; yields (target, cert path)."""
    cert = str(tmp_path_factory.mktemp("h2tls") / "cert.pem")
    with Target(threads=1, args=["--tls", "--tls-cert-out", cert]) as tg:
        yield tg, cert


@pytest.fixture(scope="module")
def tls_h1_target(tmp_path_factory):
    """pelt-target over TLS that offers only http/1.1 by ALPN."""
    cert = str(tmp_path_factory.mktemp("h1tls") / "cert.pem")
    with Target(threads=1, args=["--tls", "--tls-cert-out", cert, "--alpn", "http/1.1"]) as tg:
        yield tg, cert


@pytest.fixture(scope="module")
def ng_h2c():
    """nginx with http2 on a cleartext listener (h2c, prior knowledge) and an access log."""
    with Nginx(http2=True, access_log=True) as server:
        yield server


@pytest.mark.parametrize("streams", [1, 10, 100])
def test_h2c_counts_equal_pelt_target(checks, target, streams):
    """Every request pelt sent reached pelt-target as HTTP/2; none was lost or doubled."""
    target.reset()
    cp, data = run_pelt_for_json(["-t2", "-c4", "-m", streams, "-d1s", "--h2c", target.url("/")])
    checks.equal(cp.returncode, 0, "exit code")
    st = target.stats()
    led = data["ledger"]
    h2 = data["http2"]
    checks.check(led["completed"] > 1000, f"completed requests ({led['completed']})")
    checks.check(led["completed"] <= st["by_protocol"]["h2"] <= led["sent"],
                 f"pelt-target counted {st['by_protocol']} h2 requests, pelt completed "
                 f"{led['completed']} of {led['sent']} sent")
    checks.equal(st["by_protocol"]["http/1.1"], 0, "no HTTP/1.1 request")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")
    checks.check(led["in_flight"] <= 4 * streams, f"in flight at most c x m ({led['in_flight']})")
    checks.check(ledger_ok(data), "ledger adds up")
    checks.equal(h2["streams"], led["sent"], "one stream per request")
    checks.equal(h2["connections"], 4, "connections")
    checks.equal(data["http"], "2", "http in the JSON")
    checks.equal(data["streams"], streams, "streams in the JSON")
    checks.check(0 < h2["header_compression_sent"] < 0.5,
                 f"HPACK shrinks repeated request headers ({h2['header_compression_sent']})")
    checks.check(h2["bytes_sent"] > 0 and h2["bytes_received"] > 0, "frame bytes counted")
    checks.check(f"4 connections, {streams} stream" in cp.stdout, "header line names the streams")
    checks.check("HTTP/2: 4 connections" in cp.stdout, "HTTP/2 line in the summary")


@pytest.mark.parametrize("streams", [1, 10, 100])
def test_h2c_counts_equal_nginx_log(checks, ng_h2c, streams):
    """nginx's access log has one HTTP/2.0 line per request pelt completed (and no more than it
    sent)."""
    before = len(ng_h2c.access_log_lines())
    cp, data = run_pelt_for_json(["-t1", "-c3", "-m", streams, "-d1s", "--h2c", ng_h2c.url("/")])
    checks.equal(cp.returncode, 0, "exit code")
    lines = ng_h2c.access_log_lines()[before:]
    led = data["ledger"]
    h2_lines = sum(1 for line in lines if '"GET / HTTP/2.0"' in line)
    checks.equal(h2_lines, len(lines), "every logged request is HTTP/2.0")
    checks.check(led["completed"] > 500, f"completed ({led['completed']})")
    checks.check(led["completed"] <= len(lines) <= led["sent"],
                 f"nginx logged {len(lines)}, pelt completed {led['completed']} sent {led['sent']}")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")
    checks.check(ledger_ok(data), "ledger adds up")


def test_tls_alpn_h2(checks, tls_target):
    tg, cert = tls_target
    before = tls_stats(tg, cert)["by_protocol"]
    url = f"https://127.0.0.1:{tg.port}/"
    cp, data = run_pelt_for_json(["-t1", "-c2", "-m10", "-d1s", "--http", "2", "--cacert", cert, url])
    after = tls_stats(tg, cert)["by_protocol"]
    led = data["ledger"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.check(led["completed"] > 500, f"completed ({led['completed']})")
    checks.check(led["completed"] <= after["h2"] - before["h2"] <= led["sent"],
                 f"server h2 count {after['h2'] - before['h2']} vs {led}")
    checks.equal(after["http/1.1"] - before["http/1.1"], 0, "no HTTP/1.1")
    checks.equal(data["tls"]["handshakes"], 2, "one TLS handshake per connection")
    checks.equal(data["http2"]["connections"], 2, "two HTTP/2 connections")
    checks.equal(data["errors"], {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0},
                 "no errors")


def test_tls_auto_uses_h2_when_offered(checks, tls_target):
    tg, cert = tls_target
    url = f"https://127.0.0.1:{tg.port}/"
    cp, data = run_pelt_for_json(["-t1", "-c2", "-d1s", "--http", "auto", "--cacert", cert, url])
    checks.equal(data["http2"]["connections"], 2, "auto speaks h2 when ALPN picks it")
    checks.equal(data["http2"]["alpn_fallbacks"], 0, "no fallback")
    checks.check(data["ledger"]["completed"] > 100, "requests completed")


def test_tls_auto_falls_back_to_http1(checks, tls_h1_target):
    """--http auto against a server whose ALPN picks http/1.1: HTTP/1.1, -m pipelined."""
    tg, cert = tls_h1_target
    before = tls_stats(tg, cert)["by_protocol"]
    url = f"https://127.0.0.1:{tg.port}/"
    cp, data = run_pelt_for_json(["-t1", "-c2", "-m4", "-d1s", "--http", "auto", "--cacert", cert,
                                  url])
    after = tls_stats(tg, cert)["by_protocol"]
    led = data["ledger"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.equal(after["h2"] - before["h2"], 0, "no h2 request")
    checks.check(led["completed"] <= after["http/1.1"] - before["http/1.1"] <= led["sent"],
                 f"server HTTP/1.1 count {after['http/1.1'] - before['http/1.1']} vs {led}")
    checks.equal(data["http2"]["alpn_fallbacks"], 2, "both connections fell back")
    checks.equal(data["http2"]["connections"], 0, "no HTTP/2 connection")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")
    checks.check(led["in_flight"] <= 8, "4 pipelined requests per connection at most")


def test_tls_http2_required_but_refused(checks, tls_h1_target):
    """--http 2 against a server without h2: connection failures under a named reason, with
    the reconnect backoff (no spinning), nothing sent."""
    tg, cert = tls_h1_target
    url = f"https://127.0.0.1:{tg.port}/"
    cp, data = run_pelt_for_json(["-t1", "-c2", "-d1s", "--http", "2", "--cacert", cert, url])
    checks.equal(cp.returncode, 0, "exit code (runtime errors do not fail the run)")
    checks.equal(data["ledger"]["sent"], 0, "nothing sent")
    n = data["error_reasons"].get("http2: ALPN did not choose h2", 0)
    checks.check(0 < n < 100, f"ALPN failures counted with backoff ({data['error_reasons']})")
    checks.equal(data["errors"]["connect"], n, "counted as connect errors")
    checks.check(any("ALPN chose http/1.1" in s for s in data["error_samples"]),
                 f"the sample says what ALPN chose ({data['error_samples']})")


def test_nginx_tls_h2(checks):
    with Nginx(http2=True, tls=True, access_log=True) as ng:
        cp, data = run_pelt_for_json(["-t1", "-c2", "-m10", "-d1s", "--http", "2",
                                      "--cacert", ng.cert_path, ng.url("/")])
        lines = ng.access_log_lines()
    led = data["ledger"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.check(led["completed"] > 500, f"completed ({led['completed']})")
    checks.check(led["completed"] <= len(lines) <= led["sent"],
                 f"nginx logged {len(lines)} vs {led}")
    checks.check(all("HTTP/2.0" in line for line in lines), "all HTTP/2.0")


def test_open_loop_over_streams(checks, target):
    """-R over HTTP/2 streams: the schedule holds, latency counts from it."""
    rate, seconds = 2000, 2
    cp, data = run_pelt_for_json(["-t1", "-c2", "-m10", f"-d{seconds}s", "-R", rate, "--h2c",
                                  target.url("/")])
    led = data["ledger"]
    planned = rate * seconds
    tolerance = 0.05 if SANITIZED else 0.01
    checks.check(abs(led["sent"] - planned) <= planned * tolerance,
                 f"sent {led['sent']} of {planned} scheduled")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")
    checks.equal(data["http2"]["connections"], 2, "the VUs share 2 connections")
    checks.check("Open loop at" in cp.stdout, "open-loop lines")


def test_scenario_file_target_keys(checks, target, tmp_path):
    """[target] http, h2c and streams: VUs share connections, streams per connection."""
    path = tmp_path / "h2.toml"
    path.write_text(f"""
[target]
url = "{target.url('/')}"
h2c = true
streams = 5

[scenarios.s]
executor = "constant-vus"
vus = 10
duration = "1s"
""")
    target.reset()
    cp, data = run_pelt_for_json(["run", str(path), "-t1", "--quiet"])
    st = target.stats()
    led = data["ledger"]
    checks.equal(cp.returncode, 0, f"exit code ({cp.stderr.strip()[-300:]})")
    checks.equal(data["http2"]["connections"], 2, "10 VUs in groups of 5 streams: 2 connections")
    checks.check(led["completed"] <= st["by_protocol"]["h2"] <= led["sent"],
                 f"server count {st['by_protocol']} vs {led}")


def test_lua_response_sees_http2_headers(checks, target, tmp_path):
    """response(status, headers, body) over HTTP/2: lower-case names, found in any case."""
    script = tmp_path / "resp.lua"
    script.write_text("""
bad = 0
response = function(status, headers, body)
  if status ~= 200 or headers["Content-Type"] ~= "application/json" or
     headers["content-type"] ~= "application/json" or not body:find('"ok"') then
    bad = bad + 1
    error("unexpected response " .. status)
  end
end
""")
    cp, data = run_pelt_for_json(["-t1", "-c1", "-m4", "-d1s", "--h2c", "-s", str(script),
                                  target.url("/health")])
    checks.check(data["ledger"]["completed"] > 100, "requests completed")
    checks.equal(data["script_errors"]["count"], 0, f"no script error {data['script_errors']}")


def test_request_bytes_that_cannot_go_over_http2(checks, target, tmp_path):
    """A request() result HTTP/2 cannot carry is a script error, counted, and the run goes on."""
    script = tmp_path / "bad.lua"
    script.write_text("""
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return "CONNECT h:443 HTTP/1.1\\r\\nHost: h:443\\r\\n\\r\\n" end
  return wrk.format("GET", "/")
end
""")
    cp, data = run_pelt_for_json(["-t1", "-c1", "-d1s", "--h2c", "-s", str(script),
                                  target.url("/")])
    checks.check(data["ledger"]["completed"] > 10, "good requests completed")
    checks.check(data["script_errors"]["count"] > 10, "bad ones counted as script errors")
    checks.check(any("CONNECT" in s for s in data["script_errors"]["samples"]),
                 f"the error names the problem ({data['script_errors']['samples']})")
    checks.check(ledger_ok(data), "ledger adds up")


BENCH_SCRIPTS = ["coupon.lua", "coupon_check.lua", "hook.lua", "pipeline16.lua"]


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_bench_scripts_over_http2(checks, target, script):
    """The benchmark's Lua scripts run over HTTP/2 (pipeline16: 16 streams per batch)."""
    path = os.path.join(SOURCE_DIR, "bench", "lua", script)
    target.reset()
    cp, data = run_pelt_for_json(["-t1", "-c4", "-d1s", "--h2c", "-s", path, target.url("/")])
    st = target.stats()
    led = data["ledger"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.check(led["completed"] > 200, f"{script}: completed ({led['completed']})")
    checks.equal(led["failed"] + led["timed_out"], 0, f"{script}: no failures")
    checks.equal(data["errors"]["status"], 0, f"{script}: no error status ({data['status_codes']})")
    checks.equal(data["script_errors"]["count"], 0, f"{script}: no script error")
    checks.check(led["completed"] <= st["by_protocol"]["h2"] <= led["sent"],
                 f"{script}: server count {st['by_protocol']} vs {led}")


def test_idle_script_over_http2(checks, target):
    """bench/lua/idle.lua: delay() between requests on each stream."""
    path = os.path.join(SOURCE_DIR, "bench", "lua", "idle.lua")
    cp, data = run_pelt_for_json(["-t1", "-c2", "-m5", "-d2s", "--h2c", "-s", path,
                                  target.url("/")])
    led = data["ledger"]
    checks.check(10 <= led["completed"] <= 30, f"10 VUs x 1 request a second ({led})")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")


@pytest.mark.parametrize("args, message", [
    (["--h2c", "https://127.0.0.1:1/"], "--h2c is cleartext HTTP/2 and needs an http:// URL"),
    (["--http", "3", "http://127.0.0.1:1/"], 'bad --http "3": use 1.1, 2 or auto'),
    (["-m", "0", "http://127.0.0.1:1/"], "stream count (-m) must be from 1 to 1000000"),
    (["--h2c", "--http", "1.1", "http://127.0.0.1:1/"], "--h2c is HTTP/2: it cannot go with --http 1.1"),
])
def test_option_errors(args, message):
    cp = run_pelt(["-t1", "-c1", "-d1s"] + args)
    assert cp.returncode == 2 and message in cp.stderr, (cp.returncode, cp.stderr)


def test_http1_pipelined_streams(checks, target):
    """-m over HTTP/1.1: the VUs of a connection pipeline their requests."""
    target.reset()
    cp, data = run_pelt_for_json(["-t1", "-c2", "-m8", "-d1s", target.url("/")])
    st = target.stats()
    led = data["ledger"]
    checks.equal(st["by_protocol"]["h2"], 0, "HTTP/1.1 only")
    checks.check(led["completed"] <= st["by_protocol"]["http/1.1"] <= led["sent"],
                 f"server count {st['by_protocol']} vs {led}")
    checks.equal(led["failed"] + led["timed_out"], 0, "no failures")
    checks.equal(data["connects"], 2, "two connections")
    checks.check(re.search(r"2 connections, 8 pipelined requests each", cp.stdout),
                 "header line")


def test_static_request_that_cannot_go_over_http2(tmp_path, target):
    """A request HTTP/2 cannot carry is bad input before the run: exit code 2."""
    script = tmp_path / "connect.lua"
    script.write_text('wrk.method = "CONNECT"\n')
    cp = run_pelt(["-t1", "-c1", "-d1s", "--h2c", "-s", str(script), target.url("/")])
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "the built request cannot be sent over HTTP/2" in cp.stderr and "CONNECT" in cp.stderr, \
        cp.stderr
