"""capacity-search against pelt-target's /pool (--pool SLOTS:MS: a known capacity of
SLOTS*1000/MS requests per second, FIFO beyond): the search must find it within 10% for two
capacities, in bounded time, say the objectives limited it, and exit 0. Against plain / with a
high max_rate the limit is pelt's own (one thread), which the search must report as
limited_by "generator", never as the server's. A start rate above the capacity is exit 99.
These run alone (RUN_SERIAL): a neighbouring test's load would move the rates."""

import json
import os
import tempfile
import time

import jsonschema
import pytest

from harness import SOURCE_DIR, Target, run_pelt, run_pelt_for_json

with open(os.path.join(SOURCE_DIR, "docs", "summary.schema.json")) as _f:
    SCHEMA = json.load(_f)


def schema_violations(data):
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    return [f"{e.message} at /{'/'.join(str(p) for p in e.absolute_path)}" for e in validator.iter_errors(data)]

SCENARIO = """
[target]
url = "{url}"
path = "{path}"
timeout = "10s"

[scenarios.search]
executor = "capacity-search"
start_rate = {start}
max_rate = {max_rate}
step_factor = 2
hold = "3s"
settle = "1s"
pre_allocated_vus = {vus}
max_vus = {max_vus}

[thresholds]
http_req_duration = ["p(95)<200"]
http_req_failed = ["rate<0.01"]
"""


def write_scenario(tmp, **values):
    path = os.path.join(tmp, "search.toml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(**values))
    return path


@pytest.mark.parametrize("slots, hold_ms, start", [(4, 50, 30), (8, 20, 150)],
                         ids=["80-per-s", "400-per-s"])
def test_finds_the_pool_capacity(checks, slots, hold_ms, start):
    capacity = slots * 1000 / hold_ms
    with Target(threads=1, args=["--pool", f"{slots}:{hold_ms}"]) as t, tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(tmp, url=t.url("/"), path="/pool", start=start, max_rate=100000,
                              vus=20, max_vus=1000)
        began = time.monotonic()
        cp, data = run_pelt_for_json(["run", path, "--threads", "1", "--quiet"], timeout=240)
        took = time.monotonic() - began
    cap = data.get("capacity")
    assert cap, f"no capacity in the JSON (exit {cp.returncode}, stderr {cp.stderr[-500:]!r})"
    print(cp.stdout[-3000:], flush=True)
    checks.equal(schema_violations(data), [], "the summary validates against docs/summary.schema.json")
    found = cap["max_sustainable_rate"]
    checks.equal(cp.returncode, 0, "exit code")
    checks.check(found is not None and abs(found - capacity) <= 0.1 * capacity,
                 f"found {found} req/s, true capacity {capacity} (within 10%)")
    checks.equal(cap["limited_by"], "objectives", "limited_by")
    checks.check(cap["first_failing_rate"] is not None and cap["first_failing_rate"] > found,
                 f"first failing {cap['first_failing_rate']} above {found}")
    checks.equal(cap["complete"], True, "the search finished")
    checks.check(took < 150, f"bounded time: {took:.0f} s")
    # Every probe is in the table, each judged on its 3 s hold after a 1 s settle (a probe that
    # could no longer pass on less of it).
    for p in cap["probes"]:
        held = p["window_to_seconds"] - p["window_from_seconds"]
        if p["early"]:
            checks.check(not p["ok"] and 1 <= held < 3, f"probe {p['index']} ended early: {held} s")
        else:
            checks.equal(held, 3, f"probe {p['index']} window")
        checks.equal(p["window_from_seconds"] - p["start_seconds"], 1, f"probe {p['index']} settle")
        checks.check(p["verdict"] in ("pass", "objectives"), f"probe {p['index']} verdict {p['verdict']}")
    best = cap["probes"][cap["best_probe"]]
    checks.check(best["ok"] and best["rate"] == found, f"best probe {best}")
    checks.check("maximum sustainable rate: " in cp.stdout, "the headline in the text summary")
    # The thresholds shown are those of the probe at the maximum sustainable rate.
    checks.equal(data["thresholds_ok"], True, "thresholds_ok")
    checks.equal([t["ok"] for t in data["thresholds"]], [True, True], "thresholds at the best probe")


def test_generator_limit_is_not_the_servers(checks):
    # pelt-target on / answers far more than one pelt thread can send.
    with Target(threads=2) as t, tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(tmp, url=t.url("/"), path="/", start=4000, max_rate=2000000,
                              vus=50, max_vus=400)
        cp, data = run_pelt_for_json(["run", path, "--threads", "1", "--quiet"], timeout=240)
    cap = data.get("capacity")
    assert cap, f"no capacity in the JSON (exit {cp.returncode}, stderr {cp.stderr[-500:]!r})"
    print(cp.stdout[-3000:], flush=True)
    checks.equal(cap["limited_by"], "generator", "limited_by")
    checks.equal(cp.returncode, 0, "exit code (a rate was found)")
    failing = cap["probes"][cap["failing_probe"]] if cap["failing_probe"] is not None else {}
    checks.equal(failing.get("verdict"), "generator", "the first failing probe's verdict")
    checks.check("the limit found is pelt's, not the server's" in cp.stdout, "the text says whose limit it is")


def test_a_failing_start_rate_is_exit_99(checks):
    with Target(threads=1, args=["--pool", "1:100"]) as t, tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(tmp, url=t.url("/"), path="/pool", start=50, max_rate=1000, vus=20, max_vus=200)
        cp, data = run_pelt_for_json(["run", path, "--threads", "1", "--quiet"], timeout=120)
    cap = data.get("capacity")
    assert cap, f"no capacity in the JSON (exit {cp.returncode}, stderr {cp.stderr[-500:]!r})"
    checks.equal(schema_violations(data), [], "the summary validates against docs/summary.schema.json")
    checks.equal(cp.returncode, 99, "exit code")
    checks.equal(cap["max_sustainable_rate"], None, "max_sustainable_rate")
    checks.equal(cap["first_failing_rate"], 50, "first_failing_rate")
    checks.equal(len(cap["probes"]), 1, "one probe")
    checks.check("maximum sustainable rate: none, even the starting rate 50.0 req/s failed" in cp.stdout,
                 "headline")


def test_a_file_it_cannot_search_with_is_exit_2(checks):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.toml")
        with open(path, "w") as f:
            f.write(SCENARIO.format(url="http://127.0.0.1:1/", path="/", start=10, max_rate=100, vus=1,
                                    max_vus=1).replace('http_req_failed = ["rate<0.01"]', 'checks = ["rate>0.9"]'))
        cp = run_pelt(["run", path])
    checks.equal(cp.returncode, 2, "exit code")
    checks.check("capacity-search judges each probe on the per-second time series, which does not keep checks"
                 in cp.stderr, f"message: {cp.stderr!r}")
