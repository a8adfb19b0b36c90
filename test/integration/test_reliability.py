"""Hostile servers, odd scripts and absurd input that once gave wrong numbers, stalls or
crashes. Each case runs the real binary against a real server (pelt-target's TLS and fault
paths, or a small server here) and checks the ledger, the counts against the server's own, and
that the run ends on time."""
import os
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import BIN, SANITIZED, BackgroundServer, Target, read_json, run_pelt, run_pelt_for_json


def ledger_ok(checks, label, doc):
    led = doc["ledger"]
    checks.check(led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"],
                 f"{label}: ledger adds up {led}")
    return led


@pytest.fixture(scope="module")
def tls_target(tmp_path_factory):
    cert = str(tmp_path_factory.mktemp("tls") / "cert.pem")
    with Target(threads=1, args=["--tls", "--tls-cert-out", cert]) as t:
        t.cert = cert
        yield t


@pytest.fixture(scope="module")
def tls12_target(tmp_path_factory):
    cert = str(tmp_path_factory.mktemp("tls12") / "cert.pem")
    with Target(threads=1, args=["--tls", "--tls-max", "1.2", "--tls-cert-out", cert]) as t:
        t.cert = cert
        yield t


def https(t, path):
    return f"https://127.0.0.1:{t.port}{path}"


