"""[observe]: the server's side of every stage, from a real Prometheus scraping a real
node-exporter on this machine (Debian's prometheus and prometheus-node-exporter), with
pelt-target as the target.

A server column must rise with the load stage by stage: a light stage, then two heavier ones of
GET /bytes/65536. The column is the loopback interface's received bytes per second, a query of
the test's own next to the ready-made node-exporter ones: CPU accounting on a shared (or
virtualised) machine need not follow the load, bytes on the wire do. A run is tried up to
three times. The rest: the breaking point names
the server's figures, thresholds on observe.LABEL, --observe-prometheus alone, a query without
data, a bad query and Prometheus down (exit 2 before any request), Prometheus going away
during the run (the run goes on, the columns say so)."""
import os
import subprocess
import tempfile
import time

import jsonschema
import json
import pytest

from harness import SOURCE_DIR, Target, free_port, run_pelt, run_pelt_for_json
from monitoring_helpers import NodeExporter, Prometheus
from test_report_browser import assert_clean, report_page, values

with open(os.path.join(SOURCE_DIR, "docs", "summary.schema.json")) as _f:
    SCHEMA = json.load(_f)

LO_RX = ('sum(rate(node_network_receive_bytes_total{device="lo",instance=~"${TARGET_HOST}:.*"}[3s]))')
KERNEL_CPU = ('avg(sum by (cpu) (rate(node_cpu_seconds_total{mode=~"system|softirq",'
              'instance=~"${TARGET_HOST}:.*"}[3s])))')


@pytest.fixture(scope="module")
def prom():
    """node-exporter scraped every second by Prometheus, for the whole module."""
    with NodeExporter() as ne, Prometheus(scrape_targets=[ne.address], interval="1s") as p:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # two scrapes at least, so that rate() has data
            got = p.query('count(rate(node_cpu_seconds_total[3s]))')
            if got.get("data", {}).get("result"):
                break
            time.sleep(0.5)
        yield p


def observe_table(url, extra=""):
    return f"""
[observe]
prometheus = "{url}"
rate_window = "3s"
query_delay = "2s"
timeout = "3s"
{extra}
"""


