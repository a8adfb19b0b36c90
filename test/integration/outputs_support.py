"""Servers and data for the result-output tests (test_outputs_*.py), standard library only.

- run_probe(): runs build/pelt-outputs-probe and returns its JSON.
- InfluxDB: Debian's influxd 1.x on 127.0.0.1 with free ports and a temp dir (optionally
  with authentication and HTTPS).
- PrometheusReceiver: Debian's prometheus with --web.enable-remote-write-receiver, nothing
  scraped.
- make_cert(): a self-signed certificate for 127.0.0.1 / localhost.
- SyntheticRun: a run of N seconds as ticks (time series buckets) and cumulative statistics,
  plus the figures the stores must report for it.
"""

import base64
import json
import math
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROBE_BIN = os.environ.get("PELT_OUTPUTS_PROBE_BIN") or os.path.join(
    harness.SOURCE_DIR, "build", "pelt-outputs-probe")
INFLUXD_BIN = os.environ.get("PELT_INFLUXD_BIN", "/usr/bin/influxd")
PROMETHEUS_BIN = os.environ.get("PELT_PROMETHEUS_BIN", "/usr/bin/prometheus")


def run_probe(args, timeout=60, env=None):
    """Runs pelt-outputs-probe; returns (parsed JSON or None, CompletedProcess)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    cp = subprocess.run([PROBE_BIN] + [str(a) for a in args], capture_output=True, text=True,
                        timeout=timeout, env=full_env)
    try:
        return json.loads(cp.stdout), cp
    except ValueError:
        return None, cp


def make_cert(directory):
    """Writes cert.pem and key.pem (self-signed, 127.0.0.1 and localhost); returns both paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _wait_ready(url, proc, timeout, context=None, ok=(200, 204)):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as r:
                if r.status in ok:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    return False


class InfluxDB:
    """influxd 1.x for one test: `with InfluxDB() as db: db.query("SHOW DATABASES")`.

    auth=True creates an admin user (admin / admin-password) and turns authentication on;
    tls=True serves HTTPS with a self-signed certificate (cert_path).
    """

    ADMIN = ("admin", "admin-password")

    def __init__(self, auth=False, tls=False, startup_timeout=60.0):
        self.auth = auth
        self.tls = tls
        self.startup_timeout = startup_timeout
        self.dir = None
        self.proc = None
        self.port = None
        self.cert_path = None
        self._log = None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _context(self):
        return ssl.create_default_context(cafile=self.cert_path) if self.tls else None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pelt-influx-")
        self.port = harness.free_port()
        rpc_port = harness.free_port()
        https = ""
        if self.tls:
            self.cert_path, key = make_cert(self.dir)
            https = (f'  https-enabled = true\n  https-certificate = "{self.cert_path}"\n'
                     f'  https-private-key = "{key}"\n')
        config = os.path.join(self.dir, "influxdb.conf")
        with open(config, "w") as f:
            f.write(f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if self.auth else "false"}
{https}""")
        self._log = open(os.path.join(self.dir, "influxd.log"), "w+")
        self.proc = subprocess.Popen([INFLUXD_BIN, "-config", config], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not _wait_ready(self.url + "/ping", self.proc, self.startup_timeout, self._context()):
            log = self.log_text()
            self.stop()
            raise RuntimeError(f"influxd did not start: {log[-2000:]}")
        if self.auth:  # the first admin user may be created without credentials
            self.query(f"CREATE USER {self.ADMIN[0]} WITH PASSWORD '{self.ADMIN[1]}' "
                       "WITH ALL PRIVILEGES", credentials=False)
        return self

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

    def query(self, q, db=None, credentials=True):
        """POST /query; returns the decoded JSON (errors included)."""
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        req = urllib.request.Request(self.url + "/query",
                                     data=urllib.parse.urlencode(params).encode(), method="POST")
        if self.auth and credentials:
            token = base64.b64encode(":".join(self.ADMIN).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self._context()) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}")

    def rows(self, q, db):
        """The rows of the first statement: [{column: value}], across every series (each row
        also gets the series' tags)."""
        result = self.query(q, db)
        statement = result.get("results", [{}])[0]
        if "error" in statement:
            raise AssertionError(f"InfluxQL error for {q!r}: {statement['error']}")
        out = []
        for series in statement.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values))
                row.update(series.get("tags", {}))
                out.append(row)
        return out


