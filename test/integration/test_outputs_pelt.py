"""`pelt --out` end to end, against real stores: Debian's InfluxDB 1.x and a Prometheus that
accepts remote write. After a run, the stores hold what the summary says — the request count
exactly — and the shipped dashboards' queries return data; a store that never answers costs
the run nothing but the points, which the summary reports."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_pelt_for_json  # noqa: E402
from monitoring_helpers import dashboard_queries  # noqa: E402
from outputs_support import InfluxDB, PrometheusReceiver  # noqa: E402
from test_outputs_store_down import Silent  # noqa: E402


def scenario(tmp_path, target, seconds=5):
    """Two request names (one failing with 500s) at a steady rate, and ramping VUs."""
    (tmp_path / "names.lua").write_text("""
local n = 0
request = function()
  n = n + 1
  if n % 5 == 0 then
    pelt.name("broken")
    return wrk.format("GET", "/status/500")
  end
  pelt.name("home")
  return wrk.format("GET", "/delay/2")
end
""")
    path = tmp_path / "out.toml"
    path.write_text(f"""
[target]
url = "{target.url('/')}"
[scenarios.steady]
executor = "constant-arrival-rate"
rate = 100
time_unit = "1s"
duration = "{seconds}s"
pre_allocated_vus = 5
script = "{tmp_path / 'names.lua'}"
[scenarios.ramp]
executor = "ramping-vus"
start_vus = 1
stages = [{{ duration = "{seconds}s", target = 3 }}]
path = "/delay/20"
[thresholds]
http_req_duration = ["p(95)<5000"]
""")
    return str(path)


def test_influxdb_holds_what_the_summary_says(checks, target, tmp_path):
    with InfluxDB() as db:
        db.query("CREATE DATABASE pelt")
        cp, doc = run_pelt_for_json(["run", scenario(tmp_path, target), "--quiet",
                                     "--out", f"influxdb={db.url}/pelt", "--out-label", "env=ci"])
        checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-400:]!r})")
        run_id = doc["run_id"]
        total = doc["metrics"]["http_reqs"]["count"]
        rows = db.rows(f"SELECT sum(\"requests\") AS n FROM \"pelt_run\" WHERE run_id = '{run_id}'", "pelt")
        checks.equal(rows[0]["n"] if rows else None, total, "InfluxDB: request count equals http_reqs")
        rows = db.rows(f"SELECT sum(\"failed\") AS n FROM \"pelt_run\" WHERE run_id = '{run_id}'", "pelt")
        checks.equal(rows[0]["n"] if rows else None, doc["metrics"]["http_req_failed"]["fails"],
                     "InfluxDB: failures equal http_req_failed")
        rows = db.rows(f"SELECT sum(\"requests\") AS n FROM \"pelt_request\" WHERE run_id = '{run_id}' "
                       "GROUP BY \"name\"", "pelt")
        by_name = {r["name"]: r["n"] for r in rows}
        expected = {n["name"]: n["requests"] for n in doc["names"] if n["requests"]}
        checks.equal(by_name, expected, "InfluxDB: requests per name")
        p95 = db.rows(f"SELECT mean(\"latency_p95\") AS p95 FROM \"pelt_run\" WHERE run_id = '{run_id}' "
                      "AND env = 'ci' GROUP BY time(1s) fill(none)", "pelt")
        checks.check(len(p95) >= 4, f"InfluxDB: p95 per second for every second, got {len(p95)}")
        checks.check(all(2.0 <= r["p95"] < 200 for r in p95), f"InfluxDB: p95 values {p95}")
        lines = [o for o in doc["outputs"] if o["type"] == "influxdb"]
        checks.check(lines and lines[0]["dropped"]["total"] == 0, f"summary: nothing dropped {doc['outputs']}")
        checks.check("Output" not in cp.stdout or "output influxdb" in cp.stdout,
                     "the text summary names the output")
        checks.check("output influxdb:" in cp.stdout, f"text summary: output line in {cp.stdout[-500:]!r}")


def test_prometheus_remote_write_holds_what_the_summary_says(checks, target, tmp_path):
    with PrometheusReceiver() as prom:
        cp, doc = run_pelt_for_json(["run", scenario(tmp_path, target), "--quiet",
                                     "--out", f"prometheus-rw={prom.write_url}"])
        checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-400:]!r})")
        run_id = doc["run_id"]
        at = time.time()
        got = prom.vector(f'sum(pelt_http_requests_total{{run_id="{run_id}"}})', at)
        checks.equal(list(got.values()), [float(doc["metrics"]["http_reqs"]["count"])],
                     "remote write: pelt_http_requests_total equals http_reqs")
        failed = prom.vector(f'sum(pelt_http_request_failures_total{{run_id="{run_id}"}})', at)
        checks.equal(list(failed.values()), [float(doc["metrics"]["http_req_failed"]["fails"])],
                     "remote write: failures equal http_req_failed")
        # Every query of the shipped Prometheus dashboards returns data for this run.
        values = {"run_id": run_id, "scenario": ".*", "name": ".*", "job": ".*", "instance": ".*"}
        empty = []
        for board, panel, expr in dashboard_queries(values):
            r = prom.api("query", [("query", expr), ("time", f"{at:.3f}")])
            if r.get("status") != "success":
                empty.append((board, panel, expr, r.get("error")))
            elif not r["data"]["result"] and "hosts" not in board and "node_" not in expr:
                empty.append((board, panel, expr, "no data"))
        checks.check(not empty, f"dashboard queries without data: {empty[:5]} ({len(empty)})")


@pytest.mark.parametrize("kind,path", [("influxdb", "/pelt"), ("prometheus-rw", "/api/v1/write")])
def test_a_store_that_never_answers_costs_only_the_points(checks, target, tmp_path, kind, path):
    with Silent() as silent:
        start = time.monotonic()
        cp, doc = run_pelt_for_json(["-t1", "-c2", "-d3s", "--out", f"{kind}=http://127.0.0.1:{silent.port}{path}",
                                     target.url("/")], timeout=30)
        took = time.monotonic() - start
        checks.equal(cp.returncode, 0, f"{kind}: exit code unchanged (stderr {cp.stderr[-300:]!r})")
        checks.check(took < 3 + 2 + 2, f"{kind}: the run ends on time ({took:.1f}s)")
        out = [o for o in doc["outputs"] if o["type"] == kind]
        checks.check(out and out[0]["dropped"]["total"] > 0, f"{kind}: dropped points reported {doc['outputs']}")
        checks.check(f"Output {kind}:" in cp.stdout and "dropped" in cp.stdout,
                     f"{kind}: the summary says what was lost: {cp.stdout[-400:]!r}")
        checks.check(doc["ledger"]["completed"] > 100, f"{kind}: the load went on: {doc['ledger']}")
