"""Ctrl-C and SIGTERM stop the run, and the summary and every requested output still appear."""
import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time

import pytest

from harness import BIN, read_json


def interrupted_run(tmp_path, args, sig, after=1.5, second=False):
    """Runs pelt with --json, sends `sig` after `after` seconds (twice with `second`).
    Returns (exit code, stdout, stderr, path of the JSON document, seconds from the signal)."""
    out = str(tmp_path / f"out-{time.monotonic_ns()}.json")
    proc = subprocess.Popen([BIN] + args + ["--json", out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    start = time.time()
    proc.send_signal(sig)
    if second:
        time.sleep(0.05)
        proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    took = time.time() - start
    return proc.returncode, stdout, stderr, out, took


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_graceful_stop(checks, target, tmp_path, sig):
    name = signal.Signals(sig).name
    code, out, err, json_path, took = interrupted_run(tmp_path, ["-t2", "-c4", "-d60s", target.url("/")], sig)
    checks.equal(code, 0, f"{name}: exit code after a graceful stop")
    checks.check(took < 5, f"{name}: stopped within 5 s ({took:.1f}s)")
    checks.check("Requests/sec:" in out, f"{name}: summary printed")
    data = read_json(json_path, f"{name}: JSON document (stderr {err.strip()[-300:]!r})")
    checks.check(data["interrupted"], f"{name}: JSON marked interrupted")
    led = data["ledger"]
    checks.check(led["completed"] > 0, f"{name}: requests before the stop are kept")
    checks.check(led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"],
                 f"{name}: ledger adds up {led}")
    checks.check(data["duration_seconds"] < 10, f"{name}: duration covers the run until the stop")


def test_interrupted_scenario_thresholds_decide(checks, target, tmp_path):
    """A crossed threshold on the data so far still gives 99 after Ctrl-C."""
    scen = tmp_path / "s.toml"
    scen.write_text('[target]\nurl = "%s"\n[scenarios.s]\nexecutor = "constant-vus"\nvus = 2\n'
                    'duration = "1m"\n[thresholds]\nhttp_req_duration = ["p(99)<1"]\n'
                    % target.url("/delay/10"))
    code, out, err, json_path, took = interrupted_run(
        tmp_path, ["run", str(scen), "--quiet", "--threads", "1"], signal.SIGINT)
    checks.equal(code, 99, "interrupted scenario run: thresholds decide the exit code")
    data = read_json(json_path, f"interrupted scenario run: JSON document (stderr {err.strip()[-300:]!r})")
    checks.check(data["interrupted"], "interrupted scenario run: JSON marked interrupted")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_repeated_signal_from_kill_still_writes_every_output(checks, target, tmp_path, sig):
    """CI runners stop a job with `timeout`, which may send SIGTERM twice in quick succession;
    scripts send SIGINT with kill. Neither may lose the summary or the JSON: only a second
    Ctrl-C typed at a terminal skips them."""
    name = signal.Signals(sig).name
    for attempt in range(5):
        code, out, err, json_path, took = interrupted_run(
            tmp_path, ["-t2", "-c2", "-d60s", target.url("/")], sig, after=0.5 + 0.1 * attempt,
            second=True)
        checks.equal(code, 0, f"{name} twice (attempt {attempt}): exit code (stderr {err[-200:]!r})")
        checks.check(took < 5, f"{name} twice (attempt {attempt}): outputs within 5 s ({took:.1f}s)")
        checks.check("Requests/sec:" in out, f"{name} twice (attempt {attempt}): summary printed")
        checks.check("interrupted again" not in err, f"{name} twice (attempt {attempt}): not a quick exit")
        data = read_json(json_path, f"{name} twice (attempt {attempt}): JSON document")
        checks.check(data["interrupted"], f"{name} twice (attempt {attempt}): JSON marked interrupted")


def run_on_terminal(args, keys_at):
    """Runs pelt on a pseudo-terminal of its own (a new session whose controlling terminal it
    is) and types each (seconds, bytes) of keys_at; "\\x03" is Ctrl-C, which the terminal driver
    turns into SIGINT. Returns (exit code, everything pelt wrote, seconds from the last key)."""
    master, slave = pty.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([BIN] + args, stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=controlling_terminal, close_fds=True)
    os.close(slave)
    output = bytearray()
    start = time.monotonic()
    last_key = start
    pending = list(keys_at)
    while True:
        now = time.monotonic()
        if pending and now - start >= pending[0][0]:
            os.write(master, pending.pop(0)[1])
            last_key = now
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            output.extend(chunk)
            if not chunk and proc.poll() is not None:
                break
        elif proc.poll() is not None and not pending:
            break
        if now - start > 30:
            proc.kill()
            break
    proc.wait()
    os.close(master)
    return proc.returncode, output.decode(errors="replace"), time.monotonic() - last_key


def stuck_script(tmp_path):
    """A script whose request() keeps its worker busy for 20 s: a stop takes the 2 s grace."""
    script = tmp_path / "stuck.lua"
    script.write_text("local n = 0\n"
                      "request = function()\n"
                      "  n = n + 1\n"
                      "  if n > 50 then local t = os.clock() while os.clock() - t < 20 do end end\n"
                      "  return wrk.format('GET', '/')\n"
                      "end\n")
    return str(script)


def test_second_ctrl_c_at_a_terminal_leaves_at_once(checks, target, tmp_path):
    """Ctrl-C at a terminal stops the run; typed again a second or more later, while pelt still
    waits for a stuck worker, it leaves at once with 130 and no summary."""
    json_path = tmp_path / "twice.json"
    code, out, took = run_on_terminal(["-t1", "-c1", "-d60s", "-s", stuck_script(tmp_path),
                                       "--json", str(json_path), target.url("/")],
                                      [(1.0, b"\x03"), (2.2, b"\x03")])
    checks.equal(code, 130, f"second Ctrl-C: exit code (output {out[-300:]!r})")
    checks.check("interrupted again" in out, "second Ctrl-C: says so")
    checks.check(took < 2, f"second Ctrl-C: leaves at once ({took:.1f}s)")
    checks.check(not json_path.exists(), "second Ctrl-C: no JSON document")


def test_a_stuck_worker_does_not_hold_up_the_outputs(checks, target, tmp_path):
    """A worker that does not stop (a script busy for 20 s) holds up nothing: 2 s after the
    signal the summary and the JSON are written, with that worker's last published figures."""
    json_path = tmp_path / "stuck.json"
    start = time.monotonic()
    code, out, took = run_on_terminal(["-t2", "-c2", "-d60s", "-s", stuck_script(tmp_path),
                                       "--json", str(json_path), target.url("/")],
                                      [(1.0, b"\x03")])
    checks.equal(code, 0, f"stuck worker: exit code (output {out[-300:]!r})")
    checks.check(took < 4, f"stuck worker: outputs within 4 s of the signal ({took:.1f}s)")
    checks.check("did not stop in time" in out, "stuck worker: says so")
    data = read_json(json_path, "stuck worker: JSON document")
    checks.check(data["interrupted"], "stuck worker: JSON marked interrupted")


def test_ctrl_c_once_at_a_terminal_writes_the_outputs(checks, target, tmp_path):
    json_path = tmp_path / "once.json"
    code, out, took = run_on_terminal(["-t1", "-c2", "-d60s", "--json", str(json_path), target.url("/")],
                                      [(1.0, b"\x03")])
    checks.equal(code, 0, f"one Ctrl-C: exit code (output {out[-300:]!r})")
    checks.check("Requests/sec:" in out, "one Ctrl-C: summary printed")
    data = read_json(json_path, "one Ctrl-C: JSON document")
    checks.check(data["interrupted"], "one Ctrl-C: JSON marked interrupted")


def test_one_signal_is_handled_once_every_time(checks, target, tmp_path):
    """One SIGINT, ten runs in a row: every run writes its summary and JSON (a single signal
    once counted twice in some runs and skipped every output)."""
    for attempt in range(10):
        code, out, err, json_path, took = interrupted_run(
            tmp_path, ["-t2", "-c4", "-d30s", target.url("/")], signal.SIGINT, after=0.3 + 0.05 * attempt)
        checks.equal(code, 0, f"run {attempt}: exit code (stderr {err[-200:]!r})")
        checks.check("interrupted again" not in err, f"run {attempt}: counted once")
        checks.check("Requests/sec:" in out, f"run {attempt}: summary")
        read_json(json_path, f"run {attempt}: JSON document")
