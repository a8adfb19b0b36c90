"""Helpers for the monitoring tests (test_monitoring.py, test_prometheus.py): a throwaway
Prometheus server and the PromQL queries of the shipped Grafana dashboards."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import harness

SOURCE_DIR = harness.SOURCE_DIR
MONITORING = os.path.join(SOURCE_DIR, "monitoring")
DASHBOARD_DIR = os.path.join(MONITORING, "grafana", "dashboards")
PROMETHEUS_BIN = os.environ.get("PELT_PROMETHEUS_BIN", "/usr/bin/prometheus")

# Grafana's built-in variables, replaced by fixed values before a query is sent.
BUILTIN_VARS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}


class Prometheus:
    """A real Prometheus on 127.0.0.1 with a free port, temp config and storage.

    with Prometheus(scrape_targets=["127.0.0.1:9464"]) as p:
        p.query("up")
    """

    def __init__(self, scrape_targets=(), interval="1s", startup_timeout=60.0, honor_labels=False):
        self.scrape_targets = list(scrape_targets)
        self.honor_labels = honor_labels  # keep pelt's `instance` label, as monitoring/ does
        self.interval = interval
        self.startup_timeout = startup_timeout
        self.port = None
        self.proc = None
        self.dir = None
        self._log = None

    def config_text(self):
        lines = ["global:", f"  scrape_interval: {self.interval}",
                 f"  evaluation_interval: {self.interval}", "scrape_configs:"]
        if self.scrape_targets:
            targets = ", ".join(f'"{t}"' for t in self.scrape_targets)
            lines += ["  - job_name: pelt", f"    scrape_interval: {self.interval}",
                      f"    scrape_timeout: {self.interval}",
                      f"    honor_labels: {'true' if self.honor_labels else 'false'}",
                      "    static_configs:", f"      - targets: [{targets}]"]
        else:
            lines[-1] = "scrape_configs: []"
        return "\n".join(lines) + "\n"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pelt-prom-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(self.config_text())
        self.port = harness.free_port()
        self._log = open(os.path.join(self.dir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS_BIN, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        log = self.log_text()
        self.stop()
        raise RuntimeError(f"prometheus did not become ready: {log[-2000:]}")

    def log_text(self):
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def stop(self):
        if self.proc is not None:
            harness._stop_process(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def api(self, path, params):
        """GET /api/v1/<path>; returns the decoded JSON whatever the status (errors included)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}")

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", params)

    def query_range(self, expr, start, end, step="1s"):
        return self.api("query_range", {"query": expr, "start": f"{start:.3f}",
                                        "end": f"{end:.3f}", "step": step})


def load_dashboards():
    """{file name: parsed JSON} for every dashboard shipped."""
    out = {}
    for name in sorted(os.listdir(DASHBOARD_DIR)):
        if name.endswith(".json"):
            with open(os.path.join(DASHBOARD_DIR, name)) as f:
                out[name] = json.load(f)
    return out


def all_panels(board):
    """Panels, including those nested in rows."""
    for p in board.get("panels", []):
        yield p
        for inner in p.get("panels", []):
            yield inner


def substitute(expr, values):
    """Replaces $var, ${var} and [[var]] with values[var] (Grafana's variable forms)."""
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)


def variable_selector(query):
    """label_values(selector, label) -> selector (the PromQL part of a variable query)."""
    m = re.match(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", query)
    return m.group(1) if m else query


def dashboard_queries(values):
    """[(dashboard, panel title, PromQL with variables replaced)], variable queries included."""
    merged = dict(BUILTIN_VARS)
    merged.update(values)
    out = []
    for name, board in load_dashboards().items():
        for p in all_panels(board):
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((name, p.get("title", "?"), substitute(t["expr"], merged)))
        for v in board.get("templating", {}).get("list", []):
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if v.get("type") == "query" and q:
                out.append((name, f"variable {v['name']}", substitute(variable_selector(q), merged)))
    return out


NODE_EXPORTER_BIN = os.environ.get("PELT_NODE_EXPORTER_BIN", "/usr/bin/prometheus-node-exporter")


class NodeExporter:
    """Debian's prometheus-node-exporter on 127.0.0.1 with a free port: this machine's CPU,
    memory, load average and network counters (loopback included) only (the other collectors are
    off).

    with NodeExporter() as ne:
        ne.address   # "127.0.0.1:PORT", for Prometheus(scrape_targets=[ne.address])
    """

    def __init__(self, startup_timeout=15.0):
        self.startup_timeout = startup_timeout
        self.port = None
        self.proc = None
        self._log = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        assert os.access(NODE_EXPORTER_BIN, os.X_OK), \
            f"{NODE_EXPORTER_BIN} is missing: run `make deps` (prometheus-node-exporter)"
        self.port = harness.free_port()
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [NODE_EXPORTER_BIN, f"--web.listen-address={self.address}", "--collector.disable-defaults",
             "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.netdev",
             # loopback too (excluded by default): the tests' traffic goes over it
             "--collector.netdev.device-exclude=^$"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://{self.address}/metrics", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self._log.seek(0)
        log = self._log.read()
        self.stop()
        raise RuntimeError(f"node-exporter did not start: {log[-2000:]}")

    def stop(self):
        if self.proc is not None:
            harness._stop_process(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
