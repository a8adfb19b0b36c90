#!/usr/bin/env python3
"""pelt against wrk (HTTP/1.1) and h2load (HTTP/2), side by side on loopback.

Runs each case with pelt and the other tool (wrk, or Debian's h2load for the HTTP/2 cases),
alternating tool by tool for several rounds, and reports the median of: requests/s, client CPU
seconds (user+sys) per 1,000 requests and client peak RSS, with the pelt/other ratio of each (the
median over rounds of the ratio of the two back-to-back runs of a round), then each target of
the benchmark with its measured ratio. One nginx serves every case: HTTP/1.1 on one port, h2c
(prior knowledge) on a second, TLS with ALPN h2 and http/1.1 on a third. Server and client
are pinned to different cores when the machine has two or more; then the server core's busy time
per request is reported too (from /proc/stat, so it includes the kernel work loopback does there
for the client's sockets): when it is above the client's CPU per request, the server sets the
rate and the req/s ratio cannot say which client is faster. Writes a table to stdout and JSON to
bench/out/results.json.

Environment: BENCH_DURATION (seconds per run, default 3), BENCH_ROUNDS (default 7),
BENCH_CASES (comma-separated subset of a,b,c,d,e,f,g,h,i,j,k), PELT_BIN, PELT_TARGET_BIN.
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import Nginx, Target, free_port  # noqa: E402

PELT = os.environ.get("PELT_BIN", os.path.join(ROOT, "build", "pelt"))
WRK = shutil.which("wrk") or "/usr/bin/wrk"
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"
DURATION = int(os.environ.get("BENCH_DURATION", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
CASES = os.environ.get("BENCH_CASES", "a,b,c,d,e,f,g,h,i,j,k").split(",")
CORES = os.cpu_count() or 1

# The scripts of cases b, c, d, e, f and g (bench/alloc.sh uses them too).
COUPON = os.path.join(HERE, "lua", "coupon.lua")
COUPON_CHECK = os.path.join(HERE, "lua", "coupon_check.lua")
PIPELINE = os.path.join(HERE, "lua", "pipeline16.lua")
HOOK = os.path.join(HERE, "lua", "hook.lua")
METRICS = os.path.join(HERE, "lua", "metrics.lua")
IDLE = os.path.join(HERE, "lua", "idle.lua")

NGINX_ROUTES = """
    location /coupons/ { return 200 "{\\"status\\":\\"queued\\"}"; }