def write(tmp, text, name="s.toml"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def rises(rx):
    """The steady stages (light, 600/s, 3000/s of 64 KiB) each carry clearly more than the one
    before: 600/s alone is about 40 MB/s."""
    steady = [rx[0], rx[2], rx[4]]
    return None not in steady and 2 * steady[0] < steady[1] and 2 * steady[1] < steady[2] and steady[1] > 10e6


def stages_of(data):
    return data["scenarios"][0]["stages"]


RISING = """
[target]
url = "http://127.0.0.1:1/"
path = "/bytes/65536"
timeout = "10s"

[scenarios.load]
executor = "ramping-arrival-rate"
start_rate = 5
pre_allocated_vus = 20
max_vus = 300
stages = [
  {{ duration = "6s", target = 5 }},
  {{ duration = "1s", target = 600 }},
  {{ duration = "6s", target = 600 }},
  {{ duration = "1s", target = 3000 }},
  {{ duration = "6s", target = 3000 }},
]
{observe}
[thresholds]
"observe.memory_used" = ["avg>0"]
"observe.kernel_cpu" = ["max<=100"]
"""


def test_cpu_rises_stage_by_stage(checks, prom):
    url = f"http://127.0.0.1:{prom.port}"
    observe = observe_table(url, 'defaults = ["node-exporter"]\n'
                                 f"kernel_cpu = {{ query = '{KERNEL_CPU}', unit = \"%\" }}\n"
                                 f"lo_rx = {{ query = '{LO_RX}', unit = \"B/s\" }}")
    attempts = []
    with Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, RISING.format(observe=observe))
        for attempt in range(3):
            cp, data = run_pelt_for_json(["run", path, "--target", t.url("/"), "--threads", "1", "--quiet"],
                                         timeout=120)
            stages = stages_of(data)
            rx = [st["observe"]["lo_rx"].get("avg") for st in stages]
            attempts.append(rx)
            print(f"attempt {attempt + 1}: loopback bytes/s by stage {rx}", flush=True)
            if rises(rx):
                break
    print(cp.stdout, flush=True)
    checks.check(rises(attempts[-1]),
                 f"the loopback bytes column rises stage by stage (light, 600/s, 3000/s): {attempts}")
    checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-400:]!r})")
    # The ready-made node-exporter columns have data in every stage.
    for st in stages:
        for label in ("cpu", "memory_used", "load1", "net_rx", "net_tx"):
            fig = st["observe"][label]
            checks.equal(fig["status"], "ok", f"stage {st['index']} {label}: {fig}")
        cpu = st["observe"]["cpu"]
        checks.check(0 <= cpu.get("min", -1) <= cpu.get("avg", -1) <= cpu.get("max", -1) <= 1.0001,
                     f"stage {st['index']} cpu is a ratio: {cpu}")
    # The whole run, the thresholds on them, the text table and the schema.
    queries = {q["label"]: q for q in data["observe"]["queries"]}
    checks.equal(sorted(queries), sorted(["cpu", "memory_used", "load1", "net_rx", "net_tx", "kernel_cpu", "lo_rx"]), "queries")
    checks.check('instance=~"127\\\\.0\\\\.0\\\\.1(:[0-9]+)?"' in queries["cpu"]["query"],
                 f"the default selector follows the target's host: {queries['cpu']['query']}")
    checks.check("127.0.0.1:.*" in queries["kernel_cpu"]["query"], "${TARGET_HOST} in a query of one's own")
    checks.equal(queries["memory_used"]["run"]["status"], "ok", "the run's memory figure")
    checks.equal([t["ok"] for t in data["thresholds"]], [True, True], f"observe thresholds: {data['thresholds']}")
    checks.check("kernel_cpu avg (max)" in cp.stdout and "cpu avg (max)" in cp.stdout, "columns in the stage table")
    checks.check("observe.memory_used" in cp.stdout and "avg=" in cp.stdout, "threshold lines")
    errors = [e.message for e in jsonschema.validators.validator_for(SCHEMA)(SCHEMA).iter_errors(data)]
    checks.equal(errors, [], "the summary validates against docs/summary.schema.json")


BREAKING = """
[target]
url = "http://127.0.0.1:1/"
path = "/delay/60"
timeout = "10s"

[scenarios.steps]
executor = "ramping-vus"
start_vus = 2
stages = [{{ duration = "3s", target = 2 }}, {{ duration = "3s", target = 2 }}]
{observe}
[thresholds]
http_req_duration = ["p(95)<20"]
"observe.load1" = ["max<0"]
"""


def test_breaking_point_names_the_servers_figures(checks, prom, tmp_path):
    with Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, BREAKING.format(observe=observe_table(f"http://127.0.0.1:{prom.port}")))
        cp, data = run_pelt_for_json(["run", path, "--target", t.url("/"), "--threads", "1", "--quiet"], timeout=60)
    # The HTML report shows the columns and names them in the breaking point.
    page = report_page(tmp_path, data, "observe")
    assert_clean(page)
    cells = [v["text"] for v in values(page, "stage-observe-cpu")]
    checks.equal(len(cells), 2, f"a cpu cell per stage: {cells}")
    checks.check(all(c.endswith("%)") for c in cells), f"cells read avg (max): {cells}")
    checks.check([v["text"] for v in values(page, "breaking-server")] == ["; " + data["breaking_point"]["server"]],
                 "the breaking point callout names the server's figures")
    line = [l for l in cp.stdout.splitlines() if "stopped keeping up" in l]
    checks.equal(cp.returncode, 99, "exit code: thresholds crossed")
    checks.check(line and "; server cpu avg " in line[0] and "load1 avg " in line[0], f"breaking point line: {line}")
    bp = data["breaking_point"]
    checks.check(bp and bp.get("server", "").startswith("server cpu avg "), f"breaking_point.server: {bp}")
    load = [t for t in data["thresholds"] if t["metric"] == "observe.load1"]
    checks.check(load and not load[0]["ok"] and load[0]["has_data"], f"observe.load1 max<0 crossed: {load}")
    checks.check("✗ observe.load1" in cp.stdout, "the threshold's line")


