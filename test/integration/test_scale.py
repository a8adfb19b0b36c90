"""Scale: as many concurrent keep-alive connections as the file-descriptor limit allows.

The hard limit here is 20,000 descriptors per process (`ulimit -Hn`). pelt holds 19,000 (or the
hard limit less 1,000, when lower) keep-alive connections from two threads and two source
addresses to pelt-target for 10 s. A delay() script keeps the request rate low: each connection
first waits a random 0-1 s (so the connects do not all arrive in the same millisecond), then
sends one request every 5 s. Checked: no errors of any kind, pelt's peak RSS under 120 MB
(os.wait4's rusage), pelt-target holding the connections too (its /stats connections_open
sampled mid-run), and that asking for more connections than the limit allows exits 2 with the
fix in the message.
"""
import os
import resource
import subprocess
import time

import pytest

from harness import BIN, SANITIZED, Target, read_json, run_pelt

SOURCES = "127.0.0.2,127.0.0.3"
RUN_S = int(os.environ.get("PELT_SCALE_SECONDS", "10"))  # seconds the connections are held
RSS_LIMIT_MB = 120         # pelt's peak resident set at this many connections
FD_HEADROOM = 1000         # descriptors left for pelt's own files and pelt-target's listeners

IDLE_SCRIPT = """
-- The first call per VU spreads the connects over a second; afterwards one request every 5 s.
local calls = 0
local per_thread = tonumber(os.getenv("PELT_SCALE_PER_THREAD")) or 10000
function delay()
  calls = calls + 1
  if calls <= per_thread then return math.random(0, 1000) end
  return 5000
end
"""


@pytest.fixture(scope="module")
def hard_limit():
    """The descriptor hard limit (20,000 when there is none). pelt-target and pelt both need one
    descriptor per connection: the soft limit is raised to the hard limit for the children (each
    process has its own table, so both fit under the same hard limit), and restored after."""
    soft, hard_before = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = 20000 if hard_before == resource.RLIM_INFINITY else hard_before
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard_before))
    except (ValueError, OSError):  # a lowered hard limit cannot be raised again without root
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))


@pytest.fixture(scope="module")
def target2(hard_limit):
    """pelt-target with two threads, started after the soft limit was raised."""
    with Target(threads=2) as tg:
        yield tg


def test_hold_connections(checks, target2, hard_limit, tmp_path):
    connections = min(19000, hard_limit - FD_HEADROOM)
    script = tmp_path / "idle.lua"
    script.write_text(IDLE_SCRIPT)
    out_json = tmp_path / "scale.json"
    env = dict(os.environ, PELT_SCALE_PER_THREAD=str(connections // 2))
    cmd = [BIN, "-t2", "-c", str(connections), "-d", f"{RUN_S}s", "--timeout", "5s",
           "--source", SOURCES, "-s", str(script), "--json", str(out_json), target2.url("/")]
    started = time.monotonic()
    with open(tmp_path / "stdout", "w+") as so, open(tmp_path / "stderr", "w+") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, env=env)
        # Sample the target while the connections are held (all connected after ~1-3 s).
        peak_open = 0
        deadline = started + RUN_S - 1.5
        time.sleep(3)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                peak_open = max(peak_open, target2.stats()["connections_open"])
            except OSError:
                pass
            if peak_open >= connections:
                break
            time.sleep(0.5)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        took = time.monotonic() - started
        se.seek(0)
        stderr = se.read()
    checks.equal(proc.returncode, 0, f"pelt -c {connections} exit code (stderr {stderr[-400:]!r})")
    checks.check(took < RUN_S + 20, f"the run ended in time ({took:.1f}s)")
    checks.check(peak_open >= connections, f"pelt-target held {peak_open} of {connections} connections")
    rss_mb = usage.ru_maxrss / 1024.0
    checks.check(SANITIZED or rss_mb < RSS_LIMIT_MB, f"pelt peak RSS {rss_mb:.1f} MB < {RSS_LIMIT_MB} MB")
    print(f"scale: {connections} connections, pelt peak RSS {rss_mb:.1f} MB, "
          f"CPU {usage.ru_utime + usage.ru_stime:.2f} s, target peak open {peak_open}")
    data = read_json(out_json, "JSON summary")
    led = data["ledger"]
    errs = data["errors"]
    checks.equal(sum(errs.values()), 0, f"no errors ({errs}, {data['error_reasons']})")
    checks.equal(led["failed"] + led["timed_out"], 0, f"no failed or timed-out requests ({led})")
    checks.equal(data["connects"], connections, "one connect per connection, no reconnects")
    checks.equal(data["reconnects"], 0, "no reconnects")
    # Every VU sent its first request within ~1 s and then one every 5 s.
    checks.check(led["completed"] >= connections, f"every connection completed requests ({led['completed']})")


def test_above_the_hard_limit(checks, target2, hard_limit):
    """Above the hard limit: exit 2 and the message says how to fix it."""
    too_many = hard_limit + 1000
    cp = run_pelt(["-t2", "-c", str(too_many), "-d1s", target2.url("/")], timeout=30)
    checks.equal(cp.returncode, 2, f"-c {too_many} above the descriptor limit exits 2")
    checks.check("hard limit" in cp.stderr and "ulimit -Hn" in cp.stderr and "lower -c" in cp.stderr,
                 f"the message names the limit and the fix ({cp.stderr.strip()!r})")
