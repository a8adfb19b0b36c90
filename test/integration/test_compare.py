"""pelt compare: two pelt-target instances with different delays (/delay/5 and /delay/25) are
run with the shipped scenarios/compare-hosts.sh loop; compare must name the slower one, mark
the difference as beyond the noise, and --fail-if must fire (exit 99) — and hold (exit 0) for a
tolerance the difference stays within. --json and --html outputs; every kind of bad input is
exit 2 with a message."""
import json
import os
import subprocess

import pytest

from harness import BIN, SOURCE_DIR, Target, run_pelt
from test_report_browser import assert_clean, inspect, values

SCRIPT = os.path.join(SOURCE_DIR, "scenarios", "compare-hosts.sh")

SCENARIO = """
[target]
url = "http://127.0.0.1:1/"
timeout = "10s"

[scenarios.steady]
executor = "constant-arrival-rate"
rate = 100
duration = "6s"
pre_allocated_vus = 10
max_vus = 50

[thresholds]
http_req_duration = ["p(95)<1000"]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Summaries of the same scenario against a 5 ms and a 25 ms host, via compare-hosts.sh."""
    tmp = tmp_path_factory.mktemp("compare")
    scenario = tmp / "steady.toml"
    scenario.write_text(SCENARIO)
    out = tmp / "out"
    with Target() as fast, Target() as slow:
        env = dict(os.environ, PELT=BIN, OUT=str(out), PELT_RUN_ARGS="--threads 1")
        cp = subprocess.run([SCRIPT, str(scenario), fast.url("/delay/5"), slow.url("/delay/25"), "--",
                             "--fail-if", "p(95) > +10%", "--html", str(tmp / "compare.html")],
                            capture_output=True, text=True, env=env, timeout=120)
        labels = [f"127.0.0.1:{fast.port}", f"127.0.0.1:{slow.port}"]
    files = sorted(str(p) for p in out.glob("*.json"))
    return {"cp": cp, "files": files, "labels": labels, "html": tmp / "compare.html", "tmp": tmp}


def test_the_slower_host_is_named_and_the_gate_fires(checks, runs):
    cp = runs["cp"]
    print(cp.stdout, cp.stderr[-2000:], flush=True)
    fast, slow = runs["labels"]
    checks.equal(len(runs["files"]), 2, "compare-hosts.sh wrote a summary per host")
    checks.equal(cp.returncode, 99, "exit code: --fail-if fired")
    checks.check(f"by p(95): fastest {fast} (" in cp.stdout, "the fastest host is named")
    checks.check(f"slowest {slow} (" in cp.stdout and "beyond the noise" in cp.stdout, "the slower host is named")
    checks.check(f"✗ fail-if p(95) > +10%: {slow}: p(95) +" in cp.stdout, "the gate's line")
    p95 = [line for line in cp.stdout.splitlines() if line.strip().startswith("p(95)")]
    checks.check(p95 and p95[0].rstrip().endswith("*"), f"p(95) beyond the noise: {p95}")


def test_a_tolerance_the_difference_stays_within_passes(checks, runs):
    cp = run_pelt(["compare", *runs["files"], "--fail-if", "p(95) > +900%", "--fail-if", "req/s < -20%",
                   "--label", "fast,slow"])
    checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr!r})")
    checks.check("✓ fail-if p(95) > +900%: slow: p(95) +" in cp.stdout, "gate held")
    checks.check("by p(95): fastest fast (" in cp.stdout, "labels from --label")


def test_json_output(checks, runs):
    cp = run_pelt(["compare", *runs["files"], "--json", "--fail-if", "p(95) > +10%"])
    checks.equal(cp.returncode, 99, "exit code")
    doc = json.loads(cp.stdout)
    checks.equal(doc["schema"], "pelt.compare/v1", "schema")
    checks.equal([r["label"] for r in doc["runs"]], runs["labels"], "labels from the targets' hosts")
    rows = {r["metric"]: r for r in doc["sections"][0]["rows"]}
    checks.equal(rows["p(95)"]["marks"], ["baseline", "beyond"], "p(95) marks")
    checks.check(rows["p(50)"]["values"][1] > rows["p(50)"]["values"][0] + 15, f"p(50) {rows['p(50)']['values']}")
    checks.equal(doc["rankings"][0]["worst_label"], runs["labels"][1], "the slowest")
    checks.equal([g["fired"] for g in doc["fail_if"]], [True], "gates")


def test_html_page(checks, runs):
    assert runs["html"].exists(), "compare-hosts.sh --html wrote no page"
    page = inspect(runs["html"].as_uri(), "--offline", "--wait", "#app .card")
    assert_clean(page)
    checks.equal([v["text"] for v in values(page, "compare-label")], runs["labels"], "runs")
    checks.check(any(v["text"].endswith("*") for v in values(page, "compare-change")), "a change beyond the noise")
    charts = {c["id"]: c for c in page["charts"]}
    for cid in ("chart-compare-rps", "chart-compare-p95"):
        checks.check(cid in charts and charts[cid]["drawn"] and charts[cid]["points"] > 0, f"{cid} drawn: {charts.get(cid)}")


def test_bad_input_is_exit_2(checks, runs, tmp_path):
    good = runs["files"][0]
    v1 = tmp_path / "v1.json"
    doc = json.load(open(good))
    doc["schema"] = "pelt.summary/v1"
    v1.write_text(json.dumps(doc))
    notjson = tmp_path / "broken.json"
    notjson.write_text("{\"schema\": ")
    cases = [
        (["compare", good, "/nonexistent/x.json"], "cannot read /nonexistent/x.json: No such file or directory"),
        (["compare", good, str(v1)], f"{v1}: schema \"pelt.summary/v1\" is not supported: pelt compare reads "
                                     "pelt.summary/v2"),
        (["compare", good, str(notjson)], f"{notjson}:1:12: not JSON"),
        (["compare", good], "pelt compare needs at least two summaries"),
        (["compare", good, good, "--fail-if", "p(95) >> 10%"], "--fail-if \"p(95) >> 10%\": expected a change"),
        (["compare", good, good, "--label", "a,b,c"], "--label gives 3 names for 2 summaries"),
        (["compare", good, good, "--frobnicate"], "unknown option --frobnicate for pelt compare"),
    ]
    for args, message in cases:
        cp = run_pelt(args)
        checks.equal(cp.returncode, 2, f"{args[1:]}: exit code")
        checks.check(cp.stderr.startswith("pelt: compare: ") and message in cp.stderr,
                     f"{args[1:]}: message {cp.stderr!r}")
        checks.equal(cp.stdout, "", f"{args[1:]}: nothing on stdout")
