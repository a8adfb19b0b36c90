"""A fleet as Prometheus and the dashboard see it: two pelt instances (--segment 0/2 and 1/2,
one --run-id, --instance a and b) scraped by a real Prometheus keeping their instance label; the
dashboard's totals sum both instances (equal to the single plan and to the two summaries), and
its by-instance panels show each one's share."""

import subprocess
import time

import harness
from monitoring_helpers import Prometheus, dashboard_queries

RATE = 200
SECONDS = 4


def last(prom, expr, at):
    r = prom.query(expr, at=at)
    assert r.get("status") == "success", f"{expr}: {r.get('error')}"
    return {s["metric"].get("instance", ""): float(s["value"][1]) for s in r["data"]["result"]}


def test_dashboard_sums_and_splits_a_fleet(checks, tmp_path):
    ports = [harness.free_port(), harness.free_port()]
    with harness.Target(threads=1) as target, \
            Prometheus(scrape_targets=[f"127.0.0.1:{p}" for p in ports], honor_labels=True) as prom:
        deadline = time.monotonic() + 60
        while not prom.query('count(up{job="pelt"})')["data"]["result"] and time.monotonic() < deadline:
            time.sleep(0.2)
        start = f"@{time.time() + 1.0:.3f}"
        procs = []
        for i, name in enumerate(["a", "b"]):
            out = tmp_path / f"{name}.json"
            procs.append((out, subprocess.Popen(
                [harness.BIN, "-t1", "-c4", f"-R{RATE}", f"-d{SECONDS}s", "--segment", f"{i}/2",
                 "--instance", name, "--run-id", "fleet-prom", "--start-at", start,
                 "--metrics", f"127.0.0.1:{ports[i]}", "--metrics-linger", "5s", "--json", str(out),
                 target.url("/")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        counts = []
        for out, proc in procs:
            _, err = proc.communicate(timeout=60)
            checks.equal(proc.returncode, 0, f"instance exit: {err[-600:]}")
            counts.append(harness.read_json(str(out), "summary")["metrics"]["http_reqs"]["count"])
        at = time.time()
        checks.equal(sum(counts), RATE * SECONDS, "the two shares make the single plan")
        total = last(prom, 'sum(last_over_time(pelt_http_requests_total{run_id="fleet-prom"}[10m]))', at)
        checks.equal(total.get(""), float(sum(counts)), "the total sums both instances")
        by_instance = last(prom, 'sum by (instance) (last_over_time(pelt_http_requests_total'
                                 '{run_id="fleet-prom"}[10m]))', at)
        checks.equal(by_instance, {"a": float(counts[0]), "b": float(counts[1])}, "split by instance")
        # The dashboard's own queries: the instance variable lists both, the by-instance panels
        # return one series per instance.
        queries = dashboard_queries({"run_id": "fleet-prom", "scenario": ".*", "instance": ".*",
                                     "__rate_interval": "10s"})
        by_title = {title: expr for board, title, expr in queries if board == "pelt.json"}
        for title in ("Requests per second by instance", "p95 latency by instance", "VUs by instance"):
            expr = by_title.get(title)
            checks.check(expr, f"the dashboard has {title}")
            if not expr:
                continue
            r = prom.query_range(expr, at - SECONDS - 4, at)
            names = {s["metric"].get("instance") for s in r.get("data", {}).get("result", [])}
            checks.check({"a", "b"} <= names, f"{title}: series for a and b: {names}")
        inst = prom.api("series", {"match[]": 'pelt_run_info{run_id="fleet-prom"}', "start": f"{at - 60:.0f}",
                                   "end": f"{at:.0f}"})
        checks.equal(sorted({s.get("instance") for s in inst.get("data", [])}), ["a", "b"],
                     "the instance variable finds both")
