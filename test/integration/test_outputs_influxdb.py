#!/usr/bin/env python3
"""--out influxdb against a real InfluxDB 1.x (Debian's influxd): a 30-second synthetic run is
pushed through pelt's InfluxDB output, then InfluxQL must give back exactly what was sent:
request counts per second, per scenario and per status, p95 per second, escaped tag values,
and every query of docs/OUTPUTS.md and of the InfluxDB dashboard must run and return data.
A second server with authentication and HTTPS checks credentials from the environment and
certificate verification.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from outputs_support import InfluxDB, SyntheticRun, percentile, run_probe  # noqa: E402

DB = "pelt"
RUN_ID = "influx-run-1"
GRAFANA = os.path.join(harness.SOURCE_DIR, "monitoring", "grafana")
DASHBOARD = os.path.join(GRAFANA, "dashboards-influxdb", "pelt-influxdb.json")
DOC = os.path.join(harness.SOURCE_DIR, "docs", "OUTPUTS.md")


@pytest.fixture(scope="module")
def pushed():
    """(influx server, synthetic run, probe result) after pushing the run once."""
    with InfluxDB() as influx, tempfile.TemporaryDirectory() as tmp:
        assert "error" not in json.dumps(influx.query(f"CREATE DATABASE {DB}"))
        run = SyntheticRun(seconds=30, run_id=RUN_ID)
        ticks = run.write_ticks(os.path.join(tmp, "ticks.jsonl"))
        result, cp = run_probe(["push", "--out", f"influxdb={influx.url}/{DB}",
                                "--out-label", "env=ci run", "--run-id", RUN_ID,
                                "--ticks", ticks, "--flush-timeout", "10000"])
        assert result is not None and cp.returncode == 0, cp.stderr
        yield influx, run, result


def where(run):
    return (f"\"run_id\" = '{RUN_ID}' AND time >= {run.start_ms}ms "
            f"AND time < {run.start_ms + run.seconds * 1000}ms")


def test_every_point_was_accepted(pushed):
    _, run, result = pushed
    out = result["outputs"][0]
    # Per second: 1 run + 2 scenarios + 3 names + one point per status code of each name.
    statuses = sum(len(d["status"]) for second in run.per_second for d in second.values())
    assert out["points_sent"] == run.seconds * 6 + statuses
    assert out["dropped"]["total"] == 0, out
    assert out["flushed"] is True
    assert out["summary"] == f"influxdb: {out['points_sent']} points sent, 0 dropped"


def test_request_counts_match_exactly(pushed):
    influx, run, _ = pushed
    rows = influx.rows(f'SELECT count("requests"), sum("requests"), sum("failed") '
                       f'FROM "pelt_run" WHERE {where(run)}', DB)
    assert rows[0]["count"] == run.seconds
    assert rows[0]["sum"] == run.total_requests()
    assert rows[0]["sum_1"] == sum(run.failed(i) for i in range(run.seconds))
    per_second = influx.rows(f'SELECT sum("requests") FROM "pelt_run" WHERE {where(run)} '
                             f'GROUP BY time(1s) fill(none)', DB)
    assert [r["sum"] for r in per_second] == [run.requests(i) for i in range(run.seconds)]
    # Each point is stamped with its bucket's start: run start + t seconds.
    points = influx.rows(f'SELECT "requests" FROM "pelt_run" WHERE {where(run)}', DB)
    assert [r["time"] for r in points] == [run.start_ms + i * 1000 for i in range(run.seconds)]
    scenarios = influx.rows(f'SELECT sum("requests") FROM "pelt_scenario" WHERE {where(run)} '
                            f'GROUP BY "scenario"', DB)
    assert {r["scenario"]: r["sum"] for r in scenarios} == {
        s: sum(run.requests(i, s) for i in range(run.seconds)) for s in ("shop", "browse")}


def test_status_points_match_exactly(pushed):
    influx, run, _ = pushed
    rows = influx.rows(f'SELECT sum("requests") FROM "pelt_status" WHERE {where(run)} '
                       f'GROUP BY "scenario", "name", "method", "status"', DB)
    got = {(r["scenario"], r["name"], r["method"], r["status"]): r["sum"] for r in rows}
    assert got == run.status_totals()


def test_p95_per_second_is_the_buckets_percentile(pushed):
    influx, run, _ = pushed
    rows = influx.rows(f'SELECT mean("latency_p95"), max("latency_max"), min("latency_min") '
                       f'FROM "pelt_run" WHERE {where(run)} GROUP BY time(1s) fill(none)', DB)
    assert len(rows) == run.seconds
    for i, row in enumerate(rows):
        values = run.latencies(i)
        assert row["mean"] == percentile(values, 95) / 1000.0, i
        assert row["max"] == max(values) / 1000.0
        assert row["min"] == min(values) / 1000.0
    avg = influx.rows(f'SELECT "latency_avg" FROM "pelt_run" WHERE {where(run)}', DB)
    for i, row in enumerate(avg):
        values = run.latencies(i)
        assert row["latency_avg"] == pytest.approx(sum(values) / len(values) / 1000.0, rel=1e-12)


def test_tag_values_survive_escaping(pushed):
    influx, run, _ = pushed
    names = influx.rows('SHOW TAG VALUES FROM "pelt_request" WITH KEY = "name"', DB)
    assert sorted(r["value"] for r in names) == sorted(n for _, n, _ in run.NAMES)
    env = influx.rows('SHOW TAG VALUES FROM "pelt_run" WITH KEY = "env"', DB)
    assert [r["value"] for r in env] == ["ci run"]
    odd = run.NAMES[2][1]
    escaped = odd.replace("\\", "\\\\").replace("'", "\\'")
    rows = influx.rows(f'SELECT sum("requests") FROM "pelt_request" WHERE {where(run)} '
                       f"AND \"name\" = '{escaped}'", DB)
    assert rows[0]["sum"] == sum(run.requests(i, name=odd) for i in range(run.seconds))


def test_vus_per_scenario(pushed):
    influx, run, _ = pushed
    rows = influx.rows(f'SELECT "vus" FROM "pelt_scenario" WHERE {where(run)} '
                       f"AND \"scenario\" = 'shop'", DB)
    assert [r["vus"] for r in rows] == [run.vus(i, "shop") for i in range(run.seconds)]


def grafana_substitute(q, run):
    """Replaces Grafana's InfluxQL variables the way Grafana would for this run."""
    q = q.replace("$timeFilter", f"time >= {run.start_ms}ms AND time < "
                                 f"{run.start_ms + run.seconds * 1000}ms")
    q = q.replace("$__interval", "1s").replace("$run_id", RUN_ID)
    q = re.sub(r"\$(\{scenario[^}]*\}|scenario)", "(shop|browse)", q)
    q = re.sub(r"\$(\{name[^}]*\}|name)", ".*", q)
    return q


