#!/usr/bin/env python3
"""Writes synthetic pelt summary documents (schema pelt.summary/v2) for the report tests.

The run it describes: one ramping-arrival-rate scenario "shop" with three 20 s stages
(100, 300 and 600 iterations/s) against a service that keeps up to about 350 requests/s.
In the third stage latency climbs, 503s and timeouts appear, iterations are dropped and the
send lag grows: the breaking point. Two request names (GET /products, POST /checkout), two
checks, three thresholds (two crossed). Every total is the sum of the per-second buckets, as
the contract in the summary documentation says.

  make_summary.py -o FILE                       the whole run
  make_summary.py --no-timeseries -o FILE       the same without "timeseries" (as older runs)
  make_summary.py --hostile -o FILE             names and samples holding </script> and <!--
  make_summary.py --live-ticks N -o FILE.jsonl  N documents, one per line, as a live run has them
                                                after 1, 2 ... N seconds ("live": true)
"""

import argparse
import json
import math
import random

STAGES = [(20, 100.0), (20, 300.0), (20, 600.0)]  # (duration s, target iterations/s)
START_RATE = 10.0  # iterations/s at the start of the ramp
CAPACITY = 350.0  # requests/s the synthetic service keeps up with
TIMEOUT_MS = 2000.0  # a request slower than this times out
VUS_MAX = 120  # the scenario's max_vus
P95_LIMIT_MS = 300  # the latency threshold: p(95)<300
NAMES = [("GET", "/products", 0.7), ("POST", "/checkout", 0.3)]
SUB_BITS = 8  # pelt's histogram: 2^8 sub-buckets per power of two


def bucket_lower(v):
    """The value pelt's histogram encodes for a sample of v microseconds."""
    if v < (2 << SUB_BITS):
        return v
    shift = v.bit_length() - (SUB_BITS + 1)
    return (v >> shift) << shift


class Hist:
    """A histogram of microsecond values with pelt's "h1" text encoding."""

    def __init__(self):
        self.buckets = {}
        self.count = self.sum = self.sum_sq = 0
        self.min = self.max = 0

    def add(self, v):
        v = int(v)
        b = bucket_lower(v)
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.min = v if self.count == 0 else min(self.min, v)
        self.max = max(self.max, v)
        self.count += 1
        self.sum += v
        self.sum_sq += v * v

    def merge(self, o):
        if o.count == 0:
            return
        for b, c in o.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + c
        self.min = o.min if self.count == 0 else min(self.min, o.min)
        self.max = max(self.max, o.max)
        self.count += o.count
        self.sum += o.sum
        self.sum_sq += o.sum_sq

    def percentile(self, p):
        """Nearest rank over the encoded buckets (min for 0, max for 100)."""
        if self.count == 0:
            return None
        if p <= 0:
            return self.min
        if p >= 100:
            return self.max
        rank = math.ceil(p / 100.0 * self.count)
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                return max(self.min, min(b, self.max))
        return self.max

    def encode(self):
        if self.count == 0:
            return ""
        pairs = ",".join(f"{b}:{self.buckets[b]}" for b in sorted(self.buckets))
        return f"h1 {self.count} {self.min} {self.max} 0 {self.sum} {self.sum_sq} {pairs}"

    def stats_ms(self):
        """pelt's histogram object for a duration metric, in milliseconds."""
        if self.count == 0:
            keys = ["avg", "min", "med", "max", "stdev", "p90", "p95", "p99", "p99_9", "p99_99"]
            return dict({k: 0.0 for k in keys}, count=0)
        mean = self.sum / self.count
        var = max(0.0, self.sum_sq / self.count - mean * mean)
        ms = lambda us: us / 1000.0  # noqa: E731
        return {"count": self.count, "avg": ms(mean), "min": ms(self.min), "max": ms(self.max),
                "med": ms(self.percentile(50)), "stdev": ms(math.sqrt(var)),
                "p90": ms(self.percentile(90)), "p95": ms(self.percentile(95)),
                "p99": ms(self.percentile(99)), "p99_9": ms(self.percentile(99.9)),
                "p99_99": ms(self.percentile(99.99))}