def tls_call(t, method, path):
    """A request to a TLS pelt-target (trusting its certificate); the decoded JSON body."""
    import json
    import ssl
    import urllib.request
    ctx = ssl.create_default_context(cafile=t.cert)
    req = urllib.request.Request(https(t, path), method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
        body = r.read()
    return json.loads(body) if body.strip().startswith(b"{") else None


def test_tls_close_delimited_bodies_do_not_stall(checks, tls_target):
    """A body ended by a TLS close (no Content-Length, then close_notify): each response is
    counted and the connection reopened; thousands in 2 s, as over plain HTTP."""
    cp, doc = run_pelt_for_json(["-t1", "-c4", "-d2s", "--cacert", tls_target.cert,
                                 https(tls_target, "/fault/http10")])
    checks.equal(cp.returncode, 0, f"exit code ({cp.stderr[-200:]!r})")
    led = ledger_ok(checks, "close-delimited", doc)
    checks.check(led["completed"] > 300, f"close-delimited over TLS: many responses, got {led}")
    checks.equal(led["failed"], 0, "close-delimited: nothing failed")


def test_tls_close_notify_after_a_response_counts_every_request(checks, tls_target):
    """close_notify right after a keep-alive response (a server recycling connections): a
    request already sent on that connection counts as a premature close, the VU reconnects, and
    pelt's completed requests equal the server's."""
    tls_call(tls_target, "POST", "/admin/reset")
    cp, doc = run_pelt_for_json(["-t1", "-c4", "-d2s", "--cacert", tls_target.cert,
                                 https(tls_target, "/fault/close-notify")])
    checks.equal(cp.returncode, 0, "exit code")
    led = ledger_ok(checks, "close-notify", doc)
    checks.check(led["completed"] > 300, f"close-notify: no stall, got {led}")
    served = tls_call(tls_target, "GET", "/stats")["requests"]
    checks.check(abs(served - led["completed"]) <= 4, f"close-notify: server answered {served}, pelt completed {led['completed']}")
    checks.equal(led["timed_out"], 0, "close-notify: no timeouts")


def test_tls_renegotiation_requested_by_the_server(checks, tls12_target):
    cp, doc = run_pelt_for_json(["-t1", "-c4", "-d2s", "--cacert", tls12_target.cert,
                                 https(tls12_target, "/fault/renegotiate")])
    checks.equal(cp.returncode, 0, "exit code")
    led = ledger_ok(checks, "renegotiate", doc)
    checks.check(led["completed"] > 100, f"renegotiation: requests complete, got {led}")
    checks.equal(led["failed"] + led["timed_out"], 0, f"renegotiation: nothing fails {doc['error_reasons']}")


def test_status_codes_outside_100_599(checks, target, tmp_path):
    """999 is counted, shown as non-2xx/3xx, failed everywhere; summary and threshold agree."""
    cp = run_pelt(["-t1", "-c2", "-d1s", target.url("/status/999")])
    checks.check("Non-2xx or 3xx responses:" in cp.stdout, f"quick summary line: {cp.stdout[-400:]!r}")
    scen = tmp_path / "s.toml"
    scen.write_text(f'[target]\nurl = "{target.url("/status/999")}"\n[scenarios.s]\nexecutor = "constant-vus"\n'
                    'vus = 2\nduration = "1s"\n[thresholds]\nhttp_req_failed = ["rate<0.01"]\n')
    cp, doc = run_pelt_for_json(["run", str(scen), "--quiet"])
    checks.equal(cp.returncode, 99, "the failed-rate threshold is crossed")
    checks.check(doc["status_codes"].get("999", 0) > 0, f"status 999 counted: {doc['status_codes']}")
    checks.equal(doc["metrics"]["http_req_failed"]["rate"], 1.0, "every 999 is a failure")
    th = doc["thresholds"][0]
    checks.check(not th["ok"] and "100.00%" in th["text"], f"threshold and summary agree: {th}")
    checks.check("http_req_failed.............: 100.00%" in cp.stdout, "the summary's figure")


def test_a_server_that_closes_every_connection_at_once(checks, tmp_path):
    """A load balancer without backends: each connection is closed at once. pelt backs off
    between connections (no thousands per second) and names it in the breakdown."""
    with Target(threads=1, args=["--close-on-accept"]) as t:
        cp, doc = run_pelt_for_json(["-t1", "-c10", "-R", "2", "-d2s", t.url("/")])
    checks.equal(cp.returncode, 0, "exit code")
    ledger_ok(checks, "close on accept", doc)
    checks.check(doc["connects"] < 800, f"backoff: {doc['connects']} connections in 2 s")
    checks.check(doc["error_reasons"].get("connection closed before response", 0) > 0,
                 f"named in the breakdown: {doc['error_reasons']}")


def test_large_request_bodies_stay_bounded(checks, target, tmp_path):
    """10 MB POST bodies over 20 connections: the body is sent from one shared buffer, so
    memory does not grow per connection, and uploads complete."""
    script = tmp_path / "big.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = string.rep("x", 10 * 1024 * 1024)\n')
    json_path = str(tmp_path / "big.json")
    proc = subprocess.Popen([BIN, "-t2", "-c20", "-d3s", "-s", str(script), "--json", json_path,
                             target.url("/sink")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    checks.equal(os.waitstatus_to_exitcode(status), 0, "exit code")
    doc = read_json(json_path)
    led = ledger_ok(checks, "10 MB bodies", doc)
    checks.check(led["completed"] >= 20, f"uploads complete: {led}")
    # 3 Lua states hold the body and the request (about 60 MB); 20 connections add nothing.
    checks.check(SANITIZED or usage.ru_maxrss < 160 * 1024, f"peak RSS {usage.ru_maxrss // 1024} MB")


def test_request_returning_an_empty_string_sends_nothing(checks, target, tmp_path):
    script = tmp_path / "empty.lua"
    script.write_text("local n = 0\nrequest = function()\n  n = n + 1\n"
                      "  if n % 2 == 0 then return '' end\n  return wrk.format('GET', '/')\nend\n")
    target.reset()
    cp, doc = run_pelt_for_json(["-t1", "-c2", "-d1s", "-s", str(script), target.url("/")])
    led = ledger_ok(checks, "empty request", doc)
    served = target.stats()["requests"]
    checks.equal(led["sent"], served, "every request sent reached the server")
    checks.equal(led["timed_out"], 0, "no phantom timeouts")
    checks.check(doc["script_errors"]["count"] > 0 and "empty string" in " ".join(doc["script_errors"]["samples"]),
                 f"counted as a script error: {doc['script_errors']}")


def test_varying_pipeline_depth_is_counted_exactly(checks, target, tmp_path):
    script = tmp_path / "vary.lua"
    script.write_text("local n = 0\nrequest = function()\n  n = n + 1\n  local out = ''\n"
                      "  for i = 1, (n % 4) + 1 do out = out .. wrk.format('GET', '/') end\n"
                      "  return out\nend\n")
    target.reset()
    cp, doc = run_pelt_for_json(["-t1", "-c4", "-d2s", "-s", str(script), target.url("/")])
    led = ledger_ok(checks, "varying depth", doc)
    checks.equal(doc["error_reasons"], {}, "no parse errors")
    checks.equal(led["completed"] + led["in_flight"], target.stats()["requests"], "counts equal the server's")


def test_an_absurd_rate_ends_on_time(checks, target):
    start = time.monotonic()
    cp, doc = run_pelt_for_json(["-t2", "-c10", "-R", "1000000000", "-d1s", target.url("/")], timeout=30)
    took = time.monotonic() - start
    checks.equal(cp.returncode, 0, "exit code")
    checks.check(took < 4, f"-R 1e9 -d1s ends on time ({took:.1f}s)")
    ledger_ok(checks, "absurd rate", doc)
    checks.check(doc["metrics"]["dropped_iterations"]["count"] > 900_000_000, "arrivals beyond reach are dropped")
    # And a signal is answered at once while it runs.
    proc = subprocess.Popen([BIN, "-t2", "-c10", "-R", "1000000000", "-d30s", target.url("/")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    checks.check(time.monotonic() - t0 < 1.5, f"SIGTERM answered in {time.monotonic() - t0:.2f}s")


def test_metrics_are_scraped_while_idle_and_slow_clients_hang_on(checks, target):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    mport = port.getsockname()[1]
    port.close()
    proc = subprocess.Popen([BIN, "-t1", "-c2", "-d8s", "--metrics", f"127.0.0.1:{mport}",
                             "--metrics-linger", "0s", target.url("/")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", mport), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        idle = [socket.create_connection(("127.0.0.1", mport)) for _ in range(3)]
        slow = socket.create_connection(("127.0.0.1", mport))
        stop = threading.Event()

        def drip():
            for ch in b"GET /metrics HTTP/1.1\r\nHost: x\r\n":
                if stop.is_set():
                    return
                try:
                    slow.send(bytes([ch]))
                except OSError:
                    return
                time.sleep(0.3)

        threading.Thread(target=drip, daemon=True).start()
        import urllib.request
        for i in range(3):
            t0 = time.monotonic()
            body = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10).read()
            checks.check(time.monotonic() - t0 < 1.0, f"scrape {i} took {time.monotonic() - t0:.2f}s")
            checks.check(b"pelt_run_info" in body, "the scrape has the metrics")
            time.sleep(0.5)
        stop.set()
        for s in idle + [slow]:
            s.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_ctrl_c_ends_the_metrics_linger(checks, target):
    proc = subprocess.Popen([BIN, "-t1", "-c2", "-d1s", "--metrics", "127.0.0.1:0",
                             "--metrics-linger", "60s", target.url("/")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    err = ""
    while time.monotonic() < deadline and "serving final metrics" not in err:
        err += proc.stderr.readline()
    checks.check("serving final metrics" in err, f"lingers: {err!r}")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=10)
    checks.check(time.monotonic() - t0 < 1.5, f"the first Ctrl-C ends the linger ({time.monotonic() - t0:.2f}s)")
    checks.equal(proc.returncode, 0, "exit code")


def test_a_lua_state_running_out_of_memory_is_a_script_error(checks, target, tmp_path):
    """The state's budget (1 GiB) ends the script with "not enough memory", never the machine's
    memory; the run goes on (request()) or ends with a message naming the file (top level)."""
    top = tmp_path / "top.lua"
    top.write_text("local t = {}\nwhile true do t[#t + 1] = string.rep('z', 65536) .. #t end\n")

    def limit():
        # A safety net for the machine, except under AddressSanitizer, whose shadow memory needs
        # terabytes of address space (the state's own budget still ends the script).
        if not SANITIZED:
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    cp = subprocess.run([BIN, "-t1", "-c1", "-d1s", "-s", str(top), target.url("/")],
                        capture_output=True, text=True, timeout=120, preexec_fn=limit)
    checks.equal(cp.returncode, 2, f"top-level OOM: exit 2 ({cp.stderr[-200:]!r})")
    checks.check(f"{top}: not enough memory" in cp.stderr, f"names the script: {cp.stderr[-200:]!r}")
    hook = tmp_path / "hook.lua"
    # 64 MiB a request in 1 MiB strings: the budget runs out within about 16 requests, a
    # fraction of a second even in a sanitized build on a loaded machine (64 KiB strings took
    # over 3 s of requests there).
    hook.write_text("local t = {}\nrequest = function()\n"
                    "  for i = 1, 64 do t[#t + 1] = string.rep('y', 1048576) .. #t end\n"
                    "  return wrk.format('GET', '/')\nend\n")
    cp = subprocess.run([BIN, "-t1", "-c1", "-d3s", "-s", str(hook), target.url("/")],
                        capture_output=True, text=True, timeout=120, preexec_fn=limit)
    checks.equal(cp.returncode, 0, f"OOM in request(): the run goes on ({cp.stderr[-200:]!r})")
    checks.check("not enough memory" in cp.stdout, f"counted as a script error: {cp.stdout[-300:]!r}")


class HandshakeReset(BackgroundServer):
    """Reads the TLS ClientHello, then resets the connection (SO_LINGER 0)."""

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(1)
                conn.recv(4096)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            conn.close()


def test_a_reset_during_the_tls_handshake_is_a_connect_error(checks):
    with HandshakeReset() as server:
        cp, doc = run_pelt_for_json(["-t1", "-c1", "-d1s", "--insecure", f"https://127.0.0.1:{server.port}/"])
    checks.check(doc["errors"]["connect"] > 0, f"connect errors: {doc['errors']}")
    checks.equal(doc["errors"]["read"], 0, "no read errors")
    checks.check(any(k.startswith("tls: read") for k in doc["error_reasons"]), f"reasons: {doc['error_reasons']}")


def test_a_thousand_scenarios_stay_small(checks, target, tmp_path):
    lines = [f'[target]\nurl = "{target.url("/")}"']
    for i in range(1000):
        lines.append(f'[scenarios.s{i}]\nexecutor = "constant-vus"\nvus = 1\nduration = "1s"')
    scen = tmp_path / "many.toml"
    scen.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([BIN, "run", str(scen), "--quiet", "--threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    checks.equal(os.waitstatus_to_exitcode(status), 0, "exit code")
    checks.check(SANITIZED or usage.ru_maxrss < 400 * 1024, f"peak RSS {usage.ru_maxrss // 1024} MB for 1000 scenarios")
