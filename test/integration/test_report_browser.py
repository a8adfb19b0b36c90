"""The HTML report and the live dashboard in a real browser (Debian's chromium, headless,
driven by playwright-core from web/node_modules through web/tools/inspect-page.mjs).

A report made by `pelt report` is opened from a file:// URL with the network off: no console
error, no request, every chart drawn, and the numbers on the page equal those in the JSON.
The live page follows a DashboardServer fed with synthetic ticks for about 12 s."""
import json
import os
import re
import subprocess
import sys
import threading

import pytest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "data"))
from harness import BIN, SOURCE_DIR, Target, run_pelt, run_pelt_json  # noqa: E402
import make_summary  # noqa: E402

CHROMIUM = os.environ.get("PELT_CHROMIUM", "/usr/bin/chromium")
INSPECT = os.path.join(SOURCE_DIR, "web", "tools", "inspect-page.mjs")
FEED_BIN = os.path.join(os.path.dirname(BIN), "pelt_dashboard_feed")
TIME_CHARTS = ["chart-rps", "chart-vus", "chart-latency", "chart-errors", "chart-lag"]
LATENCY_CHARTS = ["chart-percentiles", "chart-histogram"]


def require_browser():
    """The browser and playwright-core are part of `make deps`: their absence fails the test."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run `make deps`"
    playwright = os.path.join(SOURCE_DIR, "web", "node_modules", "playwright-core")
    assert os.path.isdir(playwright), f"{playwright} is missing: run `make deps`"


def inspect(url, *args, timeout=120):
    require_browser()
    cp = subprocess.run(["node", INSPECT, url] + list(args), capture_output=True, text=True,
                        timeout=timeout)
    assert cp.returncode == 0, f"inspect-page failed: {cp.stderr}"
    return json.loads(cp.stdout)


def report_page(tmp_path, doc, name="run"):
    src = tmp_path / f"{name}.json"
    src.write_text(json.dumps(doc))
    html = tmp_path / f"{name}.html"
    cp = run_pelt(["report", src, "-o", html])
    assert cp.returncode == 0, cp.stderr
    return inspect(html.as_uri(), "--offline")


def values(page, key):
    return [v for v in page["values"] if v["k"] == key]


def value(page, key):
    found = values(page, key)
    assert len(found) == 1, f"{key}: {found}"
    return found[0]["text"]


def count_text(n):
    return f"{n:,}"


def parse_ms(text):
    """'850µs' / '4.25ms' / '1.25s' -> milliseconds."""
    m = re.fullmatch(r"([0-9.]+)(µs|ms|s)", text.strip())
    assert m, f"not a duration: {text!r}"
    return float(m.group(1)) * {"µs": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def assert_clean(page, allowed_failures=()):
    assert page["console_errors"] == []
    assert page["page_errors"] == []
    failed = [f for f in page["failed_requests"] if not any(a in f for a in allowed_failures)]
    assert failed == []


def assert_charts(page, ids):
    charts = {c["id"]: c for c in page["charts"]}
    assert sorted(charts) == sorted(ids)
    for c in charts.values():
        assert c["drawn"], f"{c['id']} has an empty canvas"
        assert c["points"] > 0, f"{c['id']} drew no values"


def assert_numbers_match(page, doc):
    m = doc["metrics"]
    assert value(page, "http_reqs") == count_text(m["http_reqs"]["count"])
    assert value(page, "error_rate") == f"{m['http_req_failed']['rate'] * 100:.2f}%"
    p95 = m["http_req_duration"]["p95"]
    assert parse_ms(value(page, "p95")) == pytest.approx(p95, rel=0.01, abs=0.01)
    for key in ("sent", "completed", "failed", "timed_out", "in_flight"):
        assert value(page, f"ledger-{key}") == count_text(doc["ledger"][key]), key
    for kind, n in doc["errors"].items():
        assert value(page, f"errors-{kind}") == count_text(n), kind
    stages = values(page, "stage-requests")
    expected = [(sc["name"], st["index"], st["requests"]) for sc in doc["scenarios"] for st in sc["stages"]]
    assert [(v["scenario"], v["stage"], v["text"]) for v in stages] == \
        [(s, i, count_text(n)) for s, i, n in expected]
    failed = [v["text"] for v in values(page, "stage-failed")]
    assert failed == [count_text(st["failed"]) for sc in doc["scenarios"] for st in sc["stages"]]
    assert [v["text"] for v in values(page, "name-requests")] == [count_text(n["requests"]) for n in doc["names"]]
    assert [v["text"] for v in values(page, "check-fails")] == [count_text(c["fails"]) for c in doc["checks"]]


def test_report_in_browser(tmp_path):
    doc = make_summary.build()
    page = report_page(tmp_path, doc)
    assert_clean(page)
    assert page["requests"] == [], "the report must not load anything"
    assert_charts(page, TIME_CHARTS + LATENCY_CHARTS)
    assert_numbers_match(page, doc)
    assert page["status"] == "thresholds crossed"
    bp = value(page, "breaking-point")
    assert "stage 3 of shop" in bp and "0:40 into the run" in bp
    assert doc["breaking_point"]["description"] in bp
    assert [v["text"] for v in values(page, "threshold-mark")] == ["✓" if t["ok"] else "✗" for t in doc["thresholds"]]


def test_report_shows_hostile_strings_as_text(tmp_path):
    doc = make_summary.build(hostile=True)
    page = report_page(tmp_path, doc)
    assert_clean(page)
    assert page["title"] == "pelt report: scenarios/shop-ramp.toml"
    assert [v["text"] for v in values(page, "error-sample")] == doc["error_samples"]
    assert [v["text"] for v in values(page, "name-name")] == [n["name"] for n in doc["names"]]
    assert [v["text"] for v in values(page, "check-name")] == [c["name"] for c in doc["checks"]]


def test_report_without_timeseries(tmp_path):
    doc = make_summary.build(timeseries=False)
    page = report_page(tmp_path, doc)
    assert_clean(page)
    assert len(values(page, "no-timeseries")) == 1
    assert_charts(page, LATENCY_CHARTS)  # drawn from latency_histogram_us
    assert_numbers_match(page, doc)


def test_report_of_a_real_run(tmp_path):
    with Target() as tg:
        cp, doc = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/")], timeout=60)
    assert cp.returncode == 0, cp.stderr
    page = report_page(tmp_path, doc, "real")
    assert_clean(page)
    assert value(page, "http_reqs") == count_text(doc["metrics"]["http_reqs"]["count"])
    assert value(page, "ledger-sent") == count_text(doc["ledger"]["sent"])
    for c in page["charts"]:
        assert c["drawn"], c


def test_live_dashboard(tmp_path):
    require_browser()
    assert os.access(FEED_BIN, os.X_OK), f"{FEED_BIN} is missing: build the tests"
    ticks, final = tmp_path / "ticks.jsonl", tmp_path / "final.json"
    with open(ticks, "w") as f:
        for k in range(1, 13):
            f.write(json.dumps(make_summary.build(upto=k, live=True)) + "\n")
    final_doc = make_summary.build()
    final.write_text(json.dumps(final_doc))
    linger_ms = 2000
    feed = subprocess.Popen([FEED_BIN, "--docs", ticks, "--final", final, "--interval-ms", "1000",
                             "--linger-ms", str(linger_ms)], stdout=subprocess.PIPE, text=True)
    try:
        first = []
        reader = threading.Thread(target=lambda: first.append(feed.stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        assert first and first[0].startswith("listening on http://127.0.0.1:"), first
        url = first[0].split("listening on ", 1)[1].strip()
        # Stay on the page until well after the server has gone away.
        page = inspect(url, "--live", "--max-seconds", "40", "--after-end-ms", str(linger_ms + 2000))
        assert feed.wait(timeout=30) == 0
    finally:
        if feed.poll() is None:
            feed.kill()
            feed.wait()
    # The page closes its event stream after `end`; that aborted request is the only failure.
    assert_clean(page, allowed_failures=["/events: net::ERR_ABORTED"])
    live = page["live"]
    assert len(live["rps"]) >= 6, f"req/s changed fewer than 5 times: {live['rps']}"
    assert live["statuses"][0] == "running"
    assert page["status"] == "finished · thresholds crossed"
    assert any(v not in ("", "—") for v in live["legend_after_end"]), live["legend_after_end"]
    assert_charts(page, TIME_CHARTS + LATENCY_CHARTS)
    # After the end the tables hold the final document.
    assert value(page, "ledger-sent") == count_text(final_doc["ledger"]["sent"])
    stages = [v["text"] for v in values(page, "stage-requests")]
    assert stages == [count_text(st["requests"]) for st in final_doc["scenarios"][0]["stages"]]


def test_live_dashboard_of_a_real_run(tmp_path, target):
    """pelt run with --dashboard: the page opened during a 10 s ramp sees req/s change at least
    5 times, shows the run finished afterwards and keeps working once pelt has gone."""
    require_browser()
    scen = tmp_path / "ramp.toml"
    scen.write_text(f'[target]\nurl = "{target.url("/")}"\n[scenarios.ramp]\n'
                    'executor = "ramping-arrival-rate"\nstart_rate = 50\ntime_unit = "1s"\n'
                    'pre_allocated_vus = 5\nstages = [{ duration = "5s", target = 400 }, '
                    '{ duration = "5s", target = 100 }]\n')
    port = harness.free_port()
    summary = tmp_path / "s.json"
    proc = subprocess.Popen([BIN, "run", str(scen), "--quiet", f"--dashboard=127.0.0.1:{port}",
                             "--dashboard-linger", "3s", "--summary-json", str(summary)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert harness.wait_for_port(port, 10), "the dashboard listens"
        page = inspect(f"http://127.0.0.1:{port}/", "--live", "--max-seconds", "30",
                       "--after-end-ms", "4000")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_clean(page, allowed_failures=["/events: net::ERR_ABORTED"])
    live = page["live"]
    assert len(live["rps"]) >= 6, f"req/s changed fewer than 5 times: {live['rps']}"
    assert live["statuses"][0] == "running", live["statuses"]
    assert page["status"].startswith("finished"), page["status"]
    assert any(v not in ("", "—") for v in live["legend_after_end"]), live["legend_after_end"]
    assert_charts(page, TIME_CHARTS + LATENCY_CHARTS)
    doc = json.loads(summary.read_text())
    assert value(page, "ledger-sent") == count_text(doc["ledger"]["sent"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
