"""The synchronized start of a fleet's instances: --paused connects first, answers GET /ready and
starts on POST /start with the token from $PELT_CONTROL_TOKEN (a wrong token is refused);
--start-at waits for a wall-clock time; /metrics carries the instance label; bad values are
usage errors."""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import harness

TOKEN = "fleet-test-token-0123456789"


def post_start(port, token):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/start", data=b"", method="POST",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_ready(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            time.sleep(0.05)
    return False


def test_paused_connects_then_starts_on_the_signal(checks, target, tmp_path):
    port = harness.free_port()
    out = tmp_path / "s.json"
    env = dict(os.environ, PELT_CONTROL_TOKEN=TOKEN)
    before = target.stats()
    proc = subprocess.Popen([harness.BIN, "-t1", "-c3", "-d1s", "--paused", "--control", f"127.0.0.1:{port}",
                             "--instance", "paused-one", "--json", str(out), target.url("/")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        checks.check(wait_ready(port, proc), "GET /ready answers while paused")
        time.sleep(0.3)
        mid = target.stats()
        checks.equal(mid["requests"] - before["requests"], 0, "no request before the start")
        checks.check(mid["connections_open"] - before["connections_open"] >= 3,
                     f"the 3 connections are open before the start: {mid}")
        checks.equal(post_start(port, "wrong-token-wrong-token"), 401, "a wrong token is refused")
        time.sleep(0.3)
        checks.equal(target.stats()["requests"] - before["requests"], 0, "still paused after a refused start")
        signalled = time.time()
        checks.equal(post_start(port, TOKEN), 202, "the start is accepted")
        out_text, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    checks.equal(proc.returncode, 0, f"exit: {err[-800:]}")
    doc = harness.read_json(str(out), "summary")
    checks.check(doc["ledger"]["sent"] > 0, "it ran after the start")
    checks.check(abs(doc["fleet"]["start_unix_ms"] / 1000.0 - signalled) < 0.5,
                 f"started when signalled: {doc['fleet']['start_unix_ms']} vs {signalled:.3f}")
    checks.equal(doc["fleet"]["instance"], "paused-one", "instance name")
    checks.equal(doc["connects"], 3, "the prewarmed connections served the run")


def test_start_at_waits_for_the_wall_clock(checks, target, tmp_path):
    out = tmp_path / "s.json"
    start = time.time() + 1.5
    cp = harness.run_pelt(["-t1", "-c2", "-d500ms", "--start-at", f"@{start:.3f}", "--json", str(out),
                           target.url("/")], timeout=30)
    checks.equal(cp.returncode, 0, f"exit: {cp.stderr[-800:]}")
    doc = harness.read_json(str(out), "summary")
    began = doc["fleet"]["start_unix_ms"] / 1000.0
    # (start_unix_ms is whole milliseconds, the time asked for is rounded to one)
    checks.check(-0.002 <= began - start < 0.05, f"started at {began:.3f}, asked for {start:.3f}")


def test_usage_errors(checks, target):
    for args, needle in [
        (["--paused"], "PELT_CONTROL_TOKEN"),
        (["--start-at", "tomorrow"], "bad --start-at"),
        (["--start-at", "2026-03-01T12:00:00"], "must end in Z"),
        (["--segment", "4/4"], "I must be below N"),
        (["--segment", "x"], "bad segment"),
        (["-c", "3", "--segment", "3/4"], "leaves no connection to segment 3/4"),
    ]:
        env = {"PELT_CONTROL_TOKEN": ""}
        cp = harness.run_pelt(["-t1", "-d200ms", *args, target.url("/")], timeout=30, env=env)
        checks.equal(cp.returncode, 2, f"{args}: exit")
        checks.check(needle in cp.stderr, f"{args}: {needle!r} in {cp.stderr.strip()!r}")


def test_metrics_carry_the_instance_label(checks, target):
    port = harness.free_port()
    proc = subprocess.Popen([harness.BIN, "-t1", "-c2", "-d3s", "--segment", "1/2", "--run-id", "fleet-x",
                             "--metrics", f"127.0.0.1:{port}", "--metrics-linger", "0s", target.url("/")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        harness.wait_for_port(port, 10)
        time.sleep(1.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        proc.communicate(timeout=30)
    lines = [l for l in text.splitlines() if l.startswith("pelt_http_requests_total{")]
    checks.check(lines, "requests are exported")
    checks.check(all('instance="segment-1-of-2"' in l and 'run_id="fleet-x"' in l for l in lines),
                 f"instance and run_id labels: {lines[:2]}")