class PrometheusReceiver:
    """prometheus accepting remote write, scraping nothing: `with PrometheusReceiver() as p`."""

    def __init__(self, startup_timeout=60.0):
        self.startup_timeout = startup_timeout
        self.dir = None
        self.proc = None
        self.port = None
        self._log = None

    @property
    def write_url(self):
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pelt-prom-rw-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        self.port = harness.free_port()
        self._log = open(os.path.join(self.dir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS_BIN, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
             "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not _wait_ready(f"http://127.0.0.1:{self.port}/-/ready", self.proc,
                           self.startup_timeout):
            log = self.log_text()
            self.stop()
            raise RuntimeError(f"prometheus did not become ready: {log[-2000:]}")
        return self

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
        """GET /api/v1/<path> with repeated params allowed (list of pairs); decoded JSON."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}")

    def vector(self, expr, at):
        """{frozenset(labels): value} of an instant query at `at` (seconds)."""
        r = self.api("query", [("query", expr), ("time", f"{at:.3f}")])
        if r.get("status") != "success":
            raise AssertionError(f"PromQL error for {expr!r}: {r}")
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in r["data"]["result"]}


# --- pelt's latency histogram, as src/results/histogram.cc buckets values -----------------------

def _bucket_index(v):
    shift = max(0, v.bit_length() - 9)
    return (shift << 8) + (v >> shift)


def _bucket_lower(i):
    if i < 512:
        return i
    shift = (i >> 8) - 1
    return (i - (shift << 8)) << shift


def _bucket_width(i):
    return 1 if i < 512 else 1 << ((i >> 8) - 1)


def representative(v):
    """The value a histogram reports for a sample v (its bucket's midpoint), in microseconds."""
    i = _bucket_index(v)
    return _bucket_lower(i) + (_bucket_width(i) - 1) // 2


def encode_h1(values):
    """pelt's "h1 ..." encoding of a list of samples (microseconds); "" when empty."""
    if not values:
        return ""
    counts = {}
    for v in values:
        i = _bucket_index(v)
        counts[i] = counts.get(i, 0) + 1
    buckets = ",".join(f"{_bucket_lower(i)}:{n}" for i, n in sorted(counts.items()))
    return (f"h1 {len(values)} {min(values)} {max(values)} 0 {sum(values)} "
            f"{sum(v * v for v in values)} {buckets}")


def percentile(values, p):
    """Nearest-rank percentile as pelt computes it on a histogram of `values` (samples that are
    their own representative, so the result is exact)."""
    s = sorted(values)
    if p >= 100:
        return s[-1]
    rank = max(1, math.ceil(p / 100 * len(s)))
    return s[rank - 1]


class SyntheticRun:
    """A deterministic run of `seconds` seconds: two scenarios, three request names (one with
    characters line protocol must escape), statuses 200/201/500 and requests without a
    response. Every latency is a histogram representative, so percentiles are exact.

    lines(): the probe's input, one dict per second: {"tick", "stats", "now_ms", "final"}.
    """

    NAMES = [  # (scenario, request name, method)
        ("shop", "GET /cart", "GET"),
        ("shop", "POST /pay", "POST"),
        ("browse", 'GET /a b,c=d "q" ü\\x', "GET"),
    ]
    SCENARIO_TAGS = {"shop": {"team": "payments"}, "browse": {}}

    def __init__(self, seconds=30, start_ms=None, run_id="synthetic-1"):
        self.seconds = seconds
        self.run_id = run_id
        self.start_ms = start_ms if start_ms is not None else int(time.time() * 1000) - \
            (seconds + 30) * 1000
        self.per_second = []  # [{(scenario, name): {"status": {code: n}, "latency": [us]}}]
        for i in range(seconds):
            second = {}
            for k, (scenario, name, _) in enumerate(self.NAMES):
                ok = 3 + (i * 7 + k) % 5
                status = {"200" if k != 1 else "201": ok}
                if (i + k) % 4 == 0:
                    status["500"] = 1 + k
                if (i + k) % 9 == 0:
                    status["0"] = 1  # no response
                answered = sum(n for c, n in status.items() if c != "0")
                latency = [representative(800 + 97 * ((i + 1) * (j + 3) + 11 * k) % 40000)
                           for j in range(answered)]
                second[(scenario, name)] = {"status": status, "latency": latency}
            self.per_second.append(second)

    # -- figures ---------------------------------------------------------------------------
    def requests(self, i, scenario=None, name=None):
        return sum(n for (s, nm), d in self.per_second[i].items()
                   if (scenario is None or s == scenario) and (name is None or nm == name)
                   for n in d["status"].values())

    def failed(self, i, scenario=None, name=None):
        return sum(n for (s, nm), d in self.per_second[i].items()
                   if (scenario is None or s == scenario) and (name is None or nm == name)
                   for c, n in d["status"].items() if c == "0" or int(c) >= 400)

    def codes(self, i, scenario=None):
        """{status code: count} in second i (of one scenario, or all)."""
        out = {}
        for (s, _), d in self.per_second[i].items():
            if scenario is None or s == scenario:
                for c, n in d["status"].items():
                    out[c] = out.get(c, 0) + n
        return out

    def latencies(self, i, scenario=None):
        return [v for (s, _), d in self.per_second[i].items()
                if scenario is None or s == scenario for v in d["latency"]]

    def total_requests(self):
        return sum(self.requests(i) for i in range(self.seconds))

    def status_totals(self, upto=None):
        """{(scenario, name, method, code): count} over seconds 0..upto-1."""
        out = {}
        methods = {(s, n): m for s, n, m in self.NAMES}
        for i in range(self.seconds if upto is None else upto):
            for (s, n), d in self.per_second[i].items():
                for c, k in d["status"].items():
                    key = (s, n, methods[(s, n)], c)
                    out[key] = out.get(key, 0) + k
        return out

    def vus(self, i, scenario):
        return 2 + i % 3 if scenario == "shop" else 1

    # -- probe input -----------------------------------------------------------------------
    def _series(self, i):
        def figures(scope, scenario=None, name=None, method=None):
            lat = self.latencies(i, scenario) if name is None else \
                self.per_second[i][(scenario, name)]["latency"]
            s = {"scope": scope, "requests": [self.requests(i, scenario, name)],
                 "failed": [self.failed(i, scenario, name)],
                 "latency_histogram_us": [encode_h1(lat)]}
            if scenario is not None:
                s["scenario"] = scenario
            if name is not None:
                s["name"] = name
                s["method"] = method
                s["status_codes"] = {c: [n] for c, n in
                                     self.per_second[i][(scenario, name)]["status"].items()}
            else:
                vus = sum(self.vus(i, sc) for sc in ("shop", "browse")) if scenario is None \
                    else self.vus(i, scenario)
                s["vus"] = [vus]
                s["target_vus"] = [vus]
                codes = self.codes(i, scenario)
                s["status"] = {"2xx": [codes.get("200", 0) + codes.get("201", 0)],
                               "5xx": [codes.get("500", 0)], "other": [codes.get("0", 0)]}
                s["errors"] = {"status": [codes.get("500", 0)], "timeout": [codes.get("0", 0)]}
                s["bytes_sent"] = [100 * self.requests(i, scenario)]
                s["bytes_received"] = [200 * self.requests(i, scenario)]
                s["dropped_iterations"] = [i % 2]
                s["send_lag_ms"] = {"p99": [0.05 * (i % 4)]}
            return s
        series = [figures("run")]
        for scenario in ("shop", "browse"):
            series.append(figures("scenario", scenario))
        for scenario, name, method in self.NAMES:
            series.append(figures("name", scenario, name, method))
        return series

    def _stats(self, upto):
        """Cumulative statistics after second upto-1, in the probe's "stats" form."""
        scenarios = []
        for scenario in ("shop", "browse"):
            names = {}
            for s, name, method in self.NAMES:
                if s != scenario:
                    continue
                status, latency, no_response = {}, {}, 0
                for i in range(upto):
                    d = self.per_second[i][(s, name)]
                    for c, n in d["status"].items():
                        if c == "0":
                            no_response += n
                        else:
                            status[c] = status.get(c, 0) + n
                    for v in d["latency"]:
                        latency[v] = latency.get(v, 0) + 1
                names[name] = {"method": method, "status": status, "no_response": no_response,
                               "latency_us": sorted([v, n] for v, n in latency.items())}
            scenarios.append({"name": scenario, "tags": self.SCENARIO_TAGS[scenario],
                              "vus": self.vus(upto - 1, scenario), "names": names})
        return {"scenarios": scenarios, "bytes_read": 1000 * upto, "bytes_written": 100 * upto}

    def lines(self):
        out = []
        for i in range(self.seconds):
            out.append({"tick": {"start_unix_ms": self.start_ms, "t": [i], "width": [1],
                                 "series": self._series(i)},
                        "stats": self._stats(i + 1),
                        "now_ms": self.start_ms + (i + 1) * 1000,
                        "final": i == self.seconds - 1})
        return out

    def write_ticks(self, path):
        with open(path, "w") as f:
            for line in self.lines():
                f.write(json.dumps(line) + "\n")
        return path
