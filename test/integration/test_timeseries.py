"""The per-second time series: the summary's `timeseries` section and --timeseries FILE (CSV, or
JSON lines for .jsonl). Every request that ended is in exactly one second, so the per-second
requests of each scope add up to the summary's http_reqs exactly; names add up to their
scenario; failures without a response are status 0; the columns have one entry per bucket."""
import csv
import json
import math

import pytest

from harness import read_json, run_pelt_for_json


def scenario_file(tmp_path, target):
    """Two scenarios: a closed-loop one with two request names (one of them failing with 500)
    and an open-loop one, for 3 seconds."""
    path = tmp_path / "two.toml"
    path.write_text(f"""
[target]
url = "{target.url('/')}"
[scenarios.browse]
executor = "constant-vus"
vus = 2
duration = "3s"
script = "{tmp_path / 'names.lua'}"
[scenarios.open]
executor = "constant-arrival-rate"
rate = 50
time_unit = "1s"
duration = "3s"
pre_allocated_vus = 2
path = "/delay/5"
""")
    (tmp_path / "names.lua").write_text("""
local n = 0
request = function()
  n = n + 1
  if n % 4 == 0 then
    pelt.name("broken")
    return wrk.format("GET", "/status/500")
  end
  pelt.name("home")
  return wrk.format("GET", "/")
end
""")
    return str(path)


def series(doc, scope, scenario=None, name=None):
    for s in doc["timeseries"]["series"]:
        if s["scope"] == scope and s.get("scenario") == scenario and s.get("name") == name:
            return s
    raise AssertionError(f"no {scope} series {scenario}/{name} in {[(s['scope'], s.get('scenario'), s.get('name')) for s in doc['timeseries']['series']]}")


def test_series_add_up_to_the_summary(checks, target, tmp_path):
    csv_path = tmp_path / "ts.csv"
    cp, doc = run_pelt_for_json(["run", scenario_file(tmp_path, target), "--quiet",
                                 "--timeseries", str(csv_path)])
    checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-300:]!r})")
    ts = doc["timeseries"]
    n = len(ts["t"])
    checks.check(4 <= n <= 5, f"a 3 s run has 4 or 5 one-second buckets, got {ts['t']}")
    checks.equal(ts["width"], [1] * n, "no bucket coarsened in a short run")
    checks.equal(ts["t"], list(range(n)), "buckets follow each other")
    for s in ts["series"]:
        for key in ("requests", "failed", "bytes_sent", "latency_histogram_us"):
            checks.equal(len(s[key]), n, f"{s['scope']} {s.get('name')}: {key} has one entry per bucket")
    run = series(doc, "run")
    total = doc["metrics"]["http_reqs"]["count"]
    checks.equal(sum(run["requests"]), total, "run: per-second requests add up to http_reqs")
    checks.equal(sum(run["failed"]), doc["metrics"]["http_req_failed"]["fails"],
                 "run: per-second failures add up to http_req_failed")
    checks.equal(sum(run["bytes_received"]), doc["metrics"]["data_received"]["count"],
                 "run: bytes received add up")
    checks.equal(sum(run["iterations"]), doc["metrics"]["iterations"]["count"], "run: iterations add up")
    browse = series(doc, "scenario", "browse")
    home = series(doc, "name", "browse", "home")
    broken = series(doc, "name", "browse", "broken")
    checks.equal([a + b for a, b in zip(home["requests"], broken["requests"])], browse["requests"],
                 "the names of a scenario add up to it, second by second")
    checks.equal(sum(broken["status_codes"]["500"]), sum(broken["requests"]), "broken: every response a 500")
    checks.equal(sum(broken["failed"]), sum(broken["requests"]), "broken: every request failed")
    checks.check(all(v == 0 for v in home["failed"]), "home: nothing failed")
    opened = series(doc, "scenario", "open")
    checks.check(all(r is None or abs(r - 50) < 1e-6 for r in opened["target_rate"]),
                 f"open: target rate 50/s, got {opened['target_rate']}")
    checks.check(all(v is None for v in browse["target_rate"]), "browse: no target rate")
    checks.check(any(v == 2 for v in browse["target_vus"]), f"browse: target 2 VUs, got {browse['target_vus']}")
    p50 = [v for v in opened["latency_ms"]["p50"] if v is not None]
    checks.check(p50 and all(5.0 <= v < 50 for v in p50), f"open: /delay/5 p50 per second, got {p50}")
    # The CSV: a header with units, one row per bucket and series, the same sums.
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    checks.check("latency_p95_ms" in rows[0] and "bytes_received" in rows[0], f"CSV header: {list(rows[0])}")
    checks.equal(sum(int(r["requests"]) for r in rows if r["scope"] == "run"), total,
                 "CSV: run rows add up to http_reqs")
    checks.equal(len([r for r in rows if r["scope"] == "run"]), n, "CSV: one run row per bucket")


def test_jsonl_and_quick_mode(checks, target, tmp_path):
    path = tmp_path / "ts.jsonl"
    cp, doc = run_pelt_for_json(["-t2", "-c4", "-d2s", "--timeseries", str(path), target.url("/")])
    checks.equal(cp.returncode, 0, "exit code")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    run_rows = [r for r in lines if r["scope"] == "run"]
    checks.equal(sum(r["requests"] for r in run_rows), doc["metrics"]["http_reqs"]["count"],
                 "JSON lines: run rows add up to http_reqs")
    checks.check(all(r["vus"] <= 4 for r in run_rows), "VUs per second within -c")
    checks.check(any(r["target_vus"] == 4 for r in run_rows), f"target 4 VUs: {[r['target_vus'] for r in run_rows]}")
    checks.check(all(isinstance(r["latency_p99_ms"], (int, float)) for r in run_rows if r["requests"]),
                 "latency columns are numbers where requests ended")
    checks.equal(sum(s["requests"][i] for s in doc["timeseries"]["series"] if s["scope"] == "name"
                     for i in range(len(doc["timeseries"]["t"]))),
                 doc["metrics"]["http_reqs"]["count"], "quick mode: the name series add up too")
