"""Shared helpers for pelt's integration tests (Python 3 standard library only).

The tests run under pytest: conftest.py and the test files wrap these helpers in fixtures, and
conftest.py makes a test fail when any of its `checks` failed (see README.md here). The helpers themselves need nothing but
the standard library, so the benchmark scripts in bench/ import them too.

Paths come from the environment ctest sets (PELT_BIN, PELT_TARGET_BIN, PELT_SOURCE_DIR,
PELT_SANITIZED) and fall back to ../../build relative to this file, so a test also runs by hand:

    python3 -B -m pytest test/integration/test_faults.py            # one file
    python3 -B -m pytest test/integration/test_faults.py -k reset   # one case
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

_HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PELT_SOURCE_DIR") or os.path.normpath(os.path.join(_HERE, "..", ".."))
BIN = os.environ.get("PELT_BIN") or os.path.join(SOURCE_DIR, "build", "pelt")
TARGET_BIN = os.environ.get("PELT_TARGET_BIN") or os.path.join(SOURCE_DIR, "build", "pelt-target")
# Set by the build when pelt runs under AddressSanitizer: memory and timing figures that hold for
# a release build (peak RSS, exact open-loop rates) are not meaningful there and are relaxed.
SANITIZED = os.environ.get("PELT_SANITIZED", "0") not in ("", "0", "OFF", "FALSE", "false")
NGINX_BIN = os.environ.get("PELT_NGINX_BIN", "/usr/sbin/nginx")

STOP_GRACE_S = 5.0  # seconds between SIGTERM and SIGKILL when stopping a server


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, host="127.0.0.1"):
    """Waits until host:port accepts a TCP connection; returns True, or False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop_process(proc, grace=STOP_GRACE_S):
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream:
            try:
                stream.close()
            except OSError:
                pass
    return proc.returncode


class Target:
    """Runs pelt-target on 127.0.0.1 with a free port for the duration of a `with` block.

    with Target(threads=2) as t:
        urllib.request.urlopen(t.url("/health"))
        print(t.stats()["requests"])
    """

    def __init__(self, threads=1, args=None, binary=None, startup_timeout=10.0):
        self.threads = threads
        self.args = list(args or [])
        self.binary = binary or TARGET_BIN
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.returncode = None  # exit code after stop()
        self._stderr = None

    def start(self):
        cmd = [self.binary, "--listen", "127.0.0.1:0", "--threads", str(self.threads)] + self.args
        # stderr goes to a file: a pipe nobody drains could block the server.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, text=True)
        line = self._read_first_line()
        prefix = "pelt-target listening on "
        if not line.startswith(prefix):
            self.stop()
            err = self.stderr_text()
            raise RuntimeError(f"pelt-target did not start: first line {line!r} stderr {err!r}")
        addr = line[len(prefix):].strip()
        host, port = addr.rsplit(":", 1)
        self.host = host.strip("[]")
        self.port = int(port)
        if not wait_for_port(self.port, self.startup_timeout, host=self.host):
            self.stop()
            raise RuntimeError(f"pelt-target is not accepting on port {self.port}")
        return self

    def _read_first_line(self):
        # A thread keeps the read bounded even if the binary prints nothing.
        result = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        return result[0] if result else ""

    def stderr_text(self):
        """Everything pelt-target wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self):
        if self.proc is not None and self.returncode is None:
            self.returncode = _stop_process(self.proc)
        return self.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def url(self, path="/"):
        if not path.startswith("/"):
            path = "/" + path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def _request(self, method, path, timeout=5.0):
        req = urllib.request.Request(self.url(path), method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def stats(self):
        """GET /stats as a dict: requests, connections_open, connections_total, by_path."""
        return json.loads(self._request("GET", "/stats"))

    def reset(self):
        """POST /admin/reset: zeroes the target's counters."""
        self._request("POST", "/admin/reset")

    def stall(self, ms):
        """POST /admin/stall?ms=N: responses started in the next N ms wait until it ends."""
        self._request("POST", f"/admin/stall?ms={int(ms)}")


class BackgroundServer:
    """A listening socket on 127.0.0.1 (free port) served by a thread until the `with` block
    ends. Subclasses implement _serve(), which loops until self.stopping is set (polling it at
    least every 0.1 s), and may override _close() to release what they opened."""

    def __init__(self, backlog=128):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        raise NotImplementedError

    def _close(self):
        pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(5)
        self._close()
        self.sock.close()
        return False


