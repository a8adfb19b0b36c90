#!/usr/bin/env python3
"""What each output costs on the request path: pelt with an output on against pelt without it,
back to back in every round, against the same nginx (one worker, pinned to core 0; pelt on
core 1). Reported per output: the median over rounds of the per-round ratio of requests per
second (target: at least 0.97) and of CPU per request.

Outputs measured: the live dashboard with the HTML report (--dashboard --report), InfluxDB
(--out influxdb, a real influxd) and Prometheus remote write (--out prometheus-rw, a real
prometheus), and the time-series file (--timeseries). Also the 10 MB upload case against wrk
(pelt-target's /sink): uploads per second and peak RSS.

Environment: BENCH_DURATION (seconds per run, default 3), BENCH_ROUNDS (default 5),
BENCH_OUTPUTS (comma-separated subset of dashboard,influxdb,remote_write,timeseries,upload).
"""
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
sys.path.insert(0, HERE)
from bench import (CLIENT_CORE, CORES, PELT, SERVER_CORE, WRK, core_busy_s, nginx_pids,  # noqa: E402
                   pin, run_client)
from harness import Nginx, Target, free_port  # noqa: E402
from outputs_support import InfluxDB, PrometheusReceiver  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WANTED = os.environ.get("BENCH_OUTPUTS", "dashboard,influxdb,remote_write,timeseries,upload").split(",")


def run_pelt(args, url):
    import re
    out, cpu, rss = run_client(pin([PELT] + args + [url], CLIENT_CORE), DURATION * 3 + 30)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "cpu_per_1k": cpu / max(requests, 1) * 1000, "rss_kb": rss}


def paired(base_args, extra_args, url):
    """Rounds of (without, with) back to back, alternating the order; per-round ratios."""
    pairs = []
    for r in range(ROUNDS):
        runs = {}
        for which in (("off", "on") if r % 2 == 0 else ("on", "off")):
            args = base_args + (extra_args() if which == "on" else [])
            runs[which] = run_pelt(args, url)
            time.sleep(0.3)
        pairs.append(runs)
    return {
        "rps_ratio": statistics.median(p["on"]["rps"] / p["off"]["rps"] for p in pairs),
        "cpu_ratio": statistics.median(p["on"]["cpu_per_1k"] / p["off"]["cpu_per_1k"] for p in pairs),
        "rounds": [round(p["on"]["rps"] / p["off"]["rps"], 3) for p in pairs],
        "off_rps": statistics.median(p["off"]["rps"] for p in pairs),
    }


