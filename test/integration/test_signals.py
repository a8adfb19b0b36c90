"""Ctrl-C and SIGTERM stop the run, and the summary and every requested output still appear."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Target, TestCase  # noqa: E402

t = TestCase("signals")
tmp = tempfile.mkdtemp(prefix="pelt-sig-")


def interrupted_run(args, sig, after=1.5, second=False):
    out = os.path.join(tmp, f"out-{time.monotonic_ns()}.json")
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
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
    return proc.returncode, stdout, stderr, data, took


with Target() as tg:
    url = tg.url("/")
    for sig in (signal.SIGINT, signal.SIGTERM):
        code, out, err, data, took = interrupted_run(["-t2", "-c4", "-d60s", url], sig)
        name = signal.Signals(sig).name
        t.equal(code, 0, f"{name}: exit code after a graceful stop")
        t.check(took < 5, f"{name}: stopped within 5 s ({took:.1f}s)")
        t.check("Requests/sec:" in out, f"{name}: summary printed")
        t.check(data is not None and data["interrupted"], f"{name}: JSON written and marked interrupted")
        if data:
            led = data["ledger"]
            t.check(led["completed"] > 0, f"{name}: requests before the stop are kept")
            t.check(led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"],
                    f"{name}: ledger adds up {led}")
            t.check(data["duration_seconds"] < 10, f"{name}: duration covers the run until the stop")

    # A crossed threshold on the data so far still gives 99 after Ctrl-C.
    scen = os.path.join(tmp, "s.toml")
    with open(scen, "w") as f:
        f.write('[target]\nurl = "%s"\n[scenarios.s]\nexecutor = "constant-vus"\nvus = 2\nduration = "1m"\n'
                '[thresholds]\nhttp_req_duration = ["p(99)<1"]\n' % tg.url("/delay/10"))
    code, out, err, data, took = interrupted_run(["run", scen, "--quiet", "--threads", "1"], signal.SIGINT)
    t.equal(code, 99, "interrupted scenario run: thresholds decide the exit code")
    t.check(data is not None and data["interrupted"], "interrupted scenario run: JSON written")

    # A second Ctrl-C leaves at once.
    code, out, err, data, took = interrupted_run(["-t1", "-c2", "-d60s", url], signal.SIGINT, second=True)
    t.check(code != 0 and took < 3, f"second SIGINT exits at once (code {code}, {took:.1f}s)")

t.finish()
