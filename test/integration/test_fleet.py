"""A fleet on one machine: 4 pelt processes, each in a network namespace of its own with its own
address (created here, removed after; the target sits in one more namespace behind a bridge, so
no traffic leaves the namespaces this test creates), run the Kubernetes Job's command line
(deploy/kubernetes, rendered by kubectl kustomize, $(VAR)s resolved as the kubelet does) with
--segment i/4 against one pelt-target. The server's count equals the single-instance plan
exactly; pelt merge reports the same count, the exact p95/p99 of all samples, p95s in the same band
as a single instance's run, and the fleet's threshold verdict (each instance alone crosses
`http_reqs count>=2000`, the fleet does not); a missing instance makes merge name the segment and
exit 2, or with --allow-partial say so and exit 99 (the partial fleet crosses the count).

Without root or `ip netns`, each process gets its own loopback source address instead
(--source 127.0.0.x) and a metrics port of its own."""

import json
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest

import harness
from fleet_support import SUMMARY_BEGIN, SUMMARY_END, pod_argv, render

N = 4
# deploy/kubernetes/scenario.toml: 50/s, ramp to 400/s over 3 s, 3 s at 400/s, down to 100/s
# over 2 s: 675 + 1200 + 500 arrivals.
PLAN_ARRIVALS = 2375
BUILD_DIR = os.path.dirname(os.path.abspath(harness.BIN))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw)


class Namespaces:
    """A server namespace with a bridge, and one client namespace per instance wired to it."""

    def __init__(self, clients):
        tag = f"pf{os.getpid() % 100000}"
        self.octet = 20 + os.getpid() % 200
        self.server = f"{tag}s"
        self.clients = [f"{tag}c{i}" for i in range(clients)]
        self.server_ip = f"10.213.{self.octet}.1"
        self.created = []

    def ip(self, *args):
        cp = run(["ip", *args])
        if cp.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {cp.stderr.strip()}")

    def __enter__(self):
        try:
            self.ip("netns", "add", self.server)
            self.created.append(self.server)
            self.ip("-n", self.server, "link", "set", "lo", "up")
            self.ip("-n", self.server, "link", "add", "br0", "type", "bridge")
            self.ip("-n", self.server, "addr", "add", f"{self.server_ip}/24", "dev", "br0")
            self.ip("-n", self.server, "link", "set", "br0", "up")
            for i, ns in enumerate(self.clients):
                self.ip("netns", "add", ns)
                self.created.append(ns)
                self.ip("-n", ns, "link", "set", "lo", "up")
                self.ip("link", "add", "name", f"h{i}", "netns", self.server, "type", "veth",
                        "peer", "name", "eth0", "netns", ns)
                self.ip("-n", self.server, "link", "set", f"h{i}", "master", "br0")
                self.ip("-n", self.server, "link", "set", f"h{i}", "up")
                self.ip("-n", ns, "addr", "add", f"10.213.{self.octet}.{10 + i}/24", "dev", "eth0")
                self.ip("-n", ns, "link", "set", "eth0", "up")
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for ns in reversed(self.created):
            run(["ip", "netns", "del", ns])
        self.created = []

    def exec_prefix(self, ns):
        return ["ip", "netns", "exec", ns]