def target_rate(t):
    """The ramping-arrival-rate target at run time t (linear within a stage)."""
    start, prev = 0.0, START_RATE
    for dur, target in STAGES:
        if t < start + dur:
            return prev + (target - prev) * (t - start) / dur
        start, prev = start + dur, target
    return prev


def stage_of(t):
    start = 0.0
    for i, (dur, _) in enumerate(STAGES):
        if t < start + dur:
            return i
        start += dur
    return len(STAGES) - 1


class Bucket:
    """One second of the synthetic run, per scope."""

    def __init__(self):
        self.requests = self.failed = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
        self.status = {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0}
        self.bytes_sent = self.bytes_received = 0
        self.hist = Hist()


def simulate(seed=7):
    """Per-second buckets of the whole run: run scope, per name, and per-second extras."""
    rnd = random.Random(seed)
    seconds = sum(d for d, _ in STAGES)
    run, names, extra = [], {n[1]: [] for n in NAMES}, []
    checks = {"status is 200": [0, 0], "has items": [0, 0]}
    for sec in range(seconds):
        target = target_rate(sec + 0.5)
        load = target / CAPACITY
        sent = int(round(target * rnd.uniform(0.97, 1.03)))
        vus_needed = int(target * (0.02 + 0.05 * max(0.0, load - 0.8) ** 2 * 40))
        vus = min(VUS_MAX, 10 + vus_needed)
        dropped = max(0, sent - int(CAPACITY * 1.15)) if load > 1.0 else 0
        sent -= dropped
        median_ms = 12.0 * (1.0 + load ** 7)
        b, per_name = Bucket(), {n[1]: Bucket() for n in NAMES}
        for _ in range(sent):
            method, name, _ = NAMES[0] if rnd.random() < NAMES[0][2] else NAMES[1]
            nb = per_name[name]
            lat_ms = rnd.lognormvariate(math.log(median_ms), 0.45 if load < 1.0 else 0.75)
            for x in (b, nb):
                x.requests += 1
                x.bytes_sent += 120 if method == "GET" else 410
            if load > 1.0 and rnd.random() < 0.004 * load:
                for x in (b, nb):
                    x.failed += 1
                    x.errors["connect"] += 1
                continue
            if lat_ms > TIMEOUT_MS:
                for x in (b, nb):
                    x.failed += 1
                    x.errors["timeout"] += 1
                continue
            status_503 = load > 1.0 and rnd.random() < 0.05 * (load - 1.0) * 4
            if status_503:
                lat_ms = rnd.uniform(1.0, 4.0)
            for x in (b, nb):
                x.hist.add(max(50, int(lat_ms * 1000)))
                x.bytes_received += 180 if status_503 else (2400 if method == "GET" else 350)
                if status_503:
                    x.failed += 1
                    x.errors["status"] += 1
                    x.status["5xx"] += 1
                else:
                    x.status["2xx"] += 1
            checks["status is 200"][1 if status_503 else 0] += 1
            if method == "GET":
                checks["has items"][1 if status_503 or rnd.random() < 0.002 else 0] += 1
        lag_base = 0.05 if load < 1.0 else 40.0 * (load - 1.0) * (1 + sec % 3)
        extra.append({"vus": vus, "vus_max": max(20, min(VUS_MAX, vus + 10)),
                      "target_rate": round(target, 3), "iterations": b.requests,
                      "dropped": dropped, "lag": (lag_base, lag_base * 4, lag_base * 9 + 2)})
        run.append(b)
        for n in names:
            names[n].append(per_name[n])
    return run, names, extra, checks


