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
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SANITIZED, Target, TestCase, run_pelt  # noqa: E402

t = TestCase("scale")
SOURCES = "127.0.0.2,127.0.0.3"
RUN_S = int(os.environ.get("PELT_SCALE_SECONDS", "10"))  # seconds the connections are held
RSS_LIMIT_MB = 120         # pelt's peak resident set at this many connections
FD_HEADROOM = 1000         # descriptors left for pelt's own files and pelt-target's listeners

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard == resource.RLIM_INFINITY:
    hard = 20000
connections = min(19000, hard - FD_HEADROOM)
# pelt-target and pelt both need one descriptor per connection: raise the soft limit for the
# children (each process has its own table, so both fit under the same hard limit).
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

tmp = tempfile.mkdtemp(prefix="pelt-scale-")
script = os.path.join(tmp, "idle.lua")
with open(script, "w") as f:
    f.write("""
-- The first call per VU spreads the connects over a second; afterwards one request every 5 s.
local calls = 0
local per_thread = tonumber(os.getenv("PELT_SCALE_PER_THREAD")) or 10000
function delay()
  calls = calls + 1
  if calls <= per_thread then return math.random(0, 1000) end
  return 5000
end
""")

with Target(threads=2) as tg:
    out_json = os.path.join(tmp, "scale.json")
    env = dict(os.environ, PELT_SCALE_PER_THREAD=str(connections // 2))
    cmd = [BIN, "-t2", "-c", str(connections), "-d", f"{RUN_S}s", "--timeout", "5s",
           "--source", SOURCES, "-s", script, "--json", out_json, tg.url("/")]
    started = time.monotonic()
    with open(os.path.join(tmp, "stdout"), "w+") as so, open(os.path.join(tmp, "stderr"), "w+") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, env=env)
        # Sample the target while the connections are held (all connected after ~1-3 s).
        peak_open = 0
        deadline = started + RUN_S - 1.5
        time.sleep(3)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                peak_open = max(peak_open, tg.stats()["connections_open"])
            except OSError:
                pass
            if peak_open >= connections:
                break
            time.sleep(0.5)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except ChildProcessError:
            status, usage = None, None
        proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else -1
        took = time.monotonic() - started
        se.seek(0)
        stderr = se.read()
    t.equal(proc.returncode, 0, f"pelt -c {connections} exit code (stderr {stderr[-400:]!r})")
    t.check(took < RUN_S + 20, f"the run ended in time ({took:.1f}s)")
    t.check(peak_open >= connections, f"pelt-target held {peak_open} of {connections} connections")
    if usage is not None:
        rss_mb = usage.ru_maxrss / 1024.0
        t.check(SANITIZED or rss_mb < RSS_LIMIT_MB, f"pelt peak RSS {rss_mb:.1f} MB < {RSS_LIMIT_MB} MB")
        print(f"scale: {connections} connections, pelt peak RSS {rss_mb:.1f} MB, "
              f"CPU {usage.ru_utime + usage.ru_stime:.2f} s, target peak open {peak_open}")
    data = None
    try:
        with open(out_json) as f:
            data = json.load(f)
    except (OSError, ValueError):
        pass
    if t.check(data is not None, "JSON summary written"):
        led = data["ledger"]
        errs = data["errors"]
        t.equal(sum(errs.values()), 0, f"no errors ({errs}, {data['error_reasons']})")
        t.equal(led["failed"] + led["timed_out"], 0, f"no failed or timed-out requests ({led})")
        t.equal(data["connects"], connections, "one connect per connection, no reconnects")
        t.equal(data["reconnects"], 0, "no reconnects")
        # Every VU sent its first request within ~1 s and then one every 5 s.
        t.check(led["completed"] >= connections, f"every connection completed requests ({led['completed']})")

    # Above the hard limit: exit 2 and the message says how to fix it.
    too_many = hard + 1000
    cp = run_pelt(["-t2", "-c", str(too_many), "-d1s", tg.url("/")], timeout=30)
    t.equal(cp.returncode, 2, f"-c {too_many} above the descriptor limit exits 2")
    t.check("hard limit" in cp.stderr and "ulimit -Hn" in cp.stderr and "lower -c" in cp.stderr,
            f"the message names the limit and the fix ({cp.stderr.strip()!r})")

t.finish()
