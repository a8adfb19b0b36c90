"""pelt run: executors, thresholds and exit codes, shipped scenarios, bad files, JSON schema.

Every summary a run writes is validated against docs/summary.schema.json (python3-jsonschema).
"""
import glob
import json
import os
import threading
import time
import urllib.request

import jsonschema
import pytest

from harness import SOURCE_DIR, free_port, read_json, run_pelt

with open(os.path.join(SOURCE_DIR, "docs", "summary.schema.json")) as _f:
    SCHEMA = json.load(_f)
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)

SHIPPED_QUICK = sorted(p for p in glob.glob(os.path.join(SOURCE_DIR, "scenarios", "*.toml"))
                       if p.endswith("-quick.toml"))
BAD_FILES = sorted(glob.glob(os.path.join(SOURCE_DIR, "test", "data", "config", "bad-*.toml")))


def schema_violations(data):
    """Messages for every way `data` breaks the summary schema (empty when it validates)."""
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{e.message} at /{'/'.join(str(p) for p in e.absolute_path)}" for e in errors]


def validate_summary(data, label):
    """Fails the test, listing the violations, when `data` does not validate."""
    bad = schema_violations(data)
    assert not bad, (f"{label}: summary JSON does not validate against docs/summary.schema.json:\n  "
                     + "\n  ".join(bad[:20]))


@pytest.fixture(scope="module")
def url(target):
    """pelt-target's base URL, no trailing slash."""
    return "http://127.0.0.1:%d" % target.port


