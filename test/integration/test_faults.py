"""Hostile servers: every pelt-target fault path, TLS to a plain port, refused connections, Lua
errors during the run. pelt must finish on time with exit 0, count each failure under the right
kind and reason, keep its ledger balanced, and stay small in memory."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SANITIZED, BackgroundServer, Target, TestCase, free_port  # noqa: E402

t = TestCase("faults")
tmp = tempfile.mkdtemp(prefix="pelt-faults-")

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
    json_path = os.path.join(tmp, f"out-{time.monotonic_ns()}.json")
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
        os.unlink(json_path)
    except (OSError, ValueError):
        pass
    return Run(cmd, proc.returncode, stdout, stderr, data, rusage.ru_maxrss, hung)


def ledger_adds_up(r, label):
    lg = r.data["ledger"]
    total = lg["completed"] + lg["failed"] + lg["timed_out"] + lg["in_flight"]
    return t.check(lg["sent"] == total,
                   f"{label}: ledger sent {lg['sent']} != completed + failed + timed_out + "
                   f"in_flight = {total} ({lg}, reasons {r.data['error_reasons']}, "
                   f"{r.data['duration_seconds']:.2f}s)")


def ran_cleanly(r, label, expect_rc=0):
    """No hang, expected exit code, a JSON document, bounded memory. False stops later checks."""
    if not t.check(not r.hung, f"{label}: pelt hung (killed after {HANG_LIMIT_S}s)"):
        return False
    ok = t.equal(r.returncode, expect_rc,
                 f"{label}: exit code (stderr {r.stderr.strip()[-400:]!r})")
    t.check(SANITIZED or r.max_rss_kb < MAX_RSS_KB, f"{label}: peak RSS {r.max_rss_kb} KiB over {MAX_RSS_KB}")
    if not t.check(r.data is not None, f"{label}: no JSON document written"):
        return False
    return ok


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

with Target(threads=1) as tg:
    for path, kind, ledger_field, reason_ok, sample_part, what in FAULTS:
        r = run_measured(RUN_ARGS + [tg.url(path)])
        if not ran_cleanly(r, path):
            continue
        # The run ends on a multiple of the timeout (-d2s --timeout 1s) for the stalling paths:
        # each request must count once, as timed out or as in flight.
        ledger_adds_up(r, path)
        t.check(r.data["errors"][kind] > 0, f"{path}: errors.{kind} should count it: {r.data['errors']}")
        t.check(r.data["ledger"][ledger_field] > 0,
                f"{path}: ledger.{ledger_field} should count it: {r.data['ledger']}")
        t.check(reasons_matching(r, reason_ok),
                f"{path}: expected {what} in error_reasons, got {r.data['error_reasons']}")
        if sample_part:
            t.check(sample_part in samples_text(r),
                    f"{path}: error_samples should mention {sample_part}: {samples_text(r)!r}")
        t.equal(r.data["ledger"]["completed"], 0, f"{path}: no request may count as completed")

    # The run ending just as requests time out: each must be counted once, as timed out or as
    # in flight, never both. Short runs a few times, since it depends on timer order.
    for i in range(4):
        r = run_measured(["-t1", "-c4", "-d1s", "--timeout", "500ms", "--quiet",
                          tg.url("/fault/hang")])
        if ran_cleanly(r, f"hang at end of run #{i}"):
            ledger_adds_up(r, f"hang at end of run #{i}")

    # Content-Length 5 then more bytes: the 5-byte response completes; the surplus is either a
    # parse error charged to the next request on that connection or ignored, never a crash.
    r = run_measured(RUN_ARGS + [tg.url("/fault/long-body")])
    if ran_cleanly(r, "/fault/long-body"):
        ledger_adds_up(r, "/fault/long-body")
        t.check(r.data["ledger"]["completed"] > 0, f"/fault/long-body: responses complete: {r.data['ledger']}")
        t.check(r.data["status_codes"].get("200", 0) > 0, "/fault/long-body: 200 counted")
        other = reasons_matching(r, lambda k: k not in ("parse error", "premature close"))
        t.check(not other, f"/fault/long-body: unexpected error reasons {other}")

    # HTTP/1.0 with the body ended by close: every response is good.
    r = run_measured(RUN_ARGS + [tg.url("/fault/http10")])
    if ran_cleanly(r, "/fault/http10"):
        ledger_adds_up(r, "/fault/http10")
        lg = r.data["ledger"]
        t.check(lg["completed"] > 10, f"/fault/http10: responses complete: {lg}")
        t.equal(lg["failed"] + lg["timed_out"], 0, "/fault/http10: nothing failed")
        t.equal(r.data["error_reasons"], {}, "/fault/http10: no error reasons")
        t.check(r.data["reconnects"] > 0 or r.data["connects"] > 4,
                "/fault/http10: a new connection per response")

    # A server that closes after every response (HTTP/1.0, Connection: close) in open loop:
    # each request must go out on its own connection, so nothing may fail.
    # A VU back from a reconnect must not take a second arrival while it has one.
    for path in ("/fault/http10", "/close"):
        label = f"open loop {path}"
        r = run_measured(["-t1", "-c2", "-R", "400", "-d2s", "--timeout", "2s", "--quiet", tg.url(path)])
        if ran_cleanly(r, label):
            ledger_adds_up(r, label)
            lg = r.data["ledger"]
            t.check(lg["completed"] > 100, f"{label}: responses complete: {lg}")
            t.equal(lg["failed"] + lg["timed_out"], 0,
                    f"{label}: nothing fails (reasons {r.data['error_reasons']})")

    # TLS to the plain listener: the handshake fails; counted as a connect error, reason "tls: ...".
    https_url = tg.url("/").replace("http://", "https://", 1)
    r = run_measured(RUN_ARGS + ["--insecure", https_url])
    if ran_cleanly(r, "https to plain port"):
        ledger_adds_up(r, "https to plain port")
        t.check(r.data["errors"]["connect"] > 0, f"tls: errors.connect counts it: {r.data['errors']}")
        t.check(reasons_matching(r, lambda k: k.startswith("tls:")),
                f"tls: a 'tls:' reason expected, got {r.data['error_reasons']}")
        t.equal(r.data["ledger"]["completed"], 0, "tls: nothing completed")

    # Lua runtime error in response(): counted with file:line, the run goes on.
    script = os.path.join(tmp, "response_error.lua")
    with open(script, "w") as f:
        f.write("local n = 0\n"
                "response = function(status, headers, body)\n"
                "  n = n + 1\n"
                "  if n % 10 == 0 then error('bad response ' .. n) end\n"
                "end\n")
    r = run_measured(RUN_ARGS + ["-s", script, tg.url("/")])
    if ran_cleanly(r, "lua response() error"):
        ledger_adds_up(r, "lua response() error")
        se = r.data["script_errors"]
        t.check(se["count"] >= 10, f"lua: script errors counted: {se}")
        t.check(any(f"{script}:4:" in s or "response_error.lua:4:" in s for s in se["samples"]),
                f"lua: samples name file:line: {se['samples']}")
        t.check(r.data["ledger"]["completed"] > 10 * se["count"] * 0.9,
                f"lua: the run went on ({r.data['ledger']['completed']} completed)")
        t.check("response_error.lua:4:" in r.stdout, "lua: summary prints the script error")



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


# A server that accepts and stays silent: plain HTTP times out, TLS times out in the handshake.
with SilentServer() as silent:
    r = run_measured(RUN_ARGS + [f"http://127.0.0.1:{silent.port}/"])
    if ran_cleanly(r, "silent server"):
        ledger_adds_up(r, "silent server")
        t.check(r.data["ledger"]["timed_out"] > 0 and r.data["error_reasons"].get("timeout", 0) > 0,
                f"silent server: timeouts counted: {r.data['ledger']} {r.data['error_reasons']}")
    r = run_measured(RUN_ARGS + ["--insecure", f"https://127.0.0.1:{silent.port}/"])
    if ran_cleanly(r, "silent TLS server"):
        ledger_adds_up(r, "silent TLS server")
        t.check(r.data["errors"]["connect"] > 0, f"silent TLS server: connect errors: {r.data['errors']}")
        t.check(reasons_matching(r, lambda k: k.startswith("tls:") and "timeout" in k),
                f"silent TLS server: a 'tls: … timeout' reason: {r.data['error_reasons']}")

# A server that goes away during the run: reconnects are refused and counted, the run completes.
tg = Target(threads=1).start()
try:
    proc_args = RUN_ARGS[:2] + ["-d3s", "--timeout", "1s", "--quiet", tg.url("/")]
    killer = threading.Timer(1.0, tg.stop)
    killer.start()
    r = run_measured(proc_args)
    killer.join()
finally:
    tg.stop()
if ran_cleanly(r, "server gone mid-run"):
    ledger_adds_up(r, "server gone mid-run")
    t.check(r.data["ledger"]["completed"] > 0, "server gone: requests before it left completed")
    t.check(r.data["errors"]["connect"] > 0, f"server gone: errors.connect counts refusals: {r.data['errors']}")
    t.check(r.data["error_reasons"].get("connect ECONNREFUSED", 0) > 0,
            f"server gone: 'connect ECONNREFUSED' reason: {r.data['error_reasons']}")
    # Reconnects back off: not a busy loop of thousands of refused connects a second.
    t.check(r.data["errors"]["connect"] < 20000, f"server gone: {r.data['errors']['connect']} connects")

# A port nobody listens on from the start: like wrk, pelt checks the address before the run and
# stops at once with exit code 1 (the run cannot happen) and a message that says what to check.
closed = free_port()
r = run_measured(RUN_ARGS + [f"http://127.0.0.1:{closed}/"])
t.equal(r.returncode, 1, "closed port: exit code 1 before any load")
t.check(f"unable to connect to 127.0.0.1:{closed}" in r.stderr and "is the server running" in r.stderr,
        f"closed port: message names the address and the likely cause: {r.stderr.strip()!r}")
t.check(r.data is None, "closed port: no run, so no JSON document")

t.finish()