class Nginx:
    """Runs Debian's nginx as the current user with a generated config in a temp dir.

    Nginx(workers=1, tls=False, root=None, access_log=False, extra_server="", extra_http="",
          http2=False)
      `/` answers 200 "hello\\n"; with `root` set, other paths are served from that directory.
      access_log=True logs every request to a file that access_log_lines() reads.
      tls=True makes a self-signed certificate for 127.0.0.1/localhost (cert_path) and
      listens with ssl.
      http2=True turns on nginx's HTTP/2 module on the listener: h2 by ALPN with tls (HTTP/1.1
      for clients that do not offer h2), h2c with prior knowledge without (and then only h2c).
    """

    def __init__(self, workers=1, tls=False, root=None, access_log=False, extra_server="",
                 extra_http="", binary=None, startup_timeout=10.0, http2=False):
        self.workers = workers
        self.http2 = http2
        self.tls = tls
        self.root = root
        self.access_log = access_log
        self.extra_server = extra_server
        self.extra_http = extra_http
        self.binary = binary or NGINX_BIN
        self.startup_timeout = startup_timeout
        self.dir = None
        self.proc = None
        self.port = None
        self.cert_path = None
        self.key_path = None
        self.access_log_path = None

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    def url(self, path="/"):
        if not path.startswith("/"):
            path = "/" + path
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def _make_cert(self):
        self.cert_path = os.path.join(self.dir, "cert.pem")
        self.key_path = os.path.join(self.dir, "key.pem")
        cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
               "-keyout", self.key_path, "-out", self.cert_path, "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def _config(self):
        d = self.dir
        user = "user root root;\n" if os.geteuid() == 0 else ""
        listen = (f"listen 127.0.0.1:{self.port}" + (" ssl" if self.tls else "") +
                  (" http2" if self.http2 else "") + ";")
        tls = ""
        if self.tls:
            tls = (f"    ssl_certificate {self.cert_path};\n"
                   f"    ssl_certificate_key {self.key_path};\n"
                   "    ssl_protocols TLSv1.2 TLSv1.3;\n")
        log = f"access_log {self.access_log_path};" if self.access_log else "access_log off;"
        root = ""
        if self.root:
            root = f"    location / {{ root {os.path.abspath(self.root)}; }}\n"
        return f"""{user}daemon off;
master_process on;
worker_processes {self.workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 20000; }}
http {{
  {log}
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  default_type application/octet-stream;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {{
    {listen}
    server_name localhost;
{tls}    location = / {{ return 200 "hello\\n"; }}
{root}{self.extra_server}
  }}
{self.extra_http}
}}
"""

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pelt-nginx-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.access_log_path = os.path.join(self.dir, "access.log")
        if self.tls:
            self._make_cert()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        cmd = [self.binary, "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        if not wait_for_port(self.port, self.startup_timeout) or self.proc.poll() is not None:
            log = self.error_log()
            self.stop()
            raise RuntimeError(f"nginx did not start on port {self.port}: {log}")
        return self

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def access_log_lines(self):
        """The access log's lines so far (nginx writes them unbuffered)."""
        try:
            with open(self.access_log_path) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def stop(self):
        if self.proc is not None:
            # SIGQUIT is nginx's graceful stop; SIGTERM (fast stop) is also fine for tests.
            _stop_process(self.proc)
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def run_pelt(args, timeout=60, env=None, input=None):
    """Runs pelt with `args`; returns subprocess.CompletedProcess (text, output captured).

    On timeout pelt is killed and the result has returncode -9 and whatever it printed.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    cmd = [BIN] + [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            text=True, env=full_env)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = (err or "") + f"\n[harness] pelt killed after {timeout}s timeout\n"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_pelt_json(args, timeout=60, env=None, input=None):
    """Runs pelt with `--json <tmpfile>` added; returns (completed_process, dict or None)."""
    fd, path = tempfile.mkstemp(prefix="pelt-", suffix=".json")
    os.close(fd)
    os.unlink(path)  # pelt creates it; absence afterwards means it wrote nothing
    try:
        cp = run_pelt(list(args) + ["--json", path], timeout=timeout, env=env, input=input)
        data = None
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = None
        return cp, data
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def run_pelt_for_json(args, timeout=60, env=None, input=None):
    """Like run_pelt_json, for a run that must write its JSON document: returns
    (completed_process, dict) and raises AssertionError (exit code and stderr in the message)
    when pelt wrote no document or an unparsable one."""
    cp, data = run_pelt_json(args, timeout=timeout, env=env, input=input)
    if data is None:
        raise AssertionError(f"pelt wrote no JSON document (exit {cp.returncode}, "
                             f"args {cp.args[1:]}, stderr {cp.stderr.strip()[-600:]!r})")
    return cp, data


def read_json(path, what="JSON document"):
    """The parsed JSON file at `path`; raises AssertionError when it is missing or unparsable."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise AssertionError(f"{what} not written: {path}: {e.strerror}") from None
    except ValueError as e:
        raise AssertionError(f"{what} is not valid JSON: {path}: {e}") from None


class Checks:
    """Collects failed checks so that one test reports every failure, not just the first.

    Tests take the `checks` fixture (conftest.py); a test whose checks recorded a failure fails
    with all their messages once its function returns. check() and equal() return whether the
    check held, so a test can skip what depends on it.
    """

    def __init__(self):
        self.failures = []  # messages of the failed checks, in order

    def check(self, cond, message):
        if not cond:
            self.failures.append(message)
            print(f"FAIL: {message}", flush=True)
        return bool(cond)

    def equal(self, a, b, message):
        return self.check(a == b, f"{message}: expected {b!r}, got {a!r}")

    def summary(self):
        """All failure messages as one text, or "" when every check held."""
        if not self.failures:
            return ""
        lines = [f"{len(self.failures)} check(s) failed:"] + [f"  - {m}" for m in self.failures]
        return "\n".join(lines)
