"""HTTP/2 when the server misbehaves or limits the client: GOAWAY (graceful and with an error)
mid-run, counted and reconnected; streams refused or reset; SETTINGS_MAX_CONCURRENT_STREAMS
below -m; a 1-byte flow-control window; per-stream timeouts; protocol errors. Every failure
lands in the error breakdown under a named reason and the ledger adds up.
"""
import pytest

from harness import Nginx, Target, run_pelt_for_json


def ledger_ok(data):
    led = data["ledger"]
    return led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"]


def run_h2(target, path, args=(), script=None, seconds=1):
    extra = ["-s", script] if script else []
    return run_pelt_for_json(["-t1", f"-d{seconds}s", "--h2c"] + list(args) + extra +
                             [target.url(path)])


def write_script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("streams", [10, 50])
def test_graceful_goaway_mid_run(checks, streams):
    """--h2-max-requests 20: a GOAWAY(NO_ERROR) every 20 streams. Streams it allowed finish,
    streams above its last_stream_id are sent again on a new connection; nothing fails and the
    server's count matches."""
    with Target(threads=1, args=["--h2-max-requests", "20"]) as tg:
        cp, data = run_h2(tg, "/", ["-c2", "-m", streams])
        st = tg.stats()
    led, h2 = data["ledger"], data["http2"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failures ({data['error_reasons']})")
    checks.check(led["completed"] > 200, f"completed ({led['completed']})")
    checks.check(h2["goaways"] >= led["completed"] // 20 - 2,
                 f"a GOAWAY per 20 requests ({h2['goaways']} for {led['completed']})")
    checks.check(data["reconnects"] >= h2["goaways"] - 2, f"reconnected ({data['reconnects']})")
    if streams > 20:
        checks.check(h2["retried"] > 0, f"unprocessed streams sent again ({h2['retried']})")
    checks.check(led["completed"] <= st["by_protocol"]["h2"] <= led["sent"],
                 f"server count {st['by_protocol']} vs {led}")
    checks.check(ledger_ok(data), "ledger adds up")


def test_nginx_goaway_after_keepalive_requests(checks):
    """nginx ends a connection with a graceful GOAWAY after keepalive_requests; counts still
    match its access log."""
    with Nginx(http2=True, access_log=True, extra_server="    keepalive_requests 100;\n") as ng:
        cp, data = run_pelt_for_json(["-t1", "-c2", "-m10", "-d1s", "--h2c", ng.url("/")])
        lines = ng.access_log_lines()
    led = data["ledger"]
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failures ({data['error_reasons']})")
    checks.check(data["http2"]["goaways"] > 5, f"GOAWAYs ({data['http2']['goaways']})")
    checks.check(led["completed"] <= len(lines) <= led["sent"], f"nginx logged {len(lines)} vs {led}")


@pytest.mark.parametrize("query, code", [("", "PROTOCOL_ERROR"), ("?error=internal", "INTERNAL_ERROR")])
def test_goaway_with_error(checks, target, query, code):
    """GOAWAY with an error code fails the connection's requests under "goaway CODE", one error
    per connection, and pelt reconnects."""
    cp, data = run_h2(target, "/fault/goaway" + query, ["-c2", "-m3"])
    led = data["ledger"]
    reason = f"goaway {code}"
    checks.check(data["error_reasons"].get(reason, 0) > 10, f"{reason} counted ({data['error_reasons']})")
    checks.equal(led["completed"], 0, "no response")
    checks.equal(data["errors"]["read"], data["error_reasons"].get(reason), "one read error each")
    checks.check(led["failed"] >= data["error_reasons"].get(reason, 0), "every request failed")
    checks.check(data["connects"] > 10, f"reconnected ({data['connects']})")
    checks.check(ledger_ok(data), "ledger adds up")


def test_rst_stream_refused(checks, target, tmp_path):
    """RST_STREAM(REFUSED_STREAM) on one stream fails that request only; the connection stays."""
    script = write_script(tmp_path, "rst.lua", """
local n = 0
request = function()
  n = n + 1
  if n % 5 == 0 then return wrk.format("GET", "/fault/rst-stream") end
  return wrk.format("GET", "/")
end
""")
    cp, data = run_h2(target, "/", ["-c2", "-m4"], script)
    led, h2 = data["ledger"], data["http2"]
    refused = data["error_reasons"].get("stream reset REFUSED_STREAM", 0)
    checks.check(refused > 50, f"resets counted ({data['error_reasons']})")
    checks.equal(led["failed"], refused, "exactly the reset requests failed")
    checks.equal(h2["resets_received"], refused, "RST_STREAM frames counted")
    checks.check(led["completed"] >= 3 * refused, f"the others completed ({led})")
    checks.equal(data["connects"], 2, "no reconnect")
    checks.check(ledger_ok(data), "ledger adds up")


def test_server_refusing_every_stream(checks):
    """SETTINGS_MAX_CONCURRENT_STREAMS 0: requests wait for a stream and time out; the summary
    shows the server's limit."""
    with Target(threads=1, args=["--h2-max-streams", "0"]) as tg:
        cp, data = run_h2(tg, "/", ["-c1", "-m3", "--timeout", "300ms"])
        st = tg.stats()
    led, h2 = data["ledger"], data["http2"]
    checks.equal(st["requests"], 0, "the server got no request")
    checks.equal(led["completed"], 0, "no response")
    checks.check(led["timed_out"] >= 6, f"timed out ({led})")
    checks.equal(h2["peer_max_concurrent_streams"], 0, "the server's limit")
    checks.check(h2["queued"] >= led["sent"], f"every request waited ({h2['queued']})")
    checks.check("waited for a stream (server allows 0)" in cp.stdout, "summary line")
    checks.check(ledger_ok(data), "ledger adds up")


def test_max_concurrent_streams_below_m(checks):
    """-m 10 against a server allowing 2 streams: requests queue for a stream, none fails."""
    with Target(threads=1, args=["--h2-max-streams", "2"]) as tg:
        cp, data = run_h2(tg, "/", ["-c2", "-m10"])
        st = tg.stats()
    led, h2 = data["ledger"], data["http2"]
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failures ({data['error_reasons']})")
    checks.equal(h2["peer_max_concurrent_streams"], 2, "the server's limit")
    checks.check(h2["queued"] > 100, f"requests queued ({h2['queued']})")
    checks.check(led["completed"] <= st["by_protocol"]["h2"] <= led["sent"],
                 f"server count {st['by_protocol']} vs {led}")


def test_one_byte_window(checks, tmp_path):
    """--h2-window 1: request bodies go out a byte per WINDOW_UPDATE and arrive whole."""
    script = write_script(tmp_path, "post.lua", """
wrk.method = "POST"
wrk.body = string.rep("abcdefghij", 10)
wrk.headers["Content-Type"] = "text/plain"
response = function(status, headers, body)
  if status ~= 200 or not body:find(wrk.body, 1, true) then error("body lost: " .. body) end
end
""")
    with Target(threads=1, args=["--h2-window", "1"]) as tg:
        cp, data = run_h2(tg, "/echo", ["-c2", "-m2"], script)
        st = tg.stats()
    led, h2 = data["ledger"], data["http2"]
    checks.check(led["completed"] > 5, f"completed ({led})")
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failures ({data['error_reasons']})")
    checks.equal(data["script_errors"]["count"], 0, f"bodies intact {data['script_errors']}")
    checks.check(h2["flow_control_stalls"] > 50, f"stalls counted ({h2['flow_control_stalls']})")
    checks.check(led["completed"] <= st["requests"] <= led["sent"], f"server {st} vs {led}")


def test_timeout_resets_only_that_stream(checks, target, tmp_path):
    """A stream without an answer times out alone: RST_STREAM(CANCEL), no reconnect."""
    script = write_script(tmp_path, "hang.lua", """
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then return wrk.format("GET", "/fault/hang") end
  return wrk.format("GET", "/")
end
""")
    cp, data = run_h2(target, "/", ["-c1", "-m4", "--timeout", "300ms"], script, seconds=2)
    led, h2 = data["ledger"], data["http2"]
    checks.check(led["timed_out"] >= 4, f"timeouts ({led})")
    checks.equal(data["errors"]["timeout"], led["timed_out"], "timeout errors")
    checks.check(led["completed"] >= 8 * led["timed_out"], f"the other streams went on ({led})")
    checks.equal(data["connects"], 1, "the connection stayed")
    checks.equal(h2["resets_sent"], led["timed_out"], "one RST_STREAM per timed-out stream")
    checks.check(ledger_ok(data), "ledger adds up")


@pytest.mark.parametrize("path, reason", [
    ("/fault/garbage", "http2 protocol error"),
    ("/fault/long-body", "stream error PROTOCOL_ERROR"),
    ("/fault/two-lengths", "stream error PROTOCOL_ERROR"),
    ("/fault/bad-chunk", "stream reset PROTOCOL_ERROR"),
    ("/fault/reset", "read ECONNRESET"),
])
def test_protocol_faults_named(checks, target, path, reason):
    cp, data = run_h2(target, path, ["-c2", "-m2"])
    led = data["ledger"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.equal(led["completed"], 0, "no response")
    checks.check(data["error_reasons"].get(reason, 0) > 0,
                 f"{path}: {reason} in {data['error_reasons']}")
    checks.check(led["failed"] > 2, f"the run went on ({led})")
    checks.check(ledger_ok(data), "ledger adds up")


@pytest.mark.parametrize("path", ["/close", "/fault/close-notify"])
def test_server_closing_gracefully(checks, target, path):
    """A 200 followed by GOAWAY(NO_ERROR) on every request: all complete, pelt reconnects."""
    cp, data = run_h2(target, path, ["-c2", "-m1"])
    led = data["ledger"]
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failures ({data['error_reasons']})")
    checks.check(data["reconnects"] >= led["completed"] - 2, f"reconnects ({data['reconnects']})")
    checks.check(led["completed"] > 50, "completed")