SIMPLE = """
[target]
url = "http://127.0.0.1:1/"
timeout = "5s"

[scenarios.steady]
executor = "constant-arrival-rate"
rate = 20
duration = "{duration}"
pre_allocated_vus = 5
{observe}
"""


def test_observe_prometheus_flag_alone(checks, prom):
    with Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, SIMPLE.format(duration="3s", observe=""))
        cp, data = run_pelt_for_json(["run", path, "--target", t.url("/"), "--threads", "1", "--quiet",
                                      "--observe-prometheus", f"http://127.0.0.1:{prom.port}"], timeout=60)
    checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-300:]!r})")
    labels = [q["label"] for q in data.get("observe", {}).get("queries", [])]
    checks.equal(labels, ["cpu", "memory_used", "load1", "net_rx", "net_tx"], "node-exporter's defaults")
    checks.equal(stages_of(data)[0]["observe"]["cpu"]["status"], "ok", "stage cpu")


def test_a_query_without_data_says_so(checks, prom):
    observe = observe_table(f"http://127.0.0.1:{prom.port}", "ghost = { query = 'pelt_no_such_metric_total', unit = \"\" }")
    with Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, SIMPLE.format(duration="2s", observe=observe))
        cp, data = run_pelt_for_json(["run", path, "--target", t.url("/"), "--threads", "1"], timeout=60)
    checks.equal(cp.returncode, 0, "exit code: the run goes on")
    checks.check("pelt: observe: ghost has no data yet" in cp.stderr, f"the note before the load: {cp.stderr[-500:]!r}")
    checks.equal(stages_of(data)[0]["observe"]["ghost"]["status"], "no data", "the stage's figure")
    checks.check("no data" in cp.stdout, "the column says so")


def test_bad_query_and_prometheus_down_are_exit_2_before_the_load(checks, prom):
    with Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, SIMPLE.format(duration="2s", observe=observe_table(
            f"http://127.0.0.1:{prom.port}", "broken = { query = 'rate(node_load1[', unit = \"\" }")), "bad.toml")
        cp = run_pelt(["run", bad, "--target", t.url("/")], timeout=60)
        checks.equal(cp.returncode, 2, "bad query: exit code")
        checks.check(f"{bad}:" in cp.stderr and "Prometheus refused the query broken" in cp.stderr
                     and "parse error" in cp.stderr, f"bad query: message {cp.stderr!r}")
        down = write(tmp, SIMPLE.format(duration="2s", observe=observe_table(f"http://127.0.0.1:{free_port()}")), "down.toml")
        cp = run_pelt(["run", down, "--target", t.url("/")], timeout=60)
        checks.equal(cp.returncode, 2, "Prometheus down: exit code")
        checks.check("pelt: observe: cannot reach Prometheus at http://127.0.0.1:" in cp.stderr
                     and "ECONNREFUSED" in cp.stderr, f"Prometheus down: message {cp.stderr!r}")
        checks.equal(t.stats()["requests"], 0, "no request was sent")


def test_prometheus_going_away_does_not_stop_the_run(checks):
    with NodeExporter() as ne, Target(threads=1) as t, tempfile.TemporaryDirectory() as tmp:
        p = Prometheus(scrape_targets=[ne.address], interval="1s").start()
        try:
            path = write(tmp, SIMPLE.format(duration="6s", observe=observe_table(f"http://127.0.0.1:{p.port}")))
            out = os.path.join(tmp, "out.json")
            from harness import BIN
            proc = subprocess.Popen([BIN, "run", path, "--target", t.url("/"), "--threads", "1", "--quiet",
                                     "--summary-json", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2)
        finally:
            p.stop()
        stdout, stderr = proc.communicate(timeout=60)
        with open(out) as f:
            data = json.load(f)
    checks.equal(proc.returncode, 0, f"exit code (stderr {stderr[-300:]!r})")
    checks.equal(data["ledger"]["completed"], 120, "the load ran to its end")
    cpu = stages_of(data)[0]["observe"]["cpu"]
    checks.equal(cpu["status"], "unreachable", f"the stage's figure: {cpu}")
    checks.check("ECONNREFUSED" in cpu.get("error", ""), f"why: {cpu}")
    checks.check("unreachable" in stdout and "observe cpu: unreachable: connect" in stdout, "the summary says why")
