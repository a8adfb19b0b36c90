"""Ctrl-C and SIGTERM stop the run, and the summary and every requested output still appear."""
import signal
import subprocess
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


def test_second_sigint_leaves_at_once(target, tmp_path):
    """A second Ctrl-C leaves at once; no JSON document is expected."""
    code, out, err, _, took = interrupted_run(tmp_path, ["-t1", "-c2", "-d60s", target.url("/")],
                                              signal.SIGINT, second=True)
    assert code != 0 and took < 3, f"second SIGINT exits at once (code {code}, {took:.1f}s)"
