#!/usr/bin/env python3
"""Open loop: achieved rate against requested, from 100 to 50,000 req/s.

Runs `pelt -R rate` against nginx on loopback for each rate and reports what came back: the
arrivals the plan held (rate * duration), requests sent, completed and in flight at the end,
dropped arrivals, the completed rate, and the send lag (how late requests left compared with
the schedule) and latency percentiles. Server pinned to core 0, pelt to core 1 when there are
two cores.

Environment: PELT_BIN, OPENLOOP_RATES (comma-separated, default 100,1000,5000,10000,20000,50000),
OPENLOOP_DURATION (seconds, default 5), OPENLOOP_THREADS (default 2),
OPENLOOP_CONNECTIONS (default 400). JSON goes to bench/out/openloop.json.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import Nginx, run_pelt_json  # noqa: E402

RATES = [int(r) for r in os.environ.get("OPENLOOP_RATES", "100,1000,5000,10000,20000,50000").split(",")]
DURATION = int(os.environ.get("OPENLOOP_DURATION", "5"))
THREADS = int(os.environ.get("OPENLOOP_THREADS", "2"))
CONNECTIONS = int(os.environ.get("OPENLOOP_CONNECTIONS", "400"))
PIN = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def main():
    rows = []
    with Nginx(access_log=False) as ng:
        if PIN:
            subprocess.run(["taskset", "-apc", "0", str(ng.proc.pid)], stdout=subprocess.DEVNULL)
            for child in subprocess.run(["pgrep", "-P", str(ng.proc.pid)], capture_output=True,
                                        text=True).stdout.split():
                subprocess.run(["taskset", "-pc", "0", child], stdout=subprocess.DEVNULL)
            os.sched_setaffinity(0, {1})  # pelt, started from here, inherits core 1
        print(f"{'requested':>10}{'planned':>10}{'sent':>10}{'done+fly':>10}{'dropped':>9}"
              f"{'achieved':>10}{'ratio':>8}{'lag p50':>10}{'lag p99':>10}{'lat p50':>10}{'lat p99':>10}")
        for rate in RATES:
            args = ["-t", THREADS, "-c", CONNECTIONS, "-d", f"{DURATION}s", "-R", rate,
                    "--timeout", "5s", ng.url("/")]
            cp, data = run_pelt_json(args, timeout=DURATION + 60)
            if data is None:
                print(f"{rate:>10} failed: exit {cp.returncode} {cp.stderr.strip()[-200:]}")
                continue
            led = data["ledger"]
            m = data["metrics"]
            planned = rate * DURATION
            row = {
                "requested": rate, "planned": planned, "ledger": led,
                "dropped": m["dropped_iterations"]["count"],
                "achieved_rps": led["completed"] / max(data["duration_seconds"], 1e-9),
                "sent_ratio": (led["completed"] + led["in_flight"]) / planned,
                "send_lag_ms": {k: m["send_lag"][k] for k in ("med", "p99", "max")},
                "latency_ms": {"p50": data["latency_us"]["percentiles"]["50"] / 1000.0,
                               "p99": data["latency_us"]["percentiles"]["99"] / 1000.0},
                "duration_s": data["duration_seconds"],
            }
            rows.append(row)
            print(f"{rate:>10}{planned:>10}{led['sent']:>10}{led['completed'] + led['in_flight']:>10}"
                  f"{row['dropped']:>9}{row['achieved_rps']:>10.0f}{row['sent_ratio']:>8.3f}"
                  f"{row['send_lag_ms']['med']:>8.2f}ms{row['send_lag_ms']['p99']:>8.2f}ms"
                  f"{row['latency_ms']['p50']:>8.2f}ms{row['latency_ms']['p99']:>8.2f}ms", flush=True)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    path = os.path.join(HERE, "out", "openloop.json")
    with open(path, "w") as f:
        json.dump({"duration_s": DURATION, "threads": THREADS, "connections": CONNECTIONS,
                   "rows": rows}, f, indent=2)
    print(f"\nresults written to {path}")


if __name__ == "__main__":
    main()
