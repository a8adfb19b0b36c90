"""Hostile servers: every pelt-target fault path, TLS to a plain port, refused connections, Lua
errors during the run. pelt must finish on time with exit 0, count each failure under the right
kind and reason, keep its ledger balanced, and stay small in memory."""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from harness import BIN, SANITIZED, BackgroundServer, Target, free_port

RUN_ARGS = ["-t1", "-c4", "-d2s", "--timeout", "1s", "--quiet"]
HANG_LIMIT_S = 30       # a 2 s run that takes longer than this is a hang
MAX_RSS_KB = 64 * 1024  # peak resident memory allowed for pelt (ru_maxrss is in KiB on Linux)


class Run:
    """What one pelt process did: exit code, output, JSON document, peak RSS."""

    def __init__(self, args, returncode, stdout, stderr, data, max_rss_kb, hung):
        self.args = args
        self.returncode = returncode  # exit code, or -signal if killed by a signal
        self.stdout = stdout
        self.stderr = stderr
        self.data = data              # the --json document, or None
        self.max_rss_kb = max_rss_kb  # peak resident set size of pelt, KiB
        self.hung = hung              # killed by this test after HANG_LIMIT_S


def run_measured(args, limit_s=HANG_LIMIT_S):
    """Runs pelt with --json, reaps it with os.wait4 for its rusage; kills it after limit_s."""
    with tempfile.TemporaryDirectory(prefix="pelt-faults-") as tmp:
        return _run_measured(args, limit_s, os.path.join(tmp, "out.json"))