def lat_columns(buckets):
    cols = {k: [] for k in ("avg", "min", "p50", "p90", "p95", "p99", "max")}
    for x in buckets:
        h = x.hist
        if h.count == 0:
            for k in cols:
                cols[k].append(None)
            continue
        cols["avg"].append(round(h.sum / h.count / 1000.0, 3))
        cols["min"].append(h.min / 1000.0)
        cols["max"].append(h.max / 1000.0)
        for k, p in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
            cols[k].append(h.percentile(p) / 1000.0)
    return cols


def series_of(scope, buckets, extra=None, **ident):
    s = dict(scope=scope, **ident)
    s["requests"] = [x.requests for x in buckets]
    s["failed"] = [x.failed for x in buckets]
    s["errors"] = {k: [x.errors[k] for x in buckets] for k in buckets[0].errors} if buckets else {}
    s["status"] = {k: [x.status[k] for x in buckets] for k in buckets[0].status} if buckets else {}
    s["bytes_sent"] = [x.bytes_sent for x in buckets]
    s["bytes_received"] = [x.bytes_received for x in buckets]
    s["latency_ms"] = lat_columns(buckets)
    s["latency_histogram_us"] = [x.hist.encode() for x in buckets]
    if extra is not None:
        s["vus"] = [e["vus"] for e in extra]
        s["vus_max"] = [e["vus_max"] for e in extra]
        s["target_vus"] = [None for _ in extra]
        s["target_rate"] = [e["target_rate"] for e in extra]
        s["iterations"] = [e["iterations"] for e in extra]
        s["dropped_iterations"] = [e["dropped"] for e in extra]
        s["interrupted_iterations"] = [0 for _ in extra]
        s["send_lag_ms"] = {k: [round(e["lag"][i], 3) for e in extra]
                            for i, k in enumerate(("p50", "p99", "max"))}
    return s


def merged(buckets):
    h = Hist()
    for x in buckets:
        h.merge(x.hist)
    return h


def total(buckets, attr):
    return sum(getattr(x, attr) for x in buckets)


def total_errors(buckets, kind):
    return sum(x.errors[kind] for x in buckets)


def fmt_ms(ms):
    return f"{ms / 1000.0:.2f}s" if ms >= 1000 else f"{ms:.2f}ms"


