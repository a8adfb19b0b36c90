#!/usr/bin/env python3
"""What serving /metrics costs: the same run with the endpoint off and on (scraped every second).

Alternates the two variants for BENCH_ROUNDS rounds (default 3) of BENCH_DURATION seconds
(default 5) against nginx on loopback and prints the median requests/s of each and their ratio.
"""
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import Nginx, free_port  # noqa: E402

PELT = os.environ.get("PELT_BIN", os.path.join(ROOT, "build", "pelt"))
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def scrape_loop(port, stop, counter):
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                r.read()
                counter[0] += 1
        except OSError:
            pass
        stop.wait(1.0)


def run(url, metrics):
    args = [PELT, "-t1", "-c50", f"-d{DURATION}s", url]
    stop = threading.Event()
    counter = [0]
    scraper = None
    if metrics:
        port = free_port()
        args += ["--metrics", f"127.0.0.1:{port}", "--metrics-linger", "0s"]
        scraper = threading.Thread(target=scrape_loop, args=(port, stop, counter), daemon=True)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if scraper:
        time.sleep(0.2)
        scraper.start()
    out, err = proc.communicate(timeout=DURATION + 60)
    stop.set()
    if scraper:
        scraper.join()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, counter[0]


def main():
    off, on, scrapes = [], [], []
    with Nginx() as ng:
        url = ng.url("/")
        for r in range(ROUNDS):
            for variant in ((False, True) if r % 2 == 0 else (True, False)):
                rps, n = run(url, variant)
                (on if variant else off).append(rps)
                if variant:
                    scrapes.append(n)
                time.sleep(0.5)
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"metrics off: {m_off:10.0f} req/s   runs {[round(x) for x in off]}")
    print(f"metrics on:  {m_on:10.0f} req/s   runs {[round(x) for x in on]}  scrapes per run {scrapes}")
    print(f"on/off ratio: {m_on / m_off:.3f}  (target >= 0.97)")


if __name__ == "__main__":
    main()