class Loopback:
    """The fallback: one loopback address per instance, the target on 127.0.0.1."""

    server_ip = "127.0.0.1"

    def __init__(self, clients):
        self.clients = [f"127.0.0.{10 + i}" for i in range(clients)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def exec_prefix(self, _client):
        return []


def network():
    forced = os.environ.get("PELT_FLEET_LOOPBACK") == "1"  # to try the fallback by hand
    if not forced and os.geteuid() == 0 and run(["ip", "netns", "list"]).returncode == 0:
        return Namespaces(N)
    print("test_fleet: no root or ip netns: one loopback source address per instance instead")
    return Loopback(N)


class FleetTarget:
    """pelt-target in the server namespace (or on loopback)."""

    def __init__(self, net):
        self.net = net
        prefix = net.exec_prefix(net.server) if isinstance(net, Namespaces) else []
        self.prefix = prefix
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(prefix + [harness.TARGET_BIN, "--listen", f"{net.server_ip}:0",
                                               "--threads", "2"],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.startswith("pelt-target listening on "), f"pelt-target: {line!r}"
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.url = f"http://{net.server_ip}:{self.port}"

    def stats(self):
        cp = run(self.prefix + ["curl", "-s", "--max-time", "5", f"{self.url}/stats"])
        assert cp.returncode == 0, f"curl /stats: {cp.stderr}"
        return json.loads(cp.stdout)

    def stop(self):
        harness._stop_process(self.proc)


def instance_env(net, i, target_url, n, start_at, workdir):
    """What the kubelet would put in the pod's environment (ConfigMap keys, index, pod name)."""
    env = {"JOB_COMPLETION_INDEX": str(i), "POD_NAME": f"pelt-fleet-{i}", "PELT_INSTANCES": str(n),
           "PELT_THREADS": "1", "PELT_RUN_ID": "fleet-test", "PELT_START_AT": start_at,
           "PELT_TARGET": target_url, "PELT_METRICS_LINGER": "0s"}
    proc_env = dict(os.environ)
    proc_env.update(env)
    proc_env["PATH"] = BUILD_DIR + os.pathsep + proc_env.get("PATH", "")
    proc_env["TMPDIR"] = workdir
    return env, proc_env


def start_instance(objects, net, client, i, n, target_url, start_at, workdir, extra=()):
    env, proc_env = instance_env(net, i, target_url, n, start_at, workdir)
    argv = pod_argv(objects, env)
    # The scenario is the one the ConfigMap mounts at /etc/pelt.
    argv = [a.replace("/etc/pelt/scenario.toml", os.path.join(harness.SOURCE_DIR, "deploy", "kubernetes",
                                                             "scenario.toml")) for a in argv]
    if isinstance(net, Loopback):
        # Shared loopback: a source address and a metrics port of each instance's own.
        argv = [a if a != "0.0.0.0:9464" else "127.0.0.1:0" for a in argv] + ["--source", client]
    argv += list(extra)
    out = open(os.path.join(workdir, "log"), "w+")
    proc = subprocess.Popen(net.exec_prefix(client) + argv, stdout=out, stderr=subprocess.STDOUT,
                            env=proc_env, stdin=subprocess.DEVNULL, text=True)
    return proc, out


def summary_from_log(log_text):
    """The summary JSON between the wrapper's marker lines, as k8s-run.sh reads a pod's log."""
    assert SUMMARY_BEGIN in log_text and SUMMARY_END in log_text, f"no summary in the log: {log_text[-1500:]}"
    body = log_text.split(SUMMARY_BEGIN + "\n", 1)[1].split("\n" + SUMMARY_END, 1)[0]
    return json.loads(body)


def run_fleet(objects, net, target, indexes, n, workdir):
    """Runs instances `indexes` of n, started together 2 s from now; returns their summary paths."""
    start_at = f"@{time.time() + (4.0 if harness.SANITIZED else 2.0):.3f}"
    procs = []
    for i in indexes:
        d = os.path.join(workdir, f"i{i}of{n}")
        os.makedirs(d, exist_ok=True)
        procs.append((i, d) + start_instance(objects, net, net.clients[i % len(net.clients)], i, n,
                                             target.url, start_at, d))
    paths = []
    for i, d, proc, out in procs:
        code = proc.wait(timeout=40)
        out.seek(0)
        log = out.read()
        out.close()
        assert code == 0, f"instance {i}/{n} exit {code} (99 is mapped to 0 by the wrapper): {log[-1500:]}"
        path = os.path.join(workdir, f"summary-{i}-of-{n}.json")
        with open(path, "w") as f:
            json.dump(summary_from_log(log), f)
        paths.append(path)
    return paths


def merge(paths, *extra):
    return harness.run_pelt(["merge", *paths, *extra], timeout=60)


def share(i, n, total):
    return len(range(i, total, n))


def percentile_of_union(docs, p):
    """Nearest-rank percentile over the union of the instances' h1 histograms, reported as pelt
    does: the bucket's midpoint clamped into [min, max]."""
    counts, lo, hi = {}, None, 0
    for d in docs:
        fields = d["latency_histogram_us"].split(" ")
        lo = int(fields[2]) if lo is None else min(lo, int(fields[2]))
        hi = max(hi, int(fields[3]))
        if len(fields) > 7 and fields[7]:
            for pair in fields[7].split(","):
                v, c = pair.split(":")
                counts[int(v)] = counts.get(int(v), 0) + int(c)
    total = sum(counts.values())
    rank = max(1, -(-p * total // 100))
    seen = 0
    for lower in sorted(counts):
        seen += counts[lower]
        if seen >= rank:
            width = 1 if lower < 256 else 1 << (lower.bit_length() - 9)
            return min(max(lower + (width - 1) // 2, lo), hi)
    return hi


@pytest.fixture(scope="module")
def fleet_env():
    objects = render()
    with network() as net:
        target = FleetTarget(net)
        try:
            yield objects, net, target
        finally:
            target.stop()


def test_fleet_runs_the_single_plan_and_merges_exactly(checks, fleet_env, tmp_path):
    objects, net, target = fleet_env
    before = target.stats()["requests"]
    paths = run_fleet(objects, net, target, range(N), N, str(tmp_path))
    server = target.stats()["requests"] - before
    checks.equal(server, PLAN_ARRIVALS, "requests the server counted = the single-instance plan")
    docs = [harness.read_json(p, "instance summary") for p in paths]
    for i, d in enumerate(docs):
        checks.equal(d["fleet"]["segment"], f"{i}/{N}", f"instance {i}: segment")
        checks.equal(d["ledger"]["sent"], share(i, N, PLAN_ARRIVALS), f"instance {i}: its striped share")
        checks.equal(d["ledger"]["completed"], d["ledger"]["sent"], f"instance {i}: all answered")
        checks.check(not d["thresholds_ok"], f"instance {i} alone crosses http_reqs count>=2000")
        checks.equal(d["run_id"], "fleet-test", f"instance {i}: shared run id")
    out = tmp_path / "fleet.json"
    html = tmp_path / "fleet.html"
    cp = merge(paths, "--summary-json", str(out), "--report", str(html))
    checks.equal(cp.returncode, 0, f"merge exit (every threshold held on the fleet): {cp.stderr}")
    m = harness.read_json(str(out), "merged summary")
    checks.equal(m["metrics"]["http_reqs"]["count"], PLAN_ARRIVALS, "merged http_reqs")
    checks.equal(m["ledger"]["sent"], PLAN_ARRIVALS, "merged ledger")
    checks.equal(m["fleet"]["segments"], [f"{i}/{N}" for i in range(N)], "merged segments")
    checks.equal(m["fleet"]["instances"], [f"pelt-fleet-{i}" for i in range(N)], "merged instances")
    checks.check(m["thresholds_ok"], "merged thresholds hold")
    checks.equal(m["scenarios"][0]["iterations"], PLAN_ARRIVALS, "merged iterations")
    checks.equal(sum(m["scenarios"][0]["stages"][s]["requests"] for s in range(3)), PLAN_ARRIVALS,
                 "merged stages add up")
    run_series = [s for s in m["timeseries"]["series"] if s["scope"] == "run"][0]
    checks.equal(sum(run_series["requests"]), PLAN_ARRIVALS, "merged per-second series add up")
    # The merged histogram is the union of the instances' samples, exactly.
    checks.equal(m["latency_us"]["percentiles"]["99"], percentile_of_union(docs, 99), "p99 of all samples")
    p95_union_us = percentile_of_union(docs, 95)
    checks.check(abs(m["metrics"]["http_req_duration"]["p95"] - p95_union_us / 1000.0) < 1e-9,
                 f"p95 of all samples: {m['metrics']['http_req_duration']['p95']} ms vs {p95_union_us} us")
    checks.check(html.exists() and html.stat().st_size > 10000, "merged HTML report written")
    checks.check("PASS" in cp.stdout or "✓" in cp.stdout, f"merged text summary: {cp.stdout[-600:]}")

    # One instance running the whole plan: the same count, and the same latency picture. The
    # target answers /delay/5 after 5 ms, so both p95s sit a little above 5 ms; how far above
    # depends on how busy the machine is (five processes on two shared cores), so the check is
    # the band both must fall in, not their ratio; the figures are printed for the record.
    before = target.stats()["requests"]
    single = run_fleet(objects, net, target, [0], 1, str(tmp_path / "single"))
    checks.equal(target.stats()["requests"] - before, PLAN_ARRIVALS, "single instance: the same count")
    s = harness.read_json(single[0], "single summary")
    p95_single = s["metrics"]["http_req_duration"]["p95"]
    p95_fleet = m["metrics"]["http_req_duration"]["p95"]
    ceiling = 100.0 if harness.SANITIZED else 25.0  # ms; sanitized builds are several times slower
    for label, p95 in (("fleet", p95_fleet), ("single run", p95_single)):
        checks.check(5.0 <= p95 <= ceiling, f"{label} p95 {p95:.3f} ms: the 5 ms delay plus scheduling (< {ceiling} ms)")
    checks.check(s["thresholds_ok"], "the single instance passes the count threshold too")
    print(f"fleet: server {server} requests, merged {m['metrics']['http_reqs']['count']}, "
          f"p95 fleet {p95_fleet:.3f} ms, single {p95_single:.3f} ms, "
          f"p99 {m['latency_us']['percentiles']['99']} us")


def test_missing_instance(checks, fleet_env, tmp_path):
    objects, net, target = fleet_env
    paths = run_fleet(objects, net, target, [0, 1, 3], N, str(tmp_path))
    cp = merge(paths)
    checks.equal(cp.returncode, 2, f"merge refuses: {cp.stderr}")
    checks.check("missing segment 2/4" in cp.stderr, f"names the missing segment: {cp.stderr}")
    out = tmp_path / "partial.json"
    cp = merge(paths, "--allow-partial", "--summary-json", str(out))
    checks.equal(cp.returncode, 99, f"partial merge: the count threshold is crossed: {cp.stderr}")
    checks.check("partial merge: missing segment 2/4" in cp.stderr, f"says it is partial: {cp.stderr}")
    m = harness.read_json(str(out), "partial summary")
    checks.equal(m["fleet"]["missing_segments"], ["2/4"], "missing segments in the JSON")
    checks.check(m["fleet"]["partial"], "partial in the JSON")
    expected = sum(share(i, N, PLAN_ARRIVALS) for i in (0, 1, 3))
    checks.equal(m["metrics"]["http_reqs"]["count"], expected, "the three segments' requests")