def build(upto=None, timeseries=True, hostile=False, live=False, seed=7):
    """The document after `upto` seconds (None: the whole run)."""
    run, names, extra, checks_all = simulate(seed)
    planned = len(run)
    n = planned if upto is None else max(1, min(upto, planned))
    run, extra = run[:n], extra[:n]
    names = {k: v[:n] for k, v in names.items()}
    hist = merged(run)
    completed = sum(x.hist.count for x in run)
    broken = total_errors(run, "connect")
    timed_out = total_errors(run, "timeout")
    status_err = total_errors(run, "status")
    requests = total(run, "requests")
    failed = total(run, "failed")
    in_flight = 0 if n < planned else 37
    duration = float(n) if n < planned else planned + 0.412
    ok_200 = completed - status_err
    # Checks scale with the share of the run done (the simulation counts them for the whole run).
    share = n / planned
    checks = [{"name": k, "passes": int(v[0] * share), "fails": int(v[1] * share)}
              for k, v in checks_all.items()]
    check_pass = sum(c["passes"] for c in checks)
    check_fail = sum(c["fails"] for c in checks)
    dur = hist.stats_ms()
    fail_rate = failed / requests if requests else 0.0
    check_rate = check_pass / (check_pass + check_fail) if check_pass + check_fail else 0.0

    stages, start, breaking = [], 0, None
    for i, (sdur, target) in enumerate(STAGES):
        part = run[start:min(start + sdur, n)]
        if not part:
            break
        sh = merged(part)
        reqs, fl = total(part, "requests"), total(part, "failed")
        ran = float(len(part))
        st = {"index": i, "target": target, "target_unit": "iterations/s",
              "start_seconds": float(start), "duration_seconds": float(sdur), "ran_seconds": ran,
              "requests": reqs, "rps": reqs / ran, "failed": fl,
              "error_rate": fl / reqs if reqs else 0.0,
              "dropped_iterations": sum(e["dropped"] for e in extra[start:start + len(part)]),
              "p50_ms": (sh.percentile(50) or 0) / 1000.0,
              "p95_ms": (sh.percentile(95) or 0) / 1000.0,
              "p99_ms": (sh.percentile(99) or 0) / 1000.0}
        stages.append(st)
        if breaking is None and (st["p95_ms"] >= P95_LIMIT_MS or st["error_rate"] >= 0.05):
            desc = (f"p(95)={fmt_ms(st['p95_ms'])} crossed p(95)<{P95_LIMIT_MS}"
                    if st["p95_ms"] >= P95_LIMIT_MS
                    else f"rate={st['error_rate'] * 100:.2f}% crossed rate<0.05")
            breaking = {"scenario": "shop", "stage": i, "description": desc,
                        "at_seconds": float(start)}
        start += sdur

    p95 = dur["p95"]
    thresholds = [
        {"metric": "http_req_duration", "key": "http_req_duration",
         "expression": f"p(95)<{P95_LIMIT_MS}", "ok": p95 < P95_LIMIT_MS, "has_data": True, "observed": p95, "text": f"p(95)={fmt_ms(p95)}",
         "abort_on_fail": False},
        {"metric": "http_req_failed", "key": "http_req_failed", "expression": "rate<0.05",
         "ok": fail_rate < 0.05, "has_data": True, "observed": fail_rate,
         "text": f"rate={fail_rate * 100:.2f}% ({failed} of {requests})", "abort_on_fail": False},
        {"metric": "checks", "key": "checks", "expression": "rate>0.95", "ok": check_rate > 0.95,
         "has_data": True, "observed": check_rate,
         "text": f"rate={check_rate * 100:.2f}% ({check_pass} of {check_pass + check_fail})",
         "abort_on_fail": False},
    ]
    ts_start_ms = 1765000000000
    lag = Hist()
    for e in extra:
        lag.add(int(e["lag"][0] * 1000))
    error_reasons = {}
    if broken:
        error_reasons["connect ECONNREFUSED"] = broken
    if timed_out:
        error_reasons["timeout"] = timed_out
    samples = []
    if broken:
        samples.append("connect: connection refused")
    if timed_out:
        samples.append("timeout: no response within the timeout")
    name_list = []
    for method, name, _ in NAMES:
        nb = names[name]
        nh = merged(nb)
        reasons = {}
        if total_errors(nb, "timeout"):
            reasons["timeout"] = total_errors(nb, "timeout")
        if total_errors(nb, "connect"):
            reasons["connect ECONNREFUSED"] = total_errors(nb, "connect")
        if total_errors(nb, "status"):
            reasons["status 503"] = total_errors(nb, "status")
        codes = {"200": nh.count - total_errors(nb, "status")}
        if total_errors(nb, "status"):
            codes["503"] = total_errors(nb, "status")
        name_list.append({"scenario": "shop", "name": name, "method": method,
                          "requests": total(nb, "requests"), "failed": total(nb, "failed"),
                          "status_codes": codes, "failure_reasons": reasons,
                          "http_req_duration": nh.stats_ms()})
    if hostile:
        samples.append('read: </script><script>document.title="pwned"</script> <!-- & "quotes"')
        name_list[1]["name"] = "/checkout</script><!--"
        checks[0]["name"] = "status is 200 </SCRIPT> <!-- -->"
    iters = sum(e["iterations"] for e in extra)
    dropped = sum(e["dropped"] for e in extra)
    bytes_in, bytes_out = total(run, "bytes_received"), total(run, "bytes_sent")
    doc = {
        "schema": "pelt.summary/v2", "version": "0.1.0", "run_id": "20261206T101500Z-4242",
        "command_line": "pelt run scenarios/shop-ramp.toml --target http://127.0.0.1:8080 "
                        "--summary-json out/shop.json",
        "started_at": "2025-12-06T05:46:40.000Z",
        "ended_at": f"2025-12-06T05:{46 + int(40 + duration) // 60:02d}:"
                    f"{(40 + duration) % 60:06.3f}Z",
        "target": "http://127.0.0.1:8080", "mode": "scenario",
        "source": "scenarios/shop-ramp.toml", "threads": 2, "connections": 0, "rate": 0.0,
        "duration_seconds": duration, "interrupted": False, "aborted": False, "abort_reason": "",
        "thresholds_ok": all(t["ok"] for t in thresholds), "thresholds": thresholds,
        "metrics": {
            "http_reqs": {"count": requests, "rate": requests / duration},
            "http_req_duration": dur,
            "http_req_failed": {"rate": fail_rate, "fails": failed, "total": requests},
            "iterations": {"count": iters, "rate": iters / duration},
            "dropped_iterations": {"count": dropped},
            "checks": {"rate": check_rate, "passes": check_pass, "fails": check_fail},
            "data_received": {"count": bytes_in, "rate": bytes_in / duration},
            "data_sent": {"count": bytes_out, "rate": bytes_out / duration},
            "vus_max": {"value": max(e["vus_max"] for e in extra)},
            "send_lag": lag.stats_ms(), "service_time": dur, "http_req_waiting": dur,
        },
        "latency_us": {"min": hist.min, "max": hist.max, "mean": hist.sum / max(1, hist.count),
                       "stdev": dur["stdev"] * 1000.0,
                       "percentiles": {k: hist.percentile(float(k))
                                       for k in ("50", "75", "90", "99", "99.9", "99.99")}},
        "latency_histogram_us": hist.encode(),
        "requests_per_thread_per_second": {"mean": requests / duration / 2, "stdev": 40.0,
                                           "max": max(x.requests for x in run)},
        "ledger": {"sent": requests + in_flight, "completed": completed, "failed": broken,
                   "timed_out": timed_out, "in_flight": in_flight},
        "errors": {"connect": broken, "read": 0, "write": 0, "timeout": timed_out,
                   "status": status_err},
        "error_reasons": error_reasons, "error_samples": samples,
        "status_codes": dict({"200": ok_200}, **({"503": status_err} if status_err else {})),
        "connects": 64, "reconnects": 3, "tls": {"handshakes": 0, "resumed": 0},
        "checks": checks, "script_errors": {"count": 0, "samples": []},
        "names": name_list,
        "scenarios": [{"name": "shop", "executor": "ramping-arrival-rate", "start_seconds": 0.0,
                       "iterations": iters, "dropped_iterations": dropped,
                       "interrupted_iterations": 0,
                       "vus_max": max(e["vus_max"] for e in extra), "tags": {"team": "store"},
                       "stages": stages}],
        "breaking_point": breaking,
    }
    if live:
        doc.update({"live": True, "state": "running" if n < planned else "finished",
                    "elapsed_seconds": float(n), "planned_seconds": float(planned)})
    if timeseries:
        series = [series_of("run", run, extra),
                  series_of("scenario", run, extra, scenario="shop")]
        for method, name, _ in NAMES:
            shown = name_list[[x[1] for x in NAMES].index(name)]["name"]
            series.append(series_of("name", names[name], scenario="shop", name=shown,
                                    method=method))
        doc["timeseries"] = {"start_unix_ms": ts_start_ms, "t": list(range(n)),
                             "width": [1] * n, "series": series}
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--no-timeseries", action="store_true")
    ap.add_argument("--hostile", action="store_true")
    ap.add_argument("--live-ticks", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    with open(a.output, "w") as f:
        if a.live_ticks:
            for k in range(1, a.live_ticks + 1):
                f.write(json.dumps(build(upto=k, live=True, hostile=a.hostile, seed=a.seed)) + "\n")
        else:
            json.dump(build(timeseries=not a.no_timeseries, hostile=a.hostile, seed=a.seed), f,
                      indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
