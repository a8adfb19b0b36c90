"""pelt's /metrics as a real Prometheus sees it: a short ramping run against pelt-target,
Prometheus scraping pelt every second; then the request total in Prometheus equals the
summary's, pelt_vus and pelt_stage follow the stages, and every query of the pelt dashboard
returns data.
"""

import os
import time
import types

import pytest

import harness
from monitoring_helpers import Prometheus, dashboard_queries

# Where the summary JSON keeps the number of completed requests.
SUMMARY_TOTAL_PATH = ("metrics", "http_reqs", "count")

# Dashboards whose data comes from node-exporter / cAdvisor, not from pelt.
HOST_DASHBOARDS = {"hosts.json"}

# Three stages: up to 3 VUs, hold 3, down to 0.
STAGES = [("3s", 3), ("3s", 3), ("2s", 0)]
PLATEAU_VUS = 3

SCENARIO = """
[target]
url = "{url}"
timeout = "5s"

[scenarios.ramp]
executor = "ramping-vus"
start_vus = 1
stages = [ {stages} ]
think_time = "20ms"
graceful_ramp_down = "1s"
tags = {{ team = "checkout", env = "ci" }}

[thresholds]
http_req_duration = ["p(95)<5000"]
http_req_failed = ["rate<0.5"]
"""


def summary_total(summary):
    value = summary
    for key in SUMMARY_TOTAL_PATH:
        value = value[key]
    return value


def samples(prom, expr, window="10m"):
    """Raw samples of `expr[window]` at now: {frozenset(labels): [(ts, value)]}."""
    r = prom.query(f"{expr}[{window}]")
    out = {}
    if r.get("status") != "success":
        return out
    for series in r["data"]["result"]:
        out[frozenset(series["metric"].items())] = [(float(ts), float(v))
                                                    for ts, v in series["values"]]
    return out


def scalar(prom, expr, at=None):
    r = prom.query(expr, at)
    if r.get("status") != "success" or not r["data"]["result"]:
        return None
    return float(r["data"]["result"][0]["value"][1])


@pytest.fixture(scope="module")
def ramp(tmp_path_factory):
    """The ramping run, done once: pelt-target, Prometheus scraping pelt's /metrics every second,
    `pelt run` of the three stages. Prometheus stays up for the tests that query it."""
    assert os.path.exists(harness.BIN), f"pelt binary not found at {harness.BIN}"
    workdir = tmp_path_factory.mktemp("prom")
    summary_path = str(workdir / "summary.json")
    metrics_port = harness.free_port()
    with harness.Target(threads=1) as target, \
            Prometheus(scrape_targets=[f"127.0.0.1:{metrics_port}"]) as prom:
        scenario_path = str(workdir / "ramp.toml")
        stages = ", ".join(f'{{ duration = "{d}", target = {n} }}' for d, n in STAGES)
        with open(scenario_path, "w") as f:
            f.write(SCENARIO.format(url=target.url("/"), stages=stages))
        # Start pelt once Prometheus's scrape loop runs (it reports `up` even for a target that
        # is not listening yet), so the first stage is sampled too.
        deadline = time.monotonic() + 60
        while scalar(prom, 'count(up{job="pelt"})') is None and time.monotonic() < deadline:
            time.sleep(0.2)
        started = time.time()
        cp = harness.run_pelt(["run", scenario_path, "--metrics", f"127.0.0.1:{metrics_port}",
                               "--summary-json", summary_path, "--quiet"], timeout=120)
        yield types.SimpleNamespace(cp=cp, prom=prom, started=started, summary_path=summary_path)


def read_summary(ramp):
    return harness.read_json(ramp.summary_path, "summary JSON")


def request_total(ramp):
    summary = read_summary(ramp)
    try:
        return summary_total(summary)
    except (KeyError, TypeError):
        raise AssertionError(f"summary has no {'.'.join(SUMMARY_TOTAL_PATH)}") from None


def test_run_made_requests(checks, ramp):
    checks.equal(ramp.cp.returncode, 0, f"pelt run exit code (stderr: {ramp.cp.stderr[-1500:]})")
    total = request_total(ramp)
    checks.check(total > 0, f"the run made requests: {total}")


def test_prometheus_total_equals_summary(ramp):
    """The total in Prometheus at pelt's last sample equals the summary's."""
    total = request_total(ramp)
    in_prom = scalar(ramp.prom, 'sum(last_over_time(pelt_http_requests_total{job="pelt"}[10m]))')
    assert in_prom == float(total), \
        f"sum(pelt_http_requests_total) at the last sample {in_prom} equals the summary total {total}"