def doc_queries():
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines()
            if line.strip().upper().startswith("SELECT")]


def dashboard_queries():
    with open(DASHBOARD) as f:
        board = json.load(f)
    out = []
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            out.append((panel["title"], t["query"]))
    for v in board["templating"]["list"]:
        if v.get("type") == "query":
            out.append((f"variable {v['name']}", v["query"]))
    return out


def test_documented_queries_return_data(pushed):
    influx, run, _ = pushed
    queries = doc_queries()
    assert len(queries) >= 5
    for q in queries:
        rows = influx.rows(grafana_substitute(q, run), DB)
        assert rows, q


def test_dashboard_structure():
    with open(DASHBOARD) as f:
        board = json.load(f)
    assert board["uid"] and board["title"]
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"run_id", "scenario"} <= variables
    queries = " ".join(q for _, q in dashboard_queries())
    for needed in ['"rps"', '"latency_p95"', '"latency_p99"', '"latency_avg"',
                   'sum("failed") / sum("requests")', '"vus"']:
        assert needed in queries, needed
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "influxdb", "uid": "influxdb"}, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "influxdb" and t["rawQuery"] is True
    # The data source the dashboard names is provisioned.
    with open(os.path.join(GRAFANA, "provisioning", "datasources", "influxdb.yml")) as f:
        provisioning = f.read()
    assert "uid: influxdb" in provisioning and "type: influxdb" in provisioning
    # The generator writes exactly the committed file.
    cp = subprocess.run([sys.executable, "-c", "import json, generate_dashboards as g; "
                         "print(json.dumps(g.influx_dashboard()))"],
                        cwd=GRAFANA, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout) == board, "run generate_dashboards.py and commit the JSON"


def test_dashboard_queries_return_data(pushed):
    influx, run, _ = pushed
    queries = dashboard_queries()
    assert len(queries) >= 8
    for title, q in queries:
        rows = influx.rows(grafana_substitute(q, run), DB)
        assert rows, f"{title}: {q}"


def test_auth_and_https_with_credentials_from_the_environment():
    with InfluxDB(auth=True, tls=True) as influx, tempfile.TemporaryDirectory() as tmp:
        influx.query(f"CREATE DATABASE {DB}")
        run = SyntheticRun(seconds=3, run_id="auth-run")
        ticks = run.write_ticks(os.path.join(tmp, "ticks.jsonl"))
        args = ["push", "--out", f"influxdb={influx.url}/{DB}", "--run-id", "auth-run",
                "--ticks", ticks, "--flush-timeout", "5000"]
        user, password = InfluxDB.ADMIN

        # Good credentials and the server's certificate as CA: everything lands.
        result, cp = run_probe(args + ["--ca-file", influx.cert_path],
                               env={"PELT_INFLUXDB_USERNAME": user,
                                    "PELT_INFLUXDB_PASSWORD": password})
        assert result is not None, cp.stderr
        assert result["outputs"][0]["dropped"]["total"] == 0, result
        rows = influx.rows('SELECT sum("requests") FROM "pelt_run"', DB)
        assert rows[0]["sum"] == run.total_requests()

        # A wrong password is a 401: rejected at once, not retried.
        result, cp = run_probe(args + ["--ca-file", influx.cert_path],
                               env={"PELT_INFLUXDB_USERNAME": user,
                                    "PELT_INFLUXDB_PASSWORD": "wrong"})
        out = result["outputs"][0]
        assert out["points_sent"] == 0
        assert out["dropped"]["rejected"] > 0 and out["retries"] == 0, out
        assert out["last_error"].startswith("HTTP 401"), out

        # Without the CA the self-signed certificate is refused.
        result, cp = run_probe(args, env={"PELT_INFLUXDB_USERNAME": user,
                                          "PELT_INFLUXDB_PASSWORD": password})
        out = result["outputs"][0]
        assert out["points_sent"] == 0
        assert "certificate verify failed" in out["last_error"], out


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
