"""Secrets stay out of pelt's output: Authorization, Cookie and Proxy-Authorization header values
(from -H and from TOML) and -e values whose names contain TOKEN, SECRET or PASSWORD never show in
stdout, stderr (summary and the terminal progress line), the --json / --summary-json document or
/metrics. Also: the metrics endpoint binds 127.0.0.1 when given a bare port, and TLS certificates
are verified unless --insecure is given."""
import http.server
import os
import pty
import select
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from harness import BIN, Nginx, Target, free_port, read_json, run_pelt_json, wait_for_port

RUN_LIMIT_S = 60  # seconds before a pelt run counts as hung

# Distinctive values: none of them can appear in output by accident.
AUTH = "pelt-sekrit-auth-4f9c1e"
COOKIE = "pelt-sekrit-cookie-8b2d7a"
PROXY = "pelt-sekrit-proxy-3e6f0c"
URL_PASSWORD = "pelt-sekrit-urlpw-9a1b5d"
ENV_TOKEN = "pelt-sekrit-token-1c7e3f"
ENV_SECRET = "pelt-sekrit-secret-6d4a2b"
ENV_PASSWORD = "pelt-sekrit-password-0f8e9d"
ALL = [AUTH, COOKIE, PROXY, URL_PASSWORD, ENV_TOKEN, ENV_SECRET, ENV_PASSWORD]
ENV_ARGS = ["-e", f"API_TOKEN={ENV_TOKEN}", "-e", f"CLIENT_SECRET={ENV_SECRET}",
            "-e", f"DB_PASSWORD={ENV_PASSWORD}"]


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 200 "ok" (keep-alive) and remembers the credential headers seen."""
    protocol_version = "HTTP/1.1"
    seen = set()
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802 (http.server's naming)
        with Recorder.lock:
            for h in ("Authorization", "Cookie", "Proxy-Authorization"):
                if self.headers.get(h):
                    Recorder.seen.add(self.headers[h])
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def run_watched(args, metrics_port=None, env=None):
    """Runs pelt with stderr on a pseudo-terminal (so the progress line is drawn) and scrapes
    http://127.0.0.1:metrics_port/metrics every 0.3 s while it runs and lingers. `env`: extra
    environment variables. Returns (exit code, stdout, terminal text, all scraped metrics text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    os.close(slave)
    term = bytearray()
    out = bytearray()
    scrapes = []

    def read_out():
        out.extend(proc.stdout.read())

    reader = threading.Thread(target=read_out, daemon=True)
    reader.start()
    deadline = time.monotonic() + RUN_LIMIT_S
    next_scrape = time.monotonic()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closes when pelt exits
                chunk = b""
            term.extend(chunk)
            if not chunk and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
        if metrics_port and time.monotonic() >= next_scrape:
            next_scrape = time.monotonic() + 0.3
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as r:
                    scrapes.append(r.read().decode("utf-8", "replace"))
            except OSError:
                pass
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    reader.join(10)
    os.close(master)
    return (proc.returncode, out.decode("utf-8", "replace"), term.decode("utf-8", "replace"),
            "\n".join(scrapes))


def no_secrets(checks, label, where, text, secrets=ALL):
    for s in secrets:
        checks.check(s not in text, f"{label}: secret {s!r} appears in {where}")


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def json_text(path, what):
    """The text of the JSON document at `path`; fails the test when it is missing or unparsable
    (a missing file would hide any secret in it)."""
    read_json(path, what)
    return read_text(path)


class QuietServer(http.server.ThreadingHTTPServer):
    """Ignores clients that hang up mid-response (pelt closes its connections at the end)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def recorder_server():
    """The Recorder behind a threading HTTP server on 127.0.0.1 with a free port."""
    server = QuietServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def port(recorder_server):
    """The Recorder's port, with the credentials seen so far forgotten."""
    with Recorder.lock:
        Recorder.seen.clear()
    return recorder_server.server_address[1]


def seen_credentials():
    with Recorder.lock:
        return set(Recorder.seen)


def test_quick_mode(checks, port, tmp_path):
    """-H credentials, -e secrets, a password in the URL."""
    mport = free_port()
    json_path = str(tmp_path / "quick.json")
    args = ["-t1", "-c2", "-d2s", "--timeout", "2s",
            "-H", f"Authorization: Bearer {AUTH}", "-H", f"Cookie: session={COOKIE}",
            "-H", f"Proxy-Authorization: Basic {PROXY}"] + ENV_ARGS + [
            "--json", json_path, "--metrics", f"127.0.0.1:{mport}", "--metrics-linger", "3s",
            f"http://user:{URL_PASSWORD}@127.0.0.1:{port}/"]
    rc, out, term, metrics = run_watched(args, mport)
    checks.equal(rc, 0, "quick: exit code")
    checks.check("requests in" in out, f"quick: summary printed: {out[:300]!r}")
    checks.check("req/s" in term or "[1s" in term, f"quick: progress drawn on the terminal: {term[:200]!r}")
    checks.check("pelt_http_requests_total" in metrics, "quick: /metrics scraped during the run and linger")
    seen = seen_credentials()
    checks.check(f"Bearer {AUTH}" in seen and f"session={COOKIE}" in seen and f"Basic {PROXY}" in seen,
                 f"quick: the credential headers were really sent: {sorted(seen)}")
    no_secrets(checks, "quick", "stdout", out)
    no_secrets(checks, "quick", "stderr/progress", term)
    no_secrets(checks, "quick", "/metrics", metrics)
    no_secrets(checks, "quick", "--json", json_text(json_path, "quick: --json document"))


def test_scenario_mode(checks, port, tmp_path):
    """The same credentials from TOML headers filled from -e variables."""
    toml = str(tmp_path / "secrets.toml")
    with open(toml, "w") as f:
        f.write(f"""[target]
url = "http://127.0.0.1:{port}"
timeout = "2s"
path = "/items?key=${{API_TOKEN}}"

[target.headers]
Authorization = "Bearer ${{API_TOKEN}}"
Cookie = "sid=${{CLIENT_SECRET}}"
Proxy-Authorization = "Basic ${{DB_PASSWORD}}"

[scenarios.secret_run]
executor = "constant-vus"
vus = 2
duration = "2s"

[thresholds]
http_req_failed = ["rate<0.5"]
""")
    mport = free_port()
    summary_path = str(tmp_path / "scenario.json")
    args = ["run", toml] + ENV_ARGS + ["--summary-json", summary_path,
                                       "--metrics", str(mport), "--metrics-linger", "3s"]
    rc, out, term, metrics = run_watched(args, mport)
    checks.equal(rc, 0, f"scenario: exit code (output {out[-300:]!r} {term[-300:]!r})")
    checks.check("pelt_http_requests_total" in metrics, "scenario: /metrics scraped")
    seen = seen_credentials()
    checks.check(f"Bearer {ENV_TOKEN}" in seen and f"sid={ENV_SECRET}" in seen
                 and f"Basic {ENV_PASSWORD}" in seen,
                 f"scenario: the credential headers were really sent: {sorted(seen)}")
    no_secrets(checks, "scenario", "stdout", out)
    no_secrets(checks, "scenario", "stderr/progress", term)
    no_secrets(checks, "scenario", "/metrics", metrics)
    no_secrets(checks, "scenario", "--summary-json", json_text(summary_path, "scenario: summary JSON"))


# How a secret reaches the script: a -e value, or a variable of the environment, under names the
# one redaction policy knows (API_KEY once escaped every output but /metrics).
SECRET_SOURCES = [
    ("e-token", "API_TOKEN", ENV_TOKEN, False),
    ("env-api-key", "API_KEY", "pelt-sekrit-apikey-5b3c9e", True),
    ("env-credential", "SERVICE_CREDENTIALS", "pelt-sekrit-cred-2d8f1a", True),
]


@pytest.mark.parametrize("label,var,secret,from_environment", SECRET_SOURCES,
                         ids=[c[0] for c in SECRET_SOURCES])
def test_secret_in_names(checks, port, tmp_path, label, var, secret, from_environment):
    """A script that (unwisely) puts a secret into a request name, a check name and an error
    (a failing script line). Neither /metrics nor the console nor the JSON may show it."""
    script = str(tmp_path / "named.lua")
    with open(script, "w") as f:
        f.write(f"local token = pelt.env.{var}\n"
                "wrk.headers['Authorization'] = 'Bearer ' .. token\n"
                "local n = 0\n"
                "request = function()\n"
                "  pelt.name('/users/' .. token)\n"
                "  return wrk.format('GET', '/')\n"
                "end\n"
                "response = function(status)\n"
                "  pelt.check('status ok for ' .. token, status == 200)\n"
                "  n = n + 1\n"
                "  if n == 3 then error('lost ' .. token) end\n"
                "end\n")
    mport = free_port()
    json_path = str(tmp_path / "named.json")
    env_args = [] if from_environment else ["-e", f"{var}={secret}"]
    args = ["-t1", "-c1", "-d1s", "-s", script] + env_args + [
        "--json", json_path, "--metrics", f"127.0.0.1:{mport}", "--metrics-linger", "2s",
        f"http://127.0.0.1:{port}/"]
    rc, out, term, metrics = run_watched(args, mport, env={var: secret} if from_environment else None)
    checks.equal(rc, 0, f"{label}: exit code")
    checks.check("[redacted]" in metrics, f"{label}: /metrics shows the name redacted")
    checks.check("[redacted]" in out, f"{label}: the summary shows the name redacted")
    no_secrets(checks, label, "/metrics", metrics, [secret])
    no_secrets(checks, label, "stdout", out, [secret])
    no_secrets(checks, label, "stderr/progress", term, [secret])
    document = json_text(json_path, f"{label}: --json document")
    checks.check("[redacted]" in document, f"{label}: the JSON shows the name redacted")
    no_secrets(checks, label, "--json", document, [secret])


def test_metrics_port_binds_loopback(checks, target):
    """`--metrics PORT` binds the loopback address only."""
    mport = free_port()
    proc = subprocess.Popen([BIN, "-t1", "-c1", "-d1s", "--metrics", str(mport), "--metrics-linger",
                             "3s", "--quiet", target.url("/")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        checks.check(wait_for_port(mport, 10), "--metrics PORT: 127.0.0.1 accepts connections")
        local = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in read_text(table).splitlines()[1:]:
                fields = line.split()
                addr, state = fields[1], fields[3]
                if state == "0A" and int(addr.rsplit(":", 1)[1], 16) == mport:
                    local.append(addr.rsplit(":", 1)[0])
        checks.check(local != [], f"--metrics PORT: a listening socket on {mport}")
        checks.check(all(a == "0100007F" for a in local),
                     f"--metrics PORT: listens only on 127.0.0.1, found {local}")
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def tls_nginx():
    with Nginx(tls=True) as ng:
        yield ng


def test_tls_verified_by_default(tls_nginx):
    """A self-signed certificate is refused: either the run counts only TLS errors, or pelt
    stops with a message about the certificate (then without a JSON document)."""
    cp, data = run_pelt_json(["-t1", "-c1", "-d1s", "--quiet", tls_nginx.url("/")], timeout=RUN_LIMIT_S)
    ok = data is not None and data["ledger"]["completed"] == 0 and any(
        k.startswith("tls:") for k in data["error_reasons"])
    assert ok or (cp.returncode != 0 and "certificate" in cp.stderr), (
        f"TLS: self-signed certificate refused by default ({cp.returncode}, {cp.stderr[-200:]!r}, "
        f"{data and data['error_reasons']})")