def test_scenario_tags_are_labels(checks, ramp):
    prom = ramp.prom
    in_prom = scalar(prom, 'sum(last_over_time(pelt_http_requests_total{job="pelt"}[10m]))')
    checks.check(in_prom is not None, "pelt_http_requests_total is in Prometheus")
    tagged = scalar(prom, 'sum(last_over_time(pelt_http_requests_total'
                          '{job="pelt",team="checkout",env="ci"}[10m]))')
    checks.equal(tagged, in_prom, "the scenario's tags label its request counters")
    checks.check(scalar(prom, 'count(last_over_time(pelt_vus{job="pelt",team="checkout"}[10m]))') == 1,
                 "the scenario's tags label pelt_vus")
    summary = read_summary(ramp)
    checks.equal(summary.get("scenarios", [{}])[0].get("tags"), {"team": "checkout", "env": "ci"},
                 "the summary lists the scenario's tags")


def test_stage_and_vus_follow_the_plan(checks, ramp):
    """pelt_stage steps 0, 1, 2 in order; pelt_vus follows the targets."""
    stage_series = samples(ramp.prom, 'pelt_stage{job="pelt"}')
    vus_series = samples(ramp.prom, 'pelt_vus{job="pelt"}')
    checks.equal(len(stage_series), 1, "one pelt_stage series (one scenario)")
    checks.equal(len(vus_series), 1, "one pelt_vus series")
    stage_points = next(iter(stage_series.values()), [])
    vus_points = dict(next(iter(vus_series.values()), []))
    stages_seen = [int(v) for _, v in stage_points]
    checks.check(stages_seen == sorted(stages_seen), f"pelt_stage never goes back: {stages_seen}")
    checks.check({0, 1, 2} <= set(stages_seen), f"every stage observed: {stages_seen}")
    checks.check(len(stage_points) >= 6, f"scraped every second: {len(stage_points)} samples")
    vus_by_stage = {}
    for ts, stage in stage_points:
        if ts in vus_points:
            vus_by_stage.setdefault(int(stage), []).append(int(vus_points[ts]))
    checks.check(max(vus_points.values(), default=-1) == PLATEAU_VUS,
                 f"pelt_vus peaks at {PLATEAU_VUS}: {vus_by_stage}")
    checks.check(PLATEAU_VUS in vus_by_stage.get(1, []), f"stage 1 holds {PLATEAU_VUS} VUs: {vus_by_stage}")
    # Both series come from the same scrapes, so every observed stage has pelt_vus samples too.
    ramp_up = vus_by_stage.get(0, [])
    checks.check(ramp_up and ramp_up == sorted(ramp_up) and all(0 <= v <= PLATEAU_VUS for v in ramp_up),
                 f"stage 0 ramps up to {PLATEAU_VUS}: {ramp_up}")
    ramp_down = vus_by_stage.get(2, [])
    checks.check(ramp_down and ramp_down == sorted(ramp_down, reverse=True) and
                 all(v <= PLATEAU_VUS for v in ramp_down),
                 f"stage 2 ramps down: {ramp_down}")


def test_dashboard_queries_return_data(checks, ramp):
    """Every query of the pelt dashboard returns data at pelt's last sample."""
    prom = ramp.prom
    run_ids = samples(prom, 'pelt_run_info{job="pelt"}')
    assert run_ids, "pelt_run_info is in Prometheus"
    run_id = dict(next(iter(run_ids))).get("run_id", "")
    checks.check(run_id != "", f"pelt_run_info carries a run_id: {run_ids.keys()}")
    last_ts = max(ts for pts in run_ids.values() for ts, _ in pts)
    checks.check(last_ts >= ramp.started, "samples are from this run")
    queries = [q for q in dashboard_queries({"run_id": run_id, "scenario": ".*", "instance": ".*"})
               if q[0] not in HOST_DASHBOARDS]
    assert queries, "the pelt dashboard has queries"
    for board, title, expr in queries:
        if title.startswith("variable "):
            r = prom.api("series", {"match[]": expr, "start": f"{ramp.started - 5:.3f}",
                                    "end": f"{last_ts:.3f}"})
            checks.check(r.get("status") == "success" and len(r.get("data", [])) > 0,
                         f"{board}/{title}: {expr} finds series ({r.get('error')})")
            continue
        r = prom.query(expr, at=last_ts)
        ok = r.get("status") == "success" and len(r["data"]["result"]) > 0
        checks.check(ok, f"{board}/{title}: {expr} returns data ({r.get('error') or r.get('data')})")