def _run_measured(args, limit_s, json_path):
    out_f = tempfile.TemporaryFile(mode="w+")
    err_f = tempfile.TemporaryFile(mode="w+")
    cmd = [BIN] + [str(a) for a in args] + ["--json", json_path]
    proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + limit_s
    hung = False
    status, rusage = 0, None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() > deadline:
            hung = True
            os.kill(proc.pid, signal.SIGKILL)
            _, status, rusage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    out_f.seek(0)
    err_f.seek(0)
    stdout, stderr = out_f.read(), err_f.read()
    out_f.close()
    err_f.close()
    data = None
    try:
        with open(json_path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        pass
    return Run(cmd, proc.returncode, stdout, stderr, data, rusage.ru_maxrss, hung)


def ledger_adds_up(checks, r, label):
    lg = r.data["ledger"]
    total = lg["completed"] + lg["failed"] + lg["timed_out"] + lg["in_flight"]
    return checks.check(lg["sent"] == total,
                        f"{label}: ledger sent {lg['sent']} != completed + failed + timed_out + "
                        f"in_flight = {total} ({lg}, reasons {r.data['error_reasons']}, "
                        f"{r.data['duration_seconds']:.2f}s)")


def ran_cleanly(checks, r, label, expect_rc=0):
    """No hang and a JSON document (else the test stops here); expected exit code and bounded
    memory (checks)."""
    assert not r.hung, f"{label}: pelt hung (killed after {HANG_LIMIT_S}s)"
    checks.equal(r.returncode, expect_rc, f"{label}: exit code (stderr {r.stderr.strip()[-400:]!r})")
    checks.check(SANITIZED or r.max_rss_kb < MAX_RSS_KB,
                 f"{label}: peak RSS {r.max_rss_kb} KiB over {MAX_RSS_KB}")
    assert r.data is not None, (f"{label}: no JSON document written "
                                f"(exit {r.returncode}, stderr {r.stderr.strip()[-400:]!r})")


def reasons_matching(r, pred):
    return {k: v for k, v in r.data["error_reasons"].items() if pred(k) and v > 0}


def samples_text(r):
    return " | ".join(r.data.get("error_samples", []))


# Each fault path: (path, error kind in `errors`, ledger field that must be > 0, reason test,
# sample test or None, description of what is expected).
PARSE = lambda k: k == "parse error"  # noqa: E731
TIMEOUT = lambda k: k == "timeout"  # noqa: E731
FAULTS = [
    ("/fault/reset", "read", "failed",
     lambda k: k in ("read ECONNRESET", "premature close"), None, "read ECONNRESET or premature close"),
    ("/fault/close-before-headers", "read", "failed",
     lambda k: k in ("premature close", "read ECONNRESET"), None, "premature close"),
    ("/fault/garbage", "read", "failed", PARSE, "invalid status line", "parse error"),
    ("/fault/huge-headers", "read", "failed", PARSE, "header section over 80 KiB", "parse error (header overflow)"),
    ("/fault/endless-chunked", "timeout", "timed_out", TIMEOUT, None, "timeout"),
    ("/fault/bad-chunk", "read", "failed", PARSE, "invalid chunk size", "parse error (chunk size)"),
    ("/fault/short-body", "read", "failed", lambda k: k == "premature close", None, "premature close"),
    ("/fault/two-lengths", "read", "failed", PARSE, "two different Content-Length", "parse error (two lengths)"),
    ("/fault/drip", "timeout", "timed_out", TIMEOUT, None, "timeout (1 byte a second)"),
    ("/fault/hang", "timeout", "timed_out", TIMEOUT, None, "timeout"),
]



@pytest.mark.parametrize("path, kind, ledger_field, reason_ok, sample_part, what", FAULTS,
                         ids=[f[0].rsplit("/", 1)[1] for f in FAULTS])
def test_fault_path(checks, target, path, kind, ledger_field, reason_ok, sample_part, what):
    r = run_measured(RUN_ARGS + [target.url(path)])
    ran_cleanly(checks, r, path)
    # The run ends on a multiple of the timeout (-d2s --timeout 1s) for the stalling paths:
    # each request must count once, as timed out or as in flight.
    ledger_adds_up(checks, r, path)
    checks.check(r.data["errors"][kind] > 0, f"{path}: errors.{kind} should count it: {r.data['errors']}")
    checks.check(r.data["ledger"][ledger_field] > 0,
                 f"{path}: ledger.{ledger_field} should count it: {r.data['ledger']}")
    checks.check(reasons_matching(r, reason_ok),
                 f"{path}: expected {what} in error_reasons, got {r.data['error_reasons']}")
    if sample_part:
        checks.check(sample_part in samples_text(r),
                     f"{path}: error_samples should mention {sample_part}: {samples_text(r)!r}")
    checks.equal(r.data["ledger"]["completed"], 0, f"{path}: no request may count as completed")


@pytest.mark.parametrize("attempt", range(4))
def test_hang_at_end_of_run(checks, target, attempt):
    """The run ending just as requests time out: each must be counted once, as timed out or as
    in flight, never both. Short runs a few times, since it depends on timer order."""
    label = f"hang at end of run #{attempt}"
    r = run_measured(["-t1", "-c4", "-d1s", "--timeout", "500ms", "--quiet",
                      target.url("/fault/hang")])
    ran_cleanly(checks, r, label)
    ledger_adds_up(checks, r, label)


def test_long_body(checks, target):
    """Content-Length 5 then more bytes: the 5-byte response completes; the surplus is either a
    parse error charged to the next request on that connection or ignored, never a crash."""
    r = run_measured(RUN_ARGS + [target.url("/fault/long-body")])
    ran_cleanly(checks, r, "/fault/long-body")
    ledger_adds_up(checks, r, "/fault/long-body")
    checks.check(r.data["ledger"]["completed"] > 0,
                 f"/fault/long-body: responses complete: {r.data['ledger']}")
    checks.check(r.data["status_codes"].get("200", 0) > 0, "/fault/long-body: 200 counted")
    other = reasons_matching(r, lambda k: k not in ("parse error", "premature close"))
    checks.check(not other, f"/fault/long-body: unexpected error reasons {other}")


def test_http10_close_delimited(checks, target):
    """HTTP/1.0 with the body ended by close: every response is good."""
    r = run_measured(RUN_ARGS + [target.url("/fault/http10")])
    ran_cleanly(checks, r, "/fault/http10")
    ledger_adds_up(checks, r, "/fault/http10")
    lg = r.data["ledger"]
    checks.check(lg["completed"] > 10, f"/fault/http10: responses complete: {lg}")
    checks.equal(lg["failed"] + lg["timed_out"], 0, "/fault/http10: nothing failed")
    checks.equal(r.data["error_reasons"], {}, "/fault/http10: no error reasons")
    checks.check(r.data["reconnects"] > 0 or r.data["connects"] > 4,
                 "/fault/http10: a new connection per response")


@pytest.mark.parametrize("path", ["/fault/http10", "/close"], ids=["http10", "close"])
def test_open_loop_against_closing_server(checks, target, path):
    """A server that closes after every response (HTTP/1.0, Connection: close) in open loop:
    each request must go out on its own connection, so nothing may fail. A VU back from a
    reconnect must not take a second arrival while it has one."""
    label = f"open loop {path}"
    r = run_measured(["-t1", "-c2", "-R", "400", "-d2s", "--timeout", "2s", "--quiet",
                      target.url(path)])
    ran_cleanly(checks, r, label)
    ledger_adds_up(checks, r, label)
    lg = r.data["ledger"]
    checks.check(lg["completed"] > 100, f"{label}: responses complete: {lg}")
    checks.equal(lg["failed"] + lg["timed_out"], 0,
                 f"{label}: nothing fails (reasons {r.data['error_reasons']})")


def test_tls_to_plain_port(checks, target):
    """TLS to the plain listener: the handshake fails; counted as a connect error, reason
    "tls: ..."."""
    https_url = target.url("/").replace("http://", "https://", 1)
    r = run_measured(RUN_ARGS + ["--insecure", https_url])
    ran_cleanly(checks, r, "https to plain port")
    ledger_adds_up(checks, r, "https to plain port")
    checks.check(r.data["errors"]["connect"] > 0, f"tls: errors.connect counts it: {r.data['errors']}")
    checks.check(reasons_matching(r, lambda k: k.startswith("tls:")),
                 f"tls: a 'tls:' reason expected, got {r.data['error_reasons']}")
    checks.equal(r.data["ledger"]["completed"], 0, "tls: nothing completed")


def test_lua_error_in_response(checks, target, tmp_path):
    """Lua runtime error in response(): counted with file:line, the run goes on."""
    script = str(tmp_path / "response_error.lua")
    with open(script, "w") as f:
        f.write("local n = 0\n"
                "response = function(status, headers, body)\n"
                "  n = n + 1\n"
                "  if n % 10 == 0 then error('bad response ' .. n) end\n"
                "end\n")
    r = run_measured(RUN_ARGS + ["-s", script, target.url("/")])
    ran_cleanly(checks, r, "lua response() error")
    ledger_adds_up(checks, r, "lua response() error")
    se = r.data["script_errors"]
    checks.check(se["count"] >= 10, f"lua: script errors counted: {se}")
    checks.check(any(f"{script}:4:" in s or "response_error.lua:4:" in s for s in se["samples"]),
                 f"lua: samples name file:line: {se['samples']}")
    checks.check(r.data["ledger"]["completed"] > 10 * se["count"] * 0.9,
                 f"lua: the run went on ({r.data['ledger']['completed']} completed)")
    checks.check("response_error.lua:4:" in r.stdout, "lua: summary prints the script error")


class SilentServer(BackgroundServer):
    """Accepts connections on 127.0.0.1 and never sends a byte (nor closes) until stopped."""

    def __init__(self):
        super().__init__()
        self.sock.settimeout(0.1)
        self.conns = []

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                pass

    def _close(self):
        for c in self.conns:
            c.close()


@pytest.fixture
def silent():
    with SilentServer() as srv:
        yield srv


def test_silent_server(checks, silent):
    """A server that accepts and stays silent: plain HTTP times out."""
    r = run_measured(RUN_ARGS + [f"http://127.0.0.1:{silent.port}/"])
    ran_cleanly(checks, r, "silent server")
    ledger_adds_up(checks, r, "silent server")
    checks.check(r.data["ledger"]["timed_out"] > 0 and r.data["error_reasons"].get("timeout", 0) > 0,
                 f"silent server: timeouts counted: {r.data['ledger']} {r.data['error_reasons']}")


def test_silent_tls_server(checks, silent):
    """A server that accepts and stays silent: TLS times out in the handshake."""
    r = run_measured(RUN_ARGS + ["--insecure", f"https://127.0.0.1:{silent.port}/"])
    ran_cleanly(checks, r, "silent TLS server")
    ledger_adds_up(checks, r, "silent TLS server")
    checks.check(r.data["errors"]["connect"] > 0, f"silent TLS server: connect errors: {r.data['errors']}")
    checks.check(reasons_matching(r, lambda k: k.startswith("tls:") and "timeout" in k),
                 f"silent TLS server: a 'tls: … timeout' reason: {r.data['error_reasons']}")


@pytest.fixture
def doomed_target():
    """A pelt-target of its own, which the test stops mid-run."""
    with Target(threads=1) as tg:
        yield tg


def test_server_gone_mid_run(checks, doomed_target):
    """A server that goes away during the run: reconnects are refused and counted, the run
    completes."""
    tg = doomed_target
    proc_args = RUN_ARGS[:2] + ["-d3s", "--timeout", "1s", "--quiet", tg.url("/")]
    killer = threading.Timer(1.0, tg.stop)
    killer.start()
    try:
        r = run_measured(proc_args)
    finally:
        killer.join()
    ran_cleanly(checks, r, "server gone mid-run")
    ledger_adds_up(checks, r, "server gone mid-run")
    checks.check(r.data["ledger"]["completed"] > 0, "server gone: requests before it left completed")
    checks.check(r.data["errors"]["connect"] > 0,
                 f"server gone: errors.connect counts refusals: {r.data['errors']}")
    checks.check(r.data["error_reasons"].get("connect ECONNREFUSED", 0) > 0,
                 f"server gone: 'connect ECONNREFUSED' reason: {r.data['error_reasons']}")
    # Reconnects back off: not a busy loop of thousands of refused connects a second.
    checks.check(r.data["errors"]["connect"] < 20000, f"server gone: {r.data['errors']['connect']} connects")


def test_closed_port(checks):
    """A port nobody listens on from the start: like wrk, pelt checks the address before the run
    and stops at once with exit code 1 (the run cannot happen) and a message that says what to
    check. No JSON document is expected here."""
    closed = free_port()
    r = run_measured(RUN_ARGS + [f"http://127.0.0.1:{closed}/"])
    assert not r.hung, f"closed port: pelt hung (killed after {HANG_LIMIT_S}s)"
    checks.equal(r.returncode, 1, "closed port: exit code 1 before any load")
    checks.check(f"unable to connect to 127.0.0.1:{closed}" in r.stderr and "is the server running" in r.stderr,
                 f"closed port: message names the address and the likely cause: {r.stderr.strip()!r}")
    checks.check(r.data is None, "closed port: no run, so no JSON document")
