"""pelt run: executors, thresholds and exit codes, shipped scenarios, bad files, JSON schema."""
import glob
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, Target, TestCase, free_port, run_pelt  # noqa: E402

try:
    import jsonschema
except ImportError:  # the suite installs python3-jsonschema; say so rather than skip silently
    jsonschema = None

t = TestCase("scenarios")
tmp = tempfile.mkdtemp(prefix="pelt-scen-")
with open(os.path.join(SOURCE_DIR, "docs", "summary.schema.json")) as f:
    SCHEMA = json.load(f)


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_file(path, target, extra=(), timeout=120):
    out = os.path.join(tmp, "summary-%d.json" % time.monotonic_ns())
    cp = run_pelt(["run", path, "--target", target, "--summary-json", out, "--quiet", "--threads", "2"]
                  + list(extra), timeout=timeout)
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
        if t.check(jsonschema is not None, "python3-jsonschema is installed"):
            try:
                jsonschema.validate(data, SCHEMA)
                t.check(True, "summary validates")
            except jsonschema.ValidationError as e:
                t.check(False, f"{path}: summary JSON does not validate: {e.message} at {list(e.path)}")
        led = data["ledger"]
        t.check(led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"],
                f"{os.path.basename(path)}: ledger adds up {led}")
    return cp, data


