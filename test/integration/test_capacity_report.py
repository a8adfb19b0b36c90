"""The capacity section of the HTML report, in a real browser: a summary with a `capacity`
object (made with test/data/make_summary.py plus a search over five probes) shows the answer,
a row per probe with its rate, p95 and verdict, and the chart of p95 against rate with one
point per probe. Without `capacity` the section is absent. See test_report_browser.py for the
tools (headless chromium through web/tools/inspect-page.mjs)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "data"))
import make_summary  # noqa: E402
from test_report_browser import assert_clean, report_page, values  # noqa: E402


def probe(index, rate, p95, verdict, reason=""):
    ok = verdict == "pass"
    return {"index": index, "rate": rate, "start_seconds": index * 7.0, "window_from_seconds": index * 7.0 + 2,
            "window_to_seconds": index * 7.0 + 6, "requests": int(rate * 4), "rps": rate, "failed": 0,
            "error_rate": 0.0, "p50_ms": p95 / 2, "p90_ms": p95 * 0.9, "p95_ms": p95, "p99_ms": p95 * 1.2,
            "max_ms": p95 * 1.5, "dropped_iterations": 0, "send_lag_p50_ms": 0.05, "send_lag_p95_ms": 0.2,
            "vus_max": 40, "verdict": verdict, "ok": ok, "reason": reason,
            "objectives": [{"metric": "http_req_duration", "key": "http_req_duration", "expression": "p(95)<200",
                            "op": "<", "limit": 200, "ok": p95 < 200, "has_data": True, "observed": p95,
                            "text": f"p(95)={p95:.2f}ms"}]}


def capacity_doc():
    doc = make_summary.build()
    probes = [probe(0, 100, 51, "pass"), probe(1, 200, 55, "pass"), probe(2, 400, 900, "objectives", "p95 900 ms"),
              probe(3, 283, 420, "objectives", "p95 420 ms"), probe(4, 238, 80, "pass")]
    doc["capacity"] = {
        "scenario": "shop", "max_sustainable_rate": 238.0, "first_failing_rate": 283.0, "limited_by": "objectives",
        "complete": True, "rate_unit": "iterations/s", "start_rate": 100, "max_rate": 5000, "step_factor": 2,
        "precision": 0.05, "hold_seconds": 4, "settle_seconds": 2, "best_probe": 4, "failing_probe": 3,
        "headline": "maximum sustainable rate: 238 req/s (p95 80.0 ms < 200 ms); first failing: 283 req/s (p95 420 ms)",
        "probes": probes}
    return doc


def test_capacity_section(tmp_path):
    doc = capacity_doc()
    page = report_page(tmp_path, doc, "capacity")
    assert_clean(page)
    [headline] = [v["text"] for v in values(page, "capacity-headline")]
    assert doc["capacity"]["headline"] in headline
    assert [v["text"] for v in values(page, "capacity-max")] == ["238 req/s"]
    assert [v["text"] for v in values(page, "capacity-failing")] == ["283 req/s"]
    assert [v["text"] for v in values(page, "probe-rate")] == ["100", "200", "400", "283", "238"]
    assert [v["text"] for v in values(page, "probe-p95")] == ["51.0ms", "55.0ms", "900ms", "420ms", "80.0ms"]
    verdicts = [v["text"] for v in values(page, "probe-verdict")]
    assert verdicts == ["✓ pass", "✓ pass", "✗ objectives", "✗ objectives", "✓ pass"]
    charts = {c["id"]: c for c in page["charts"]}
    assert "chart-capacity" in charts
    # Five probes as points (passing and failing series) and the objective's line at each rate.
    assert charts["chart-capacity"]["drawn"]
    assert charts["chart-capacity"]["points"] == 5 + 5


def test_no_capacity_section_without_a_search(tmp_path):
    page = report_page(tmp_path, make_summary.build(), "plain")
    assert_clean(page)
    assert values(page, "capacity-headline") == []
    assert "chart-capacity" not in {c["id"] for c in page["charts"]}
