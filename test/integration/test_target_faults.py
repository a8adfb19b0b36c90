"""pelt-target's newer HTTP/1.1 behaviour for client robustness and upload tests: /status with
any code from 100 to 999, /fault/close-notify on plain HTTP, --close-on-accept, /sink (bodies of
any size, never kept) with Expect: 100-continue, and the new command line flags."""

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

import harness
from harness import Target
from target_clients import curl


@pytest.fixture(scope="module")
def tg():
    with Target(threads=1) as t:
        yield t
    assert t.returncode == 0


def raw_exchange(port, request, limit_s=3.0):
    """Sends raw bytes, returns everything received until EOF (or the time limit)."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as s:
        s.sendall(request)
        data = b""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        return data


def test_status_any_three_digit_code(tg):
    for code in (200, 299, 418, 599, 600, 700, 999):
        c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=5)
        c.request("GET", f"/status/{code}")
        r = c.getresponse()
        assert (r.status, r.read()) == (code, f"status {code}\n".encode())
        c.close()
    for bad in ("99", "1000", "101", "abc", "-200", ""):
        r = curl(tg.url(f"/status/{bad}"))
        assert r.status == 400, bad


def test_status_informational_codes(tg):
    data = raw_exchange(tg.port, b"GET /status/103 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert data.endswith(b"status 103\n")
    data = raw_exchange(tg.port, b"GET /status/100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    data = raw_exchange(tg.port, b"GET /status/150 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 150 Status\r\n\r\nHTTP/1.1 200 OK\r\n")
    # HTTP/1.0 has no informational responses: only the final 200.
    data = raw_exchange(tg.port, b"GET /status/103 HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"status 103\n")
    r = curl(tg.url("/status/102"))
    assert (r.statuses, r.body) == ([102, 200], b"status 102\n")


def test_close_notify_fault_on_plain_http(tg):
    data = raw_exchange(tg.port, b"GET /fault/close-notify HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 20" in head
    assert b"Connection" not in head  # a keep-alive response ...
    assert body == b"connection recycled\n"  # ... and then FIN (raw_exchange saw EOF)


def test_h2_only_and_tls_only_faults_on_plain_http1(tg):
    for name, needle in (("goaway", b"needs HTTP/2"), ("rst-stream", b"needs HTTP/2"),
                         ("renegotiate", b"TLS 1.2")):
        r = curl(tg.url(f"/fault/{name}"))
        assert r.status == 400 and needle in r.body, name


def test_sink_counts_without_keeping(tg):
    big = b"u" * 10_000_000
    c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=20)
    for method in ("POST", "PUT", "PATCH"):
        c.request(method, "/sink", body=big)
        r = c.getresponse()
        assert (r.status, json.loads(r.read())) == (200, {"bytes": len(big)})
    c.request("GET", "/sink")
    r = c.getresponse()
    assert (r.status, json.loads(r.read())) == (200, {"bytes": 0})
    c.close()
    # Chunked, and "Expect: 100-continue": the 100 comes before the body is sent.
    with socket.create_connection(("127.0.0.1", tg.port), timeout=5) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"e" * 3_000_000)
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  b"100000\r\n" + b"c" * 0x100000 + b"\r\n" + b"5\r\nhello\r\n0\r\n\r\n")
        data = b""
        while data.count(b"}\n") < 2:
            data += s.recv(65536)
    assert b'{"bytes":3000000}\n' in data and b'{"bytes":1048581}\n' in data
    r = curl(tg.url("/sink"), data=b"x" * 5_000_000)  # curl sends Expect for large bodies
    assert (r.status, json.loads(r.body)) == (200, {"bytes": 5_000_000})


def test_sink_memory_stays_bounded(tg):
    answers = []

    def upload():
        c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=30)
        for _ in range(3):
            c.request("POST", "/sink", body=b"m" * 20_000_000)
            answers.append(json.loads(c.getresponse().read()))
        c.close()
    threads = [threading.Thread(target=upload) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert answers == [{"bytes": 20_000_000}] * 12
    with open(f"/proc/{tg.proc.pid}/status") as f:
        peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
    # 240 MB went through four connections; the server never held a body.
    assert peak_kb < (120_000 if harness.SANITIZED else 40_000), peak_kb


def test_sink_limit(tg):
    limit = 256 << 20
    with socket.create_connection(("127.0.0.1", tg.port), timeout=10) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (limit + 1))
        piece = b"z" * (1 << 20)
        try:
            for _ in range(257):
                s.sendall(piece)
            s.sendall(b"z")
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    assert data.startswith(b"HTTP/1.1 400 Bad Request"), data[:100]


def test_close_on_accept():
    with Target(args=["--close-on-accept"]) as t:
        for read_first in (True, False):
            for _ in range(10):
                s = socket.create_connection(("127.0.0.1", t.port), timeout=2)
                try:
                    if not read_first:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    got = s.recv(4096)  # EOF, or RST when the request was already there
                except ConnectionResetError:
                    got = b""
                finally:
                    s.close()
                assert got == b""
        r = curl(t.url("/health"))
        assert r.status == 0 and r.rc != 0
        assert t.proc.poll() is None
    assert t.returncode == 0


@pytest.mark.parametrize("args,needle", [
    (["--pool", "4"], "--pool"),
    (["--pool", "0:50"], "--pool"),
    (["--pool", "4:0"], "--pool"),
    (["--pool", "x:y"], "--pool"),
    (["--h2-window", "0"], "--h2-window"),
    (["--h2-window", "2147483648"], "--h2-window"),
    (["--h2-max-streams", "-1"], "--h2-max-streams"),
    (["--h2-max-requests", "0"], "--h2-max-requests"),
    (["--h2-max-requests"], "--h2-max-requests"),
    (["--close-on-accept=yes"], "--close-on-accept"),
    (["--tls=1"], "--tls"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_arguments_exit_2(args, needle):
    cp = subprocess.run([harness.TARGET_BIN, "--listen", "127.0.0.1:0"] + args,
                        capture_output=True, text=True, timeout=10)
    assert cp.returncode == 2 and needle in cp.stderr, cp.stderr


def test_help_lists_the_flags():
    cp = subprocess.run([harness.TARGET_BIN, "--help"], capture_output=True, text=True,
                        timeout=10)
    for flag in ("--tls", "--tls-cert", "--tls-key", "--tls-cert-out", "--tls-max", "--alpn",
                 "--h2-max-streams", "--h2-window", "--h2-max-requests", "--close-on-accept",
                 "--pool"):
        assert flag in cp.stdout


def test_listening_line_with_every_option(tmp_path):
    cmd = [harness.TARGET_BIN, "--listen", "127.0.0.1:0", "--tls", "--tls-cert-out",
           str(tmp_path / "c.pem"), "--pool", "2:10", "--h2-window=100000", "--threads=2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert re.fullmatch(r"pelt-target listening on 127\.0\.0\.1:\d+\n", line), line
        assert (tmp_path / "c.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