def run_file(checks, tmp_path, path, target, extra=(), timeout=120):
    """`pelt run` of `path` against `target` with --summary-json into tmp_path. The summary must
    be written and validate against the schema, and its ledger must add up (a check).
    Returns (cp, data)."""
    out = str(tmp_path / ("summary-%d.json" % time.monotonic_ns()))
    cp = run_pelt(["run", path, "--target", target, "--summary-json", out, "--quiet", "--threads", "2"]
                  + list(extra), timeout=timeout)
    name = os.path.basename(path)
    data = read_json(out, f"{name}: summary JSON (exit {cp.returncode}, stderr {cp.stderr.strip()[-300:]!r})")
    validate_summary(data, name)
    led = data["ledger"]
    checks.check(led["sent"] == led["completed"] + led["failed"] + led["timed_out"] + led["in_flight"],
                 f"{name}: ledger adds up {led}")
    return cp, data


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_constant_arrival_rate(checks, url, tmp_path):
    """constant-arrival-rate: the rate lands within 2%."""
    f = write(tmp_path, "car.toml", """
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
    cp, data = run_file(checks, tmp_path, f, url)
    checks.equal(cp.returncode, 0, "constant-arrival-rate exit code")
    n = data["metrics"]["iterations"]["count"]
    checks.check(abs(n - 2000) <= 40, f"constant-arrival-rate: 2000 iterations +-2%, got {n}")
    checks.equal(data["metrics"]["dropped_iterations"]["count"], 0, "no drops when the server keeps up")


def test_ramping_vus(checks, url, tmp_path):
    """ramping-vus reaches each stage's target."""
    f = write(tmp_path, "rv.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.ramp]
executor = "ramping-vus"
start_vus = 0
stages = [ { duration = "1s", target = 4 }, { duration = "1s", target = 8 }, { duration = "1s", target = 8 }, { duration = "1s", target = 0 } ]
""")
    cp, data = run_file(checks, tmp_path, f, url + "/delay/5")
    checks.equal(cp.returncode, 0, "ramping-vus exit code")
    sc = data["scenarios"][0]
    checks.equal(sc["vus_max"], 8, "ramping-vus opened the peak number of VUs")
    st = sc["stages"]
    assert len(st) == 4, f"four stages reported: {st}"
    # with 5 ms per request, a stage at 8 VUs runs about twice the rate of one at 4 on average
    checks.check(st[2]["rps"] > st[0]["rps"] * 1.5,
                 f"stage 3 (8 VUs) faster than stage 1 (0->4): {st[2]['rps']:.0f} vs {st[0]['rps']:.0f}")
    checks.check(all(s["requests"] > 0 for s in st[:3]), "every stage saw requests")


# graceful_ramp_down: a VU the ramp-down takes away may finish its iteration within the grace;
# past it the iteration is cut, counted as interrupted, its request as in flight.
def ramp_down_toml(vus, down, grace, stop="10s", hold="0s"):
    """vus VUs for 1 s, then a linear ramp to 0 over `down` (k6's rounding: a VU leaves when the
    line reaches the number below it, so the last one stays until the ramp ends), then 0 VUs
    for `hold`."""
    return f"""
[target]
url = "http://127.0.0.1:1/"
[scenarios.down]
executor = "ramping-vus"
start_vus = {vus}
stages = [ {{ duration = "1s", target = {vus} }}, {{ duration = "{down}", target = 0 }},
           {{ duration = "{hold}", target = 0 }} ]
graceful_ramp_down = "{grace}"
graceful_stop = "{stop}"
"""


def cut_run(checks, tmp_path, url, name, text, path):
    """Runs a scenario whose iterations outlast a grace; returns (seconds, scenario, ledger)."""
    start = time.monotonic()
    cp, data = run_file(checks, tmp_path, write(tmp_path, name, text), url + path)
    checks.equal(cp.returncode, 0, f"{name}: exit code")
    checks.check("interrupted_iterations" in cp.stdout, f"{name}: the summary shows interrupted_iterations")
    return time.monotonic() - start, data["scenarios"][0], data["ledger"]


def test_graceful_ramp_down_cut(checks, url, tmp_path):
    """Each of the 4 VUs waits on one 5 s request; they leave the plan at 1.5, 2, 2.5 and 3 s
    (the last when the plan ends) and are cut 300 ms later."""
    took, sc, led = cut_run(checks, tmp_path, url, "rampdown-cut.toml",
                            ramp_down_toml(4, "2s", "300ms", stop="300ms"), "/delay/5000")
    checks.equal(sc["interrupted_iterations"], 4, "graceful_ramp_down cut: every VU's iteration interrupted")
    checks.equal((led["sent"], led["completed"], led["in_flight"]), (4, 0, 4),
                 f"graceful_ramp_down cut: the 4 unanswered requests are in flight ({led})")
    checks.check(took < 4.5,
                 f"graceful_ramp_down cut: the run ended with the plan, not the 5 s requests ({took:.1f}s)")


def test_graceful_ramp_down_grace(checks, url, tmp_path):
    """With a longer grace the same ramp-down lets every iteration finish (1.2 s requests)."""
    took, sc, led = cut_run(checks, tmp_path, url, "rampdown-grace.toml",
                            ramp_down_toml(4, "2s", "10s"), "/delay/1200")
    checks.equal(sc["interrupted_iterations"], 0, "graceful_ramp_down grace: nothing interrupted")
    checks.equal((led["failed"], led["timed_out"], led["in_flight"]), (0, 0, 0),
                 f"graceful_ramp_down grace: every request answered ({led})")
    checks.check(led["completed"] >= 4, f"graceful_ramp_down grace: requests completed ({led})")


def test_graceful_stop(checks, url, tmp_path):
    """graceful_stop: iterations still running that long after the end are cut the same way."""
    took, sc, led = cut_run(checks, tmp_path, url, "gracefulstop.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.stop]
executor = "constant-vus"
vus = 2
duration = "1s"
graceful_stop = "500ms"
""", "/delay/5000")
    checks.equal(sc["interrupted_iterations"], 2, "graceful_stop: both iterations interrupted")
    checks.equal((led["sent"], led["in_flight"]), (2, 2), f"graceful_stop: requests in flight ({led})")
    checks.check(took < 4, f"graceful_stop: the run ended 0.5 s after the plan ({took:.1f}s)")


def test_vus_count_a_ramped_down_vu_finishing(checks, url, tmp_path):
    """pelt_vus counts a VU the ramp-down took away while it finishes its iteration: the one VU
    leaves the plan at 1 s (a jump to 0, then 4 s at 0) and its 4 s request ends at 4 s. Scraped
    at 2.8 s (the served figures are up to about a second old) it still counts."""
    port = free_port()
    result = {}
    path = write(tmp_path, "rampdown-vus.toml", ramp_down_toml(1, "0s", "30s", hold="4s"))

    def run_scraped():
        try:
            result["run"] = run_file(checks, tmp_path, path, url + "/delay/4000",
                                     extra=["--metrics", f"127.0.0.1:{port}"])
        except Exception as e:  # re-raised in the test's own thread below
            result["error"] = e

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
    checks.check(len(vus) == 1 and vus[0].endswith(" 1"),
                 f"pelt_vus counts the VU finishing after its ramp-down: {vus or text[:200]}")
    if "error" in result:
        raise result["error"]
    assert "run" in result, "the run did not finish within 30 s of the scrape"
    _, data = result["run"]
    checks.equal((data["ledger"]["completed"], data["scenarios"][0]["interrupted_iterations"]),
                 (1, 0), "the ramped-down VU finished its request within the default grace")


def test_dropped_iterations(checks, url, tmp_path):
    """dropped_iterations when max_vus is too small for a slow endpoint."""
    f = write(tmp_path, "drop.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.slow]
executor = "constant-arrival-rate"
rate = 100
duration = "2s"
pre_allocated_vus = 2
max_vus = 4
""")
    cp, data = run_file(checks, tmp_path, f, url + "/delay/200")
    dropped = data["metrics"]["dropped_iterations"]["count"]
    checks.check(dropped > 100, f"dropped iterations counted ({dropped})")
    checks.equal(data["metrics"]["vus_max"]["value"], 4, "VUs grew to max_vus")


# thresholds: pass -> 0, fail -> 99; abort_on_fail stops early.
THRESHOLD_BASE = """
[target]
url = "http://127.0.0.1:1/"
[scenarios.s]
executor = "constant-vus"
vus = 4
duration = "%s"
[thresholds]
%s
"""


def test_thresholds_pass(checks, url, tmp_path):
    f = write(tmp_path, "pass.toml",
              THRESHOLD_BASE % ("2s", 'http_req_duration = ["p(95)<2000"]\nhttp_req_failed = ["rate<0.01"]'))
    cp, data = run_file(checks, tmp_path, f, url + "/")
    checks.equal(cp.returncode, 0, "passing thresholds exit 0")
    checks.check("\u2713" in cp.stdout, "summary marks passing thresholds")


def test_threshold_crossed(checks, url, tmp_path):
    f = write(tmp_path, "fail.toml", THRESHOLD_BASE % ("2s", 'http_req_duration = ["p(95)<1"]'))
    cp, data = run_file(checks, tmp_path, f, url + "/delay/20")
    checks.equal(cp.returncode, 99, "crossed threshold exits 99")
    checks.check("\u2717" in cp.stdout, "summary marks the crossed threshold")
    checks.equal(data["thresholds_ok"], False, "JSON says thresholds failed")
    checks.check(data["breaking_point"] is not None, "breaking stage reported")


def test_thresholds_by_scenario_tag(checks, url, tmp_path):
    """Thresholds filtered by the scenarios' own tags: the slow team crosses, the fast one holds."""
    f = write(tmp_path, "tags.toml", """
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
    cp, data = run_file(checks, tmp_path, f, url + "/")
    checks.equal(cp.returncode, 99, "a threshold on one team's tag is crossed: exit 99")
    by_key = {th["key"]: th for th in data["thresholds"]}
    web, shop = by_key.get("http_req_duration{team:web}"), by_key.get("http_req_duration{team:shop}")
    checks.check(web is not None and not web["ok"] and web["observed"] >= 30,
                 f"team:web takes the slow scenario's requests only: {web}")
    checks.check(shop is not None and shop["ok"] and shop["observed"] < 25,
                 f"team:shop takes the fast scenario's requests only: {shop}")
    checks.equal([sc.get("tags") for sc in data["scenarios"]], [{"team": "web"}, {"team": "shop"}],
                 "the summary lists each scenario's tags")


def test_abort_on_fail(checks, url, tmp_path):
    f = write(tmp_path, "abort.toml", THRESHOLD_BASE % (
        "20s", '"http_req_duration" = [{ threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "1s" }]'))
    start = time.time()
    cp, data = run_file(checks, tmp_path, f, url + "/delay/20")
    took = time.time() - start
    checks.equal(cp.returncode, 99, "abort_on_fail exits 99")
    checks.check(took < 10, f"abort_on_fail stopped early ({took:.1f}s)")
    checks.check(data["aborted"], "JSON says aborted")


def test_scenario_from_stdin(url):
    """pelt run - reads standard input."""
    cp = run_pelt(["run", "-", "--target", url + "/", "--quiet", "--threads", "1"],
                  input=THRESHOLD_BASE % ("1s", 'http_reqs = ["count>10"]'))
    assert cp.returncode == 0, f"pelt run - reads the file from stdin: {cp.stderr.strip()[-300:]}"


@pytest.mark.parametrize("path", SHIPPED_QUICK, ids=[os.path.basename(p) for p in SHIPPED_QUICK])
def test_shipped_quick_scenario(checks, target, url, path, tmp_path):
    """Each quick variant of a shipped scenario runs and passes its thresholds."""
    name = os.path.basename(path)
    target.reset()
    cp, data = run_file(checks, tmp_path, path, url,
                        extra=["-e", "AUTH_TOKEN=test-token", "-e", "BOOTH_ID=7"], timeout=180)
    checks.equal(cp.returncode, 0,
                 f"{name} runs and passes its thresholds: {cp.stderr.strip()[-300:]} "
                 f"{cp.stdout[-600:] if cp.returncode else ''}")
    checks.check(data["ledger"]["completed"] > 0, f"{name}: requests completed")


@pytest.mark.parametrize("path", BAD_FILES, ids=[os.path.basename(p) for p in BAD_FILES])
def test_bad_config_file(checks, target, url, path):
    """Bad files: file:line:col, exit 2, no load sent."""
    target.reset()
    cp = run_pelt(["run", path, "--target", url + "/", "--quiet"], timeout=30)
    name = os.path.basename(path)
    checks.equal(cp.returncode, 2, f"{name}: exit code")
    checks.check(f"{name}:" in cp.stderr, f"{name}: message names the file: {cp.stderr.strip()}")
    checks.equal(target.stats()["requests"], 0, f"{name}: no load sent")


def test_schema_catches_a_broken_summary(checks, url, tmp_path):
    """The schema check can fail: a real summary validates, the same summary with a required
    field missing or a count of the wrong type does not."""
    f = write(tmp_path, "short.toml", THRESHOLD_BASE % ("300ms", ""))
    _, data = run_file(checks, tmp_path, f, url + "/")
    missing = dict(data)
    del missing["ledger"]
    assert schema_violations(missing), "a summary without `ledger` must not validate"
    wrong = json.loads(json.dumps(data))
    wrong["ledger"]["sent"] = "many"
    assert schema_violations(wrong), "a summary with a string count must not validate"