with Target(threads=1) as tg:
    url = "http://127.0.0.1:%d" % tg.port

    # constant-arrival-rate: the rate lands within 2%.
    f = write("car.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.steady]
executor = "constant-arrival-rate"
rate = 400
time_unit = "1s"
duration = "5s"
pre_allocated_vus = 10
max_vus = 50
""")
    cp, data = run_file(f, url)
    t.equal(cp.returncode, 0, "constant-arrival-rate exit code")
    if data:
        n = data["metrics"]["iterations"]["count"]
        t.check(abs(n - 2000) <= 40, f"constant-arrival-rate: 2000 iterations +-2%, got {n}")
        t.equal(data["metrics"]["dropped_iterations"]["count"], 0, "no drops when the server keeps up")

    # ramping-vus reaches each stage's target.
    f = write("rv.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.ramp]
executor = "ramping-vus"
start_vus = 0
stages = [ { duration = "1s", target = 4 }, { duration = "1s", target = 8 }, { duration = "1s", target = 8 }, { duration = "1s", target = 0 } ]
""")
    cp, data = run_file(f, url + "/delay/5")
    t.equal(cp.returncode, 0, "ramping-vus exit code")
    if data:
        sc = data["scenarios"][0]
        t.equal(sc["vus_max"], 8, "ramping-vus opened the peak number of VUs")
        st = sc["stages"]
        t.equal(len(st), 4, "four stages reported")
        # with 5 ms per request, a stage at 8 VUs runs about twice the rate of one at 4 on average
        t.check(st[2]["rps"] > st[0]["rps"] * 1.5, f"stage 3 (8 VUs) faster than stage 1 (0->4): {st[2]['rps']:.0f} vs {st[0]['rps']:.0f}")
        t.check(all(s["requests"] > 0 for s in st[:3]), "every stage saw requests")

    # graceful_ramp_down: a VU the ramp-down takes away may finish its iteration within the
    # grace; past it the iteration is cut, counted as interrupted, its request as in flight.
    # Each of the 4 VUs waits on one 5 s request; the last one leaves the plan at 2.5 s.
    def ramp_down_toml(vus, down, grace):
        """vus VUs for 1 s, then a linear ramp to 0 over `down`."""
        return f"""
[target]
url = "http://127.0.0.1:1/"
[scenarios.down]
executor = "ramping-vus"
start_vus = {vus}
stages = [ {{ duration = "1s", target = {vus} }}, {{ duration = "{down}", target = 0 }} ]
graceful_ramp_down = "{grace}"
graceful_stop = "10s"
"""
    def cut_run(name, text, path):
        """Runs a scenario whose iterations outlast a grace; returns (seconds, scenario, ledger)."""
        start = time.monotonic()
        cp, data = run_file(write(name, text), url + path)
        t.equal(cp.returncode, 0, f"{name}: exit code")
        t.check("interrupted_iterations" in cp.stdout, f"{name}: the summary shows interrupted_iterations")
        if not data:
            return None, None, None
        return time.monotonic() - start, data["scenarios"][0], data["ledger"]

    took, sc, led = cut_run("rampdown-cut.toml", ramp_down_toml(4, "2s", "300ms"), "/delay/5000")
    if sc:
        t.equal(sc["interrupted_iterations"], 4, "graceful_ramp_down cut: every VU's iteration interrupted")
        t.equal((led["sent"], led["completed"], led["in_flight"]), (4, 0, 4),
                f"graceful_ramp_down cut: the 4 unanswered requests are in flight ({led})")
        t.check(took < 4.5, f"graceful_ramp_down cut: the run ended with the plan, not the 5 s requests ({took:.1f}s)")
    # With a longer grace the same ramp-down lets every iteration finish (1.2 s requests).
    took, sc, led = cut_run("rampdown-grace.toml", ramp_down_toml(4, "2s", "10s"), "/delay/1200")
    if sc:
        t.equal(sc["interrupted_iterations"], 0, "graceful_ramp_down grace: nothing interrupted")
        t.equal((led["failed"], led["timed_out"], led["in_flight"]), (0, 0, 0),
                f"graceful_ramp_down grace: every request answered ({led})")
        t.check(led["completed"] >= 4, f"graceful_ramp_down grace: requests completed ({led})")
    # graceful_stop: iterations still running that long after the end are cut the same way.
    took, sc, led = cut_run("gracefulstop.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.stop]
executor = "constant-vus"
vus = 2
duration = "1s"
graceful_stop = "500ms"
""", "/delay/5000")
    if sc:
        t.equal(sc["interrupted_iterations"], 2, "graceful_stop: both iterations interrupted")
        t.equal((led["sent"], led["in_flight"]), (2, 2), f"graceful_stop: requests in flight ({led})")
        t.check(took < 4, f"graceful_stop: the run ended 0.5 s after the plan ({took:.1f}s)")

    # pelt_vus counts a VU the ramp-down took away while it finishes its iteration: the one VU
    # leaves the plan at 1 s and its 4 s request ends at 4 s. Scraped at 2.8 s (the served figures
    # are up to about a second old) it still counts.
    port = free_port()
    result = {}
    def run_scraped():
        result["cp"], result["data"] = run_file(write("rampdown-vus.toml", ramp_down_toml(1, "4s", "30s")),
                                                url + "/delay/4000", extra=["--metrics", f"127.0.0.1:{port}"])

    th = threading.Thread(target=run_scraped)
    th.start()
    time.sleep(2.8)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError as e:
        text = f"scrape failed: {e}"
    th.join(30)
    vus = [line for line in text.splitlines() if line.startswith("pelt_vus{")]
    t.check(len(vus) == 1 and vus[0].endswith(" 1"), f"pelt_vus counts the VU finishing after its ramp-down: {vus or text[:200]}")
    if result.get("data"):
        t.equal((result["data"]["ledger"]["completed"], result["data"]["scenarios"][0]["interrupted_iterations"]),
                (1, 0), "the ramped-down VU finished its request within the default grace")

    # dropped_iterations when max_vus is too small for a slow endpoint.
    f = write("drop.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.slow]
executor = "constant-arrival-rate"
rate = 100
duration = "2s"
pre_allocated_vus = 2
max_vus = 4
""")
    cp, data = run_file(f, url + "/delay/200")
    if data:
        dropped = data["metrics"]["dropped_iterations"]["count"]
        t.check(dropped > 100, f"dropped iterations counted ({dropped})")
        t.equal(data["metrics"]["vus_max"]["value"], 4, "VUs grew to max_vus")

    # thresholds: pass -> 0, fail -> 99; abort_on_fail stops early.
    base = """
[target]
url = "http://127.0.0.1:1/"
[scenarios.s]
executor = "constant-vus"
vus = 4
duration = "%s"
[thresholds]
%s
"""
    f = write("pass.toml", base % ("2s", 'http_req_duration = ["p(95)<2000"]\nhttp_req_failed = ["rate<0.01"]'))
    cp, data = run_file(f, url + "/")
    t.equal(cp.returncode, 0, "passing thresholds exit 0")
    t.check("\u2713" in cp.stdout, "summary marks passing thresholds")
    f = write("fail.toml", base % ("2s", 'http_req_duration = ["p(95)<1"]'))
    cp, data = run_file(f, url + "/delay/20")
    t.equal(cp.returncode, 99, "crossed threshold exits 99")
    t.check("\u2717" in cp.stdout, "summary marks the crossed threshold")
    if data:
        t.equal(data["thresholds_ok"], False, "JSON says thresholds failed")
        t.check(data["breaking_point"] is not None, "breaking stage reported")
    # Thresholds filtered by the scenarios' own tags: the slow team crosses, the fast one holds.
    f = write("tags.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.slow]
executor = "constant-vus"
vus = 2
duration = "2s"
path = "/delay/30"
tags = { team = "web" }
[scenarios.fast]
executor = "constant-vus"
vus = 2
duration = "2s"
path = "/"
tags = { team = "shop" }
[thresholds]
"http_req_duration{team:web}" = ["p(95)<25"]
"http_req_duration{team:shop}" = ["p(95)<25"]
""")
    cp, data = run_file(f, url + "/")
    t.equal(cp.returncode, 99, "a threshold on one team's tag is crossed: exit 99")
    if data:
        by_key = {th["key"]: th for th in data["thresholds"]}
        web, shop = by_key.get("http_req_duration{team:web}"), by_key.get("http_req_duration{team:shop}")
        t.check(web is not None and not web["ok"] and web["observed"] >= 30,
                f"team:web takes the slow scenario's requests only: {web}")
        t.check(shop is not None and shop["ok"] and shop["observed"] < 25,
                f"team:shop takes the fast scenario's requests only: {shop}")
        t.equal([sc.get("tags") for sc in data["scenarios"]], [{"team": "web"}, {"team": "shop"}],
                "the summary lists each scenario's tags")
    f = write("abort.toml", base % ("20s", '"http_req_duration" = [{ threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "1s" }]'))
    start = time.time()
    cp, data = run_file(f, url + "/delay/20")
    t.equal(cp.returncode, 99, "abort_on_fail exits 99")
    t.check(time.time() - start < 10, f"abort_on_fail stopped early ({time.time() - start:.1f}s)")
    if data:
        t.check(data["aborted"], "JSON says aborted")

    # pelt run - reads standard input.
    cp = run_pelt(["run", "-", "--target", url + "/", "--quiet", "--threads", "1"],
                  input=base % ("1s", 'http_reqs = ["count>10"]'))
    t.equal(cp.returncode, 0, "pelt run - reads the file from stdin")

    # Every shipped scenario parses, and each quick variant runs.
    for path in sorted(glob.glob(os.path.join(SOURCE_DIR, "scenarios", "*.toml"))):
        name = os.path.basename(path)
        if name.endswith("-quick.toml"):
            tg.reset()
            cp, data = run_file(path, url, extra=["-e", "AUTH_TOKEN=test-token", "-e", "BOOTH_ID=7"], timeout=180)
            t.equal(cp.returncode, 0, f"{name} runs and passes its thresholds: {cp.stderr.strip()[-300:]} {cp.stdout[-600:] if cp.returncode else ''}")
            if data:
                t.check(data["ledger"]["completed"] > 0, f"{name}: requests completed")

    # Bad files: file:line:col, exit 2, no load sent.
    for path in sorted(glob.glob(os.path.join(SOURCE_DIR, "test", "data", "config", "bad-*.toml"))):
        tg.reset()
        cp = run_pelt(["run", path, "--target", url + "/", "--quiet"], timeout=30)
        name = os.path.basename(path)
        t.equal(cp.returncode, 2, f"{name}: exit code")
        t.check(f"{name}:" in cp.stderr, f"{name}: message names the file: {cp.stderr.strip()}")
        t.equal(tg.stats()["requests"], 0, f"{name}: no load sent")

t.finish()
