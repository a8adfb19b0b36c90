"""The monitoring files are valid: Prometheus config (promtool), docker-compose.yml
(docker-compose config -q), Grafana dashboards (JSON, datasource and query on every panel), and
every PromQL expression in the dashboards parses in a real Prometheus.
"""

import os
import shutil
import subprocess

import pytest

from harness import SOURCE_DIR
from monitoring_helpers import MONITORING, Prometheus, all_panels, dashboard_queries, load_dashboards

DASHBOARDS = ["hosts.json", "pelt.json"]  # every dashboard shipped, by file name


@pytest.fixture(scope="module")
def boards():
    return load_dashboards()


def test_promtool_check_config():
    cp = subprocess.run(["promtool", "check", "config",
                         os.path.join(MONITORING, "prometheus", "prometheus.yml")],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"promtool check config: {cp.stdout} {cp.stderr}"


def test_docker_compose_config():
    compose = shutil.which("docker-compose")
    assert compose is not None, "docker-compose is installed"
    cp = subprocess.run([compose, "-f", os.path.join(SOURCE_DIR, "docker-compose.yml"),
                         "config", "-q"], capture_output=True, text=True, timeout=60,
                        cwd=SOURCE_DIR)
    assert cp.returncode == 0, f"docker-compose config -q: {cp.stdout} {cp.stderr}"


def test_dashboards_shipped(boards):
    assert sorted(boards) == DASHBOARDS


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_panels(checks, boards, name):
    """uid and title; every panel (rows aside) has a datasource and a query."""
    assert name in boards, f"{name} is not shipped"
    board = boards[name]
    checks.check(board.get("uid") and board.get("title"), f"{name}: uid and title")
    panels = list(all_panels(board))
    checks.check(len(panels) >= 6, f"{name}: has panels")
    for p in panels:
        if p.get("type") == "row":
            continue
        title = p.get("title", "?")
        checks.check(bool(p.get("datasource")), f"{name}/{title}: panel has a datasource")
        exprs = [x.get("expr") for x in p.get("targets", []) if x.get("expr")]
        checks.check(len(exprs) > 0, f"{name}/{title}: panel has a query")
        for x in p.get("targets", []):
            checks.check(bool(x.get("datasource")) or bool(p.get("datasource")),
                         f"{name}/{title}: target has a datasource")


def test_pelt_dashboard_variables(checks, boards):
    variables = boards.get("pelt.json", {}).get("templating", {}).get("list", [])
    pelt_vars = {v["name"] for v in variables}
    checks.check({"run_id", "scenario"} <= pelt_vars,
                 f"pelt.json has run_id and scenario variables: {pelt_vars}")
    adhoc = [v for v in variables if v.get("type") == "adhoc"]
    checks.check(len(adhoc) == 1 and adhoc[0].get("datasource", {}).get("type") == "prometheus",
                 f"pelt.json has an ad hoc filter on the Prometheus data source for scenario tags: {adhoc}")


def test_pelt_dashboard_queries_cover_metrics(checks):
    pelt_exprs = " ".join(e for b, _, e in dashboard_queries({}) if b == "pelt.json")
    for needed in ["pelt_vus", "pelt_http_requests_total", "histogram_quantile(0.99",
                   "histogram_quantile(0.95", "histogram_quantile(0.5", "pelt_send_lag_seconds",
                   "pelt_stage", "pelt_threshold_ok", "pelt_dropped_iterations_total",
                   "pelt_interrupted_iterations_total",
                   "pelt_data_sent_bytes_total", "by (le, name)"]:
        checks.check(needed in pelt_exprs, f"pelt.json queries mention {needed}")


def test_every_query_parses_in_prometheus(checks):
    queries = dashboard_queries({"run_id": "20240101T000000-1", "scenario": ".*",
                                 "instance": ".*"})
    boards_seen = {board for board, _, _ in queries}
    assert boards_seen == set(DASHBOARDS), f"queries found in every dashboard: {boards_seen}"
    with Prometheus() as prom:
        for board, title, expr in queries:
            checks.check("$" not in expr, f"{board}/{title}: every variable substituted in {expr}")
            r = prom.query(expr)
            checks.check(r.get("status") == "success",
                         f"{board}/{title}: {expr} -> {r.get('errorType')}: {r.get('error')}")
