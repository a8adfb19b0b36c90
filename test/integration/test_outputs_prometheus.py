#!/usr/bin/env python3
"""--out prometheus-rw against a real Prometheus (Debian's, with
--web.enable-remote-write-receiver): a 30-second synthetic run is pushed once a second through
pelt's remote-write output; Prometheus must then hold exactly the series of pelt's /metrics
(same names and labels, plus the --out-label), one sample per second each at the pushed
timestamps, and the exact request counts.
"""

import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outputs_support import PrometheusReceiver, SyntheticRun, run_probe  # noqa: E402

RUN_ID = "rw-run-1"


@pytest.fixture(scope="module")
def pushed():
    """(prometheus, synthetic run, probe result) after pushing the run once."""
    with PrometheusReceiver() as prom, tempfile.TemporaryDirectory() as tmp:
        run = SyntheticRun(seconds=30, run_id=RUN_ID)
        ticks = run.write_ticks(os.path.join(tmp, "ticks.jsonl"))
        result, cp = run_probe(["push", "--out", f"prometheus-rw={prom.write_url}",
                                "--out-label", "env=ci", "--run-id", RUN_ID, "--ticks", ticks,
                                "--flush-timeout", "10000"])
        assert result is not None and cp.returncode == 0, cp.stderr
        yield prom, run, result


def exposition_series(text, extra):
    """{frozenset(labels incl. __name__)} of the /metrics text, with the extra labels added."""
    out = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head = line.rsplit(" ", 1)[0]
        name, _, rest = head.partition("{")
        labels = {"__name__": name}
        rest = rest.rstrip("}")
        i = 0
        while i < len(rest):
            eq = rest.index("=", i)
            key = rest[i:eq]
            j = eq + 2
            value = ""
            while rest[j] != '"':
                if rest[j] == "\\":
                    j += 1
                    value += "\n" if rest[j] == "n" else rest[j]
                else:
                    value += rest[j]
                j += 1
            if value:
                labels[key.strip(",")] = value
            i = j + 2 if j + 1 < len(rest) and rest[j + 1] == "," else j + 1
        for k, v in extra.items():
            labels.setdefault(k, v)
        out.add(frozenset(labels.items()))
    return out


def end_time(run):
    return (run.start_ms + run.seconds * 1000) / 1000.0


def test_every_sample_was_accepted(pushed):
    _, _, result = pushed
    out = result["outputs"][0]
    assert out["dropped"]["total"] == 0, out
    assert out["points_sent"] > 0
    assert out["flushed"] is True


def test_series_are_those_of_the_metrics_endpoint(pushed):
    prom, run, result = pushed
    r = prom.api("series", [("match[]", f'{{run_id="{RUN_ID}"}}'), ("start", "0")])
    assert r["status"] == "success", r
    stored = {frozenset(s.items()) for s in r["data"]}
    expected = exposition_series(result["exposition"], {"env": "ci"})
    assert stored == expected
    # Every sample pelt counts as sent is stored: one per series present in each push.
    stored_samples = 0.0
    for name in sorted({dict(s)["__name__"] for s in expected}):
        v = prom.vector(f'sum(count_over_time({name}{{run_id="{RUN_ID}"}}[10m]))', end_time(run))
        stored_samples += sum(v.values())
    assert stored_samples == result["outputs"][0]["points_sent"]


def test_request_counts_match_exactly(pushed):
    prom, run, _ = pushed
    got = prom.vector(f'pelt_http_requests_total{{run_id="{RUN_ID}"}}', end_time(run))
    totals = {}
    for labels, value in got.items():
        d = dict(labels)
        assert d["env"] == "ci"
        totals[(d["scenario"], d["name"], d["method"], d["status"])] = value
    assert totals == {k: float(v) for k, v in run.status_totals().items()}
    total = prom.vector(f'sum(pelt_http_requests_total{{run_id="{RUN_ID}"}})', end_time(run))
    assert list(total.values()) == [float(run.total_requests())]
    # Half-way through, the counter holds what had happened by then.
    mid = prom.vector(f'sum(pelt_http_requests_total{{run_id="{RUN_ID}"}})',
                      (run.start_ms + 15 * 1000) / 1000.0)
    assert list(mid.values()) == [float(sum(run.status_totals(upto=15).values()))]


def test_one_sample_per_second_at_the_pushed_times(pushed):
    prom, run, _ = pushed
    r = prom.api("query", [("query", f'pelt_vus{{run_id="{RUN_ID}", scenario="shop"}}[5m]'),
                           ("time", f"{end_time(run):.3f}")])
    assert r["status"] == "success", r
    (series,) = r["data"]["result"]
    assert series["metric"]["team"] == "payments"  # the scenario's tag, as on /metrics
    times = [round(float(t) * 1000) for t, _ in series["values"]]
    assert times == [run.start_ms + (i + 1) * 1000 for i in range(run.seconds)]
    assert [float(v) for _, v in series["values"]] == [run.vus(i, "shop")
                                                       for i in range(run.seconds)]


def test_histogram_count_matches_requests_answered(pushed):
    prom, run, _ = pushed
    got = prom.vector(f'sum(pelt_http_request_duration_seconds_count{{run_id="{RUN_ID}"}})',
                      end_time(run))
    answered = sum(n for k, n in run.status_totals().items() if k[3] != "0")
    assert list(got.values()) == [float(answered)]
    inf = prom.vector(f'sum(pelt_http_request_duration_seconds_bucket{{run_id="{RUN_ID}", '
                      f'le="+Inf"}})', end_time(run))
    assert list(inf.values()) == [float(answered)]
    p99 = prom.vector(f'histogram_quantile(0.99, sum by (le) (pelt_http_request_duration_seconds'
                      f'_bucket{{run_id="{RUN_ID}"}}))', end_time(run))
    assert 0 < list(p99.values())[0] <= 0.05


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