def upload_case(target_url, tmp):
    """10 MB POST bodies, 100 connections: pelt against wrk, back to back."""
    import re
    script = os.path.join(tmp, "upload.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("x", 10 * 1024 * 1024)\n')
    rows = []
    for r in range(ROUNDS):
        row = {}
        for tool in (("pelt", "wrk") if r % 2 == 0 else ("wrk", "pelt")):
            binary = PELT if tool == "pelt" else WRK
            started, server_before = time.time(), core_busy_s(SERVER_CORE)
            out, cpu, rss = run_client(pin([binary, "-t2", "-c100", f"-d{DURATION}s", "-s", script,
                                            target_url + "/sink"], CLIENT_CORE), DURATION * 3 + 60)
            # Each tool's own rate (completed uploads over the time it ran): a run that
            # overshoots -d by a few hundred milliseconds must not count as faster.
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            uploads = int(re.search(r"(\d+) requests in", out).group(1))
            server_after, took = core_busy_s(SERVER_CORE), time.time() - started
            server_busy = (server_after - server_before) / took if server_before is not None else None
            row[tool] = {"uploads_per_s": rate, "rss_kb": rss, "cpu_ms_per_upload":
                         cpu * 1000 / max(uploads, 1), "server_busy": server_busy}
            time.sleep(0.5)
        rows.append(row)
    return {
        "uploads_ratio": statistics.median(x["pelt"]["uploads_per_s"] / max(x["wrk"]["uploads_per_s"], 1e-9) for x in rows),
        "rss_ratio": statistics.median(x["pelt"]["rss_kb"] / max(x["wrk"]["rss_kb"], 1) for x in rows),
        "pelt_uploads_per_s": statistics.median(x["pelt"]["uploads_per_s"] for x in rows),
        "wrk_uploads_per_s": statistics.median(x["wrk"]["uploads_per_s"] for x in rows),
        "rounds": [round(x["pelt"]["uploads_per_s"] / max(x["wrk"]["uploads_per_s"], 1e-9), 3)
                   for x in rows],
        "cpu_ms_per_upload": {t: statistics.median(x[t]["cpu_ms_per_upload"] for x in rows)
                              for t in ("pelt", "wrk")},
        "server_busy": {t: (statistics.median(x[t]["server_busy"] for x in rows)
                            if rows[0][t]["server_busy"] is not None else None)
                        for t in ("pelt", "wrk")},
        "pelt_rss_mb": statistics.median(x["pelt"]["rss_kb"] for x in rows) / 1024,
        "wrk_rss_mb": statistics.median(x["wrk"]["rss_kb"] for x in rows) / 1024,
    }


def main():
    results = {}
    base = ["-t1", "-c50", f"-d{DURATION}s"]
    with tempfile.TemporaryDirectory() as tmp, Nginx(access_log=False) as ng, \
            Target(threads=1) as tg:
        if CORES >= 2:
            import subprocess
            for pid in [tg.proc.pid] + nginx_pids(ng):
                subprocess.run(["taskset", "-pc", str(SERVER_CORE), str(pid)], stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{ng.port}/"
        run_pelt(base, url)  # warm-up
        if "dashboard" in WANTED:
            report = os.path.join(tmp, "r.html")
            results["dashboard"] = paired(base, lambda: ["--dashboard=127.0.0.1:0", "--report", report], url)
        if "timeseries" in WANTED:
            results["timeseries"] = paired(base, lambda: ["--timeseries", os.path.join(tmp, "ts.csv")], url)
        if "influxdb" in WANTED:
            with InfluxDB() as db:
                db.query("CREATE DATABASE pelt")
                results["influxdb"] = paired(base, lambda: ["--out", f"influxdb={db.url}/pelt"], url)
        if "remote_write" in WANTED:
            with PrometheusReceiver() as prom:
                results["remote_write"] = paired(base, lambda: ["--out", f"prometheus-rw={prom.write_url}"], url)
        if "upload" in WANTED:
            results["upload"] = upload_case(f"http://127.0.0.1:{tg.port}", tmp)
    print("\noutputs: pelt with the output on / off, median of per-round ratios (target: req/s >= 0.97)")
    for name, r in results.items():
        if name == "upload":
            continue
        met = "met" if r["rps_ratio"] >= 0.97 else "NOT met"
        print(f"  {name:<13} req/s {r['rps_ratio']:.3f}  CPU/request {r['cpu_ratio']:.3f}  "
              f"{met:<8} rounds {r['rounds']}  (off: {r['off_rps']:.0f} req/s)")
    if "upload" in results:
        u = results["upload"]
        print(f"\n10 MB uploads, -c100: pelt {u['pelt_uploads_per_s']:.1f}/s vs wrk {u['wrk_uploads_per_s']:.1f}/s "
              f"(ratio {u['uploads_ratio']:.2f}, target >= 1.00); peak RSS pelt {u['pelt_rss_mb']:.0f} MB vs "
              f"wrk {u['wrk_rss_mb']:.0f} MB (ratio {u['rss_ratio']:.2f}, target <= 1.00)")
        print(f"  rounds {u['rounds']}; client CPU per upload pelt {u['cpu_ms_per_upload']['pelt']:.2f} ms "
              f"vs wrk {u['cpu_ms_per_upload']['wrk']:.2f} ms")
        if u["server_busy"]["pelt"] is not None:
            print(f"  server core busy: {u['server_busy']['pelt']:.0%} with pelt, "
                  f"{u['server_busy']['wrk']:.0%} with wrk")
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "overhead.json"), "w") as f:
        json.dump({"duration_s": DURATION, "rounds": ROUNDS, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