"""


def h2_servers(h2c_port, tls_port, cert, key):
    """Two more server blocks for the same nginx: h2c on h2c_port, TLS (ALPN h2 and
    http/1.1) on tls_port; both answer / as the HTTP/1.1 block does."""
    return f"""
  server {{
    listen 127.0.0.1:{h2c_port} http2;
    location = / {{ return 200 "hello\\n"; }}
  }}
  server {{
    listen 127.0.0.1:{tls_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / {{ return 200 "hello\\n"; }}
  }}
"""


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-keyout", key,
                    "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return cert, key


def pin(cmd, core):
    if CORES >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)] + cmd
    return cmd


def peak_rss_kb(pid):
    """VmHWM of a live process in KiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


SERVER_CORE = 0
CLIENT_CORE = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def core_busy_s(core):
    """Seconds core `core` has spent busy (user, nice, system, irq, softirq) since boot."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                fields = line.split()
                if fields[0] == f"cpu{core}":
                    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[1:8])
                    return (user + nice + system + irq + softirq) / CLOCK_TICKS
    except (OSError, ValueError):
        pass
    return None


def run_client(cmd, timeout):
    """Runs a client; returns (stdout, cpu_seconds, peak_rss_kb).

    Peak RSS is the process's own VmHWM, sampled every 50 ms until it exits. rusage's
    ru_maxrss cannot be used: Linux carries the forking parent's high-water mark (this Python
    process, about 20 MB) across fork and exec, which hides anything smaller.
    """
    start = time.time()
    out_file = tempfile.TemporaryFile(mode="w+")
    err_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, text=True)
    peak = 0
    deadline = start + timeout
    # waitid(WNOWAIT) sees the exit without reaping, so wait4 below still gets the rusage.
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.time() > deadline:
            proc.kill()
            break
        peak = max(peak, peak_rss_kb(proc.pid))
        time.sleep(0.05)
    # wait4 gives this child's own CPU time.
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    out_file.seek(0)
    err_file.seek(0)
    out, err = out_file.read(), err_file.read()
    if time.time() - start > timeout:
        print(f"warning: {cmd[0]} took {time.time() - start:.1f}s", file=sys.stderr)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {err.strip()}")
    return out, ru.ru_utime + ru.ru_stime, peak


def parse_requests(out, tool):
    """(completed requests, requests/s) from a tool's output."""
    if tool == "h2load":
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", out)
        rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
        return int(done.group(1)), float(rps.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return int(m.group(1)), float(rps.group(1))


BINARIES = {"pelt": PELT, "wrk": WRK, "h2load": H2LOAD}


def measure(tool, args, url, core):
    cmd = pin([BINARIES[tool]] + args + [url], core)
    server_before = core_busy_s(SERVER_CORE) if CORES >= 2 else None
    out, cpu, rss = run_client(cmd, DURATION * 3 + 30)
    server_after = core_busy_s(SERVER_CORE) if CORES >= 2 else None
    requests, rps = parse_requests(out, tool)
    result = {"requests": requests, "rps": rps, "cpu_s": cpu,
              "cpu_per_1k": cpu / max(requests, 1) * 1000.0, "rss_kb": rss}
    if server_before is not None and server_after is not None:
        # Includes the client's start and end (well under a second of the run at these rates).
        result["server_us_per_req"] = (server_after - server_before) * 1e6 / max(requests, 1)
    return result


def case_list(nginx_url, target_url, h2c_url, tls_url):
    """(key, title, pelt args, other tool, its args, pelt's URL, the other's URL)."""
    d = f"-d{DURATION}s"
    h2 = ["-t", "1", "-D", str(DURATION)]  # h2load: one thread, the same duration

    def wrk_case(key, title, args, url, pelt_only=()):
        # pelt_only: options pelt needs that wrk does not know (wrk never verifies TLS)
        return (key, title, args + list(pelt_only), "wrk", args, url, url)

    return [
        wrk_case("a", "static GET, 1 thread, 50 connections", ["-t1", "-c50", d], nginx_url + "/"),
        wrk_case("b", "Lua request() builds POST /coupons/<id>/issue-async", ["-t1", "-c50", d, "-s", COUPON], nginx_url),
        wrk_case("c", "(b) plus response() checking the status", ["-t1", "-c50", d, "-s", COUPON_CHECK], nginx_url),
        wrk_case("d", "pipelined GETs, depth 16", ["-t1", "-c50", d, "-s", PIPELINE], nginx_url + "/"),
        wrk_case("e", "10,000 idle-ish connections, 1 request/s each", ["-t1", "-c10000", d, "--timeout", "10s", "-s", IDLE], target_url + "/"),
        wrk_case("f", "(a) with a request() hook returning the same GET", ["-t1", "-c50", d, "-s", HOOK], nginx_url + "/"),
        ("g", "HTTP/2 h2c, 50 connections, 1 stream each", ["-t1", "-c50", "-m1", d, "--h2c"],
         "h2load", h2 + ["-c", "50", "-m", "1"], h2c_url + "/", h2c_url + "/"),
        ("h", "HTTP/2 h2c, 10 connections, 100 streams each", ["-t1", "-c10", "-m100", d, "--h2c"],
         "h2load", h2 + ["-c", "10", "-m", "100"], h2c_url + "/", h2c_url + "/"),
        ("i", "HTTP/2 over TLS (ALPN h2), 50 connections, 10 streams each",
         ["-t1", "-c50", "-m10", d, "--http", "2", "--insecure"],
         "h2load", h2 + ["-c", "50", "-m", "10"], tls_url + "/", tls_url + "/"),
        wrk_case("j", "HTTP/1.1 over TLS, 50 connections", ["-t1", "-c50", d], tls_url + "/",
                 pelt_only=["--insecure"]),
        wrk_case("k", "(f) plus a custom counter and trend added per request (pelt only)",
                 ["-t1", "-c50", d, "-s", METRICS], nginx_url + "/"),
    ]


def main():
    if not os.path.exists(PELT):
        sys.exit(f"pelt binary not found at {PELT}: run make build first")
    results = []
    if not os.path.exists(H2LOAD):
        print(f"h2load not found at {H2LOAD} (Debian's nghttp2-client): the HTTP/2 cases are "
              "skipped", file=sys.stderr)
    cert_dir = tempfile.mkdtemp(prefix="pelt-bench-")
    cert, key = make_cert(cert_dir)
    h2c_port, tls_port = free_port(), free_port()
    with Nginx(access_log=False, extra_server=NGINX_ROUTES,
               extra_http=h2_servers(h2c_port, tls_port, cert, key)) as ng, \
            Target(threads=1) as tg:
        # Pin the servers to core 0, clients run on core 1.
        if CORES >= 2 and shutil.which("taskset"):
            for pid in [tg.proc.pid] + nginx_pids(ng):
                subprocess.run(["taskset", "-pc", str(SERVER_CORE), str(pid)],
                               stdout=subprocess.DEVNULL)
        # Warm-up: one short run of each tool against nginx, not counted (the first runs after
        # the servers start are slower: page faults, caches, CPU frequency).
        for tool in ("pelt", "wrk"):
            try:
                run_client(pin([PELT if tool == "pelt" else WRK, "-t1", "-c50", "-d1s",
                                f"http://127.0.0.1:{ng.port}/"], CLIENT_CORE), 30)
            except RuntimeError as e:
                print(f"warm-up {tool}: {e}", file=sys.stderr)
        cases = case_list(f"http://127.0.0.1:{ng.port}", f"http://127.0.0.1:{tg.port}",
                          f"http://127.0.0.1:{h2c_port}", f"https://127.0.0.1:{tls_port}")
        for key, title, args, other, other_args, url, other_url in cases:
            if key not in CASES or not os.path.exists(BINARIES[other]):
                continue
            runs = {"pelt": [], other: []}
            tool_args = {"pelt": (args, url), other: (other_args, other_url)}
            # Case f also runs pelt without the hook in every round: the hook's cost is the
            # ratio within a round, like the pelt/wrk ratios.
            hook_pairs = []
            for r in range(ROUNDS):
                order = ("pelt", other) if r % 2 == 0 else (other, "pelt")
                if key == "k":
                    # pelt only: the same round runs it without a hook (a) and with the bare
                    # hook (f) too, so the metrics' cost is a ratio within the round.
                    trio = {}
                    for label, a in (("static", [x for x in args if x not in ("-s", METRICS)]),
                                     ("hook", [x if x != METRICS else HOOK for x in args]),
                                     ("metrics", args)):
                        try:
                            trio[label] = measure("pelt", a, url, CLIENT_CORE)
                        except (RuntimeError, AttributeError) as e:
                            print(f"case k pelt {label}: {e}", file=sys.stderr)
                        time.sleep(0.5)
                    if len(trio) == 3:
                        runs["pelt"].append(trio["metrics"])
                        hook_pairs.append(trio)
                    continue
                for tool in order:
                    try:
                        runs[tool].append(measure(tool, *tool_args[tool], CLIENT_CORE))
                    except (RuntimeError, AttributeError) as e:
                        print(f"case {key} {tool}: {e}", file=sys.stderr)
                    time.sleep(0.5)
                if key == "f" and runs["pelt"]:
                    static_args = [a for a in args if a not in ("-s", HOOK)]
                    try:
                        static = measure("pelt", static_args, url, CLIENT_CORE)
                        hook_pairs.append({"static": static, "hook": runs["pelt"][-1]})
                    except (RuntimeError, AttributeError) as e:
                        print(f"case f pelt without hook: {e}", file=sys.stderr)
                    time.sleep(0.5)
            row = {"case": key, "title": title, "args": args, "other": other,
                   "other_args": other_args}
            for tool in ("pelt", other):
                if runs[tool]:
                    row[tool] = {k: statistics.median(x[k] for x in runs[tool])
                                 for k in ("rps", "cpu_per_1k", "rss_kb", "requests")}
                    if all("server_us_per_req" in x for x in runs[tool]):
                        row[tool]["server_us_per_req"] = statistics.median(
                            x["server_us_per_req"] for x in runs[tool])
                    row[tool]["runs"] = runs[tool]
            if "pelt" in row and other in row:
                # Each round ran the two tools back to back: the ratio of a pair is the fairest
                # comparison on a machine whose speed drifts, and the median pair is reported.
                pairs = list(zip(runs["pelt"], runs[other]))
                row["round_ratios"] = [
                    {"rps": p["rps"] / max(w["rps"], 1e-9),
                     "cpu_per_request": p["cpu_per_1k"] / max(w["cpu_per_1k"], 1e-9),
                     "rss": p["rss_kb"] / max(w["rss_kb"], 1e-9)} for p, w in pairs]
                row["ratio"] = {k: statistics.median(x[k] for x in row["round_ratios"])
                                for k in ("rps", "cpu_per_request", "rss")}
            if hook_pairs:
                row["hook_pairs"] = hook_pairs
            results.append(row)
            print_row(row)
    targets = check_targets(results)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    path = os.path.join(HERE, "out", "results.json")
    with open(path, "w") as f:
        json.dump({"duration_s": DURATION, "rounds": ROUNDS, "cores": CORES, "cases": results,
                   "targets": targets}, f, indent=2)
    print(f"\nresults written to {path}")
    shutil.rmtree(cert_dir, ignore_errors=True)


# (case, figure, comparison, bound): the targets the benchmark checks.
TARGETS = [
    ("a", "rps", ">=", 1.10), ("b", "rps", ">=", 1.10), ("c", "rps", ">=", 1.10),
    ("d", "rps", ">=", 1.00),
    ("a", "cpu_per_request", "<=", 0.90), ("b", "cpu_per_request", "<=", 0.90),
    ("c", "cpu_per_request", "<=", 0.90), ("d", "cpu_per_request", "<=", 0.90),
    ("e", "rss", "<=", 1.00),
    ("g", "cpu_per_request", "<=", 0.90), ("h", "cpu_per_request", "<=", 0.90),
    ("i", "cpu_per_request", "<=", 0.90), ("j", "cpu_per_request", "<=", 0.90),
    ("g", "rps", ">=", 1.00), ("h", "rps", ">=", 1.00), ("i", "rps", ">=", 1.00),
]

# req/s targets that hold only where the server is not the bottleneck (HTTP/2 against h2load):
# when the server core is at least this busy in both tools' runs, the server sets the rate and
# the target is reported as not applicable.
SERVER_BOUND_ONLY = {("g", "rps"), ("h", "rps"), ("i", "rps")}
SERVER_BOUND_BUSY = 0.95


def server_busy(row, tool):
    """The server core's busy share during `tool`'s runs of a case (median), or None."""
    r = row.get(tool, {})
    if "server_us_per_req" not in r:
        return None
    return min(r["server_us_per_req"] * r["rps"] / 1e6, 1.0)


def check_targets(results):
    """Prints each target with the measured pelt/wrk ratio, and the Lua hook's cost."""
    by_case = {r["case"]: r for r in results if "ratio" in r}
    by_case_all = {r["case"]: r for r in results}
    checked = []
    lines = []
    for case, figure, op, bound in TARGETS:
        if case not in by_case:
            continue
        value = by_case[case]["ratio"][figure]
        spread = [x[figure] for x in by_case[case]["round_ratios"]]
        if (case, figure) in SERVER_BOUND_ONLY:
            row = by_case[case]
            busy = [server_busy(row, t) for t in ("pelt", row["other"])]
            if all(b is not None and b >= SERVER_BOUND_BUSY for b in busy):
                checked.append({"case": case, "figure": figure, "target": f"{op} {bound}",
                                "median": value, "rounds": spread, "met": None,
                                "server_busy": busy})
                lines.append(f"  ({case}) {figure:<16} {value:5.2f}  target {op} {bound:.2f}  "
                             f"n/a      the server core is at least {min(busy):.0%} busy in both "
                             f"runs: it sets the rate")
                continue
        met = value >= bound if op == ">=" else value <= bound
        checked.append({"case": case, "figure": figure, "target": f"{op} {bound}",
                        "median": value, "rounds": spread, "met": met})
        lines.append(f"  ({case}) {figure:<16} {value:5.2f}  target {op} {bound:.2f}  "
                     f"{'met' if met else 'NOT met':<8} rounds {min(spread):.2f}..{max(spread):.2f}")
    if "f" in by_case and by_case["f"].get("hook_pairs"):
        # The hook's cost: pelt with the request() hook against pelt without it, in the same
        # round (median over rounds).
        pairs = by_case["f"]["hook_pairs"]
        cost = statistics.median(1.0 - p["hook"]["rps"] / max(p["static"]["rps"], 1e-9)
                                 for p in pairs)
        cpu = statistics.median(p["hook"]["cpu_per_1k"] / max(p["static"]["cpu_per_1k"], 1e-9)
                                for p in pairs) - 1.0
        met = cost <= 0.15
        checked.append({"case": "f", "figure": "hook_throughput_cost", "target": "<= 0.15",
                        "median": cost, "cpu_per_request_increase": cpu, "met": met})
        lines.append(f"  (f) request() hook costs {cost * 100:4.1f}% of pelt's req/s without it, "
                     f"{cpu * 100:+.1f}% CPU per request  target <= 15%  {'met' if met else 'NOT met'}")
    if "k" in by_case_all and by_case_all["k"].get("hook_pairs"):
        # Custom metrics: pelt with the counter and trend added per request, against the bare
        # hook and against no hook, in the same round (median over rounds).
        trios = by_case_all["k"]["hook_pairs"]
        vs_hook = statistics.median(1.0 - t["metrics"]["rps"] / max(t["hook"]["rps"], 1e-9)
                                    for t in trios)
        vs_static = statistics.median(1.0 - t["metrics"]["rps"] / max(t["static"]["rps"], 1e-9)
                                      for t in trios)
        cpu_vs_hook = statistics.median(
            t["metrics"]["cpu_per_1k"] / max(t["hook"]["cpu_per_1k"], 1e-9) for t in trios) - 1.0
        ns = statistics.median(
            (t["metrics"]["cpu_per_1k"] - t["hook"]["cpu_per_1k"]) * 1e6 for t in trios)
        checked.append({"case": "k", "figure": "custom_metrics_cost", "vs_hook": vs_hook,
                        "vs_no_hook": vs_static, "cpu_per_request_increase_vs_hook": cpu_vs_hook,
                        "cpu_ns_per_request_vs_hook": ns})
        lines.append(f"  (k) a counter and a trend per request cost {vs_hook * 100:4.1f}% of the "
                     f"hook's req/s ({vs_static * 100:4.1f}% against no hook), "
                     f"{cpu_vs_hook * 100:+.1f}% CPU per request ({ns:+.0f} ns)")
    if lines:
        print("\ntargets (median of the per-round pelt/other ratios; range over rounds):")
        print("\n".join(lines))
    return checked


def nginx_pids(ng):
    pids = [ng.proc.pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(ng.proc.pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    return pids


HEADER_PRINTED = False


def print_row(row):
    global HEADER_PRINTED
    if not HEADER_PRINTED:
        print(f"{'case':<5}{'tool':<6}{'req/s':>12}{'CPU s/1k req':>14}{'peak RSS':>12}"
              f"{'server core: us/req, busy':>28}")
        HEADER_PRINTED = True
    print(f"({row['case']}) {row['title']}")
    for tool in ("pelt", row["other"]):
        if tool in row:
            r = row[tool]
            server = r.get("server_us_per_req")
            print(f"{'':<5}{tool:<7}{r['rps']:>11.0f}{r['cpu_per_1k']:>14.4f}"
                  f"{r['rss_kb'] / 1024:>10.1f}MB"
                  + (f"{server:>20.2f}{min(server * r['rps'] / 1e6, 1.0):>7.0%}"
                     if server is not None else ""))
    if "ratio" in row:
        q = row["ratio"]
        print(f"{'':<5}{'ratio':<6}{q['rps']:>12.2f}{q['cpu_per_request']:>14.2f}{q['rss']:>12.2f}"
              f"   (pelt/{row['other']}, median of per-round pairs: req/s, CPU per request, RSS)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
