#!/usr/bin/env python3
"""pelt's /metrics as a real Prometheus sees it: a short ramping run against pelt-target,
Prometheus scraping pelt every second; then the request total in Prometheus equals the
summary's, pelt_vus and pelt_stage follow the stages, and every query of the pelt dashboard
returns data.
"""

import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_monitoring import Prometheus, dashboard_queries  # noqa: E402

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


def main():
    t = harness.TestCase("prometheus")
    if not os.path.exists(harness.BIN):
        t.check(False, f"pelt binary not found at {harness.BIN}")
        t.finish()
    workdir = tempfile.mkdtemp(prefix="pelt-prom-test-")
    try:
        run(t, workdir)
    except Exception as e:  # a server that would not start: report it as a failure
        t.check(False, f"test aborted: {e!r}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    t.finish()


def run(t, workdir):
    summary_path = os.path.join(workdir, "summary.json")
    metrics_port = harness.free_port()
    with harness.Target(threads=1) as target, \
            Prometheus(scrape_targets=[f"127.0.0.1:{metrics_port}"]) as prom:
        scenario_path = os.path.join(workdir, "ramp.toml")
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
        t.equal(cp.returncode, 0, f"pelt run exit code (stderr: {cp.stderr[-1500:]})")
        summary = None
        try:
            with open(summary_path) as f:
                summary = json.load(f)
        except (OSError, ValueError) as e:
            t.check(False, f"summary JSON readable: {e}")
        total = None
        if summary is not None:
            try:
                total = summary_total(summary)
            except (KeyError, TypeError):
                t.check(False, f"summary has {'.'.join(SUMMARY_TOTAL_PATH)}")
        t.check(total is not None and total > 0, f"the run made requests: {total}")

        # The total in Prometheus at pelt's last sample equals the summary's.
        in_prom = scalar(prom, 'sum(last_over_time(pelt_http_requests_total{job="pelt"}[10m]))')
        t.equal(in_prom, float(total) if total is not None else None,
                "sum(pelt_http_requests_total) at the last sample equals the summary total")
        # The scenario's tags are labels of its series.
        tagged = scalar(prom, 'sum(last_over_time(pelt_http_requests_total'
                              '{job="pelt",team="checkout",env="ci"}[10m]))')
        t.equal(tagged, in_prom, "the scenario's tags label its request counters")
        t.check(scalar(prom, 'count(last_over_time(pelt_vus{job="pelt",team="checkout"}[10m]))') == 1,
                "the scenario's tags label pelt_vus")
        if summary is not None:
            t.equal(summary.get("scenarios", [{}])[0].get("tags"), {"team": "checkout", "env": "ci"},
                    "the summary lists the scenario's tags")

        # pelt_stage steps 0, 1, 2 in order; pelt_vus follows the targets.
        stage_series = samples(prom, 'pelt_stage{job="pelt"}')
        vus_series = samples(prom, 'pelt_vus{job="pelt"}')
        t.equal(len(stage_series), 1, "one pelt_stage series (one scenario)")
        t.equal(len(vus_series), 1, "one pelt_vus series")
        stage_points = next(iter(stage_series.values()), [])
        vus_points = dict(next(iter(vus_series.values()), []))
        stages_seen = [int(v) for _, v in stage_points]
        t.check(stages_seen == sorted(stages_seen), f"pelt_stage never goes back: {stages_seen}")
        t.check({0, 1, 2} <= set(stages_seen), f"every stage observed: {stages_seen}")
        t.check(len(stage_points) >= 6, f"scraped every second: {len(stage_points)} samples")
        vus_by_stage = {}
        for ts, stage in stage_points:
            if ts in vus_points:
                vus_by_stage.setdefault(int(stage), []).append(int(vus_points[ts]))
        t.check(max(vus_points.values(), default=-1) == PLATEAU_VUS,
                f"pelt_vus peaks at {PLATEAU_VUS}: {vus_by_stage}")
        t.check(PLATEAU_VUS in vus_by_stage.get(1, []), f"stage 1 holds {PLATEAU_VUS} VUs: {vus_by_stage}")
        ramp_up = vus_by_stage.get(0, [])
        t.check(ramp_up == sorted(ramp_up) and all(0 <= v <= PLATEAU_VUS for v in ramp_up),
                f"stage 0 ramps up to {PLATEAU_VUS}: {ramp_up}")
        ramp_down = vus_by_stage.get(2, [])
        t.check(ramp_down == sorted(ramp_down, reverse=True) and
                all(v <= PLATEAU_VUS for v in ramp_down),
                f"stage 2 ramps down: {ramp_down}")

        # Every query of the pelt dashboard returns data at pelt's last sample.
        run_ids = samples(prom, 'pelt_run_info{job="pelt"}')
        run_id = dict(next(iter(run_ids), frozenset())).get("run_id", "")
        t.check(run_id != "", f"pelt_run_info carries a run_id: {run_ids.keys()}")
        last_ts = max((ts for pts in run_ids.values() for ts, _ in pts), default=time.time())
        t.check(last_ts >= started, "samples are from this run")
        for board, title, expr in dashboard_queries({"run_id": run_id, "scenario": ".*",
                                                     "instance": ".*"}):
            if board in HOST_DASHBOARDS:
                continue
            if title.startswith("variable "):
                r = prom.api("series", {"match[]": expr, "start": f"{started - 5:.3f}",
                                        "end": f"{last_ts:.3f}"})
                t.check(r.get("status") == "success" and len(r.get("data", [])) > 0,
                        f"{board}/{title}: {expr} finds series ({r.get('error')})")
                continue
            r = prom.query(expr, at=last_ts)
            ok = r.get("status") == "success" and len(r["data"]["result"]) > 0
            t.check(ok, f"{board}/{title}: {expr} returns data ({r.get('error') or r.get('data')})")


if __name__ == "__main__":
    main()
