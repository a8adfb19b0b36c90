#!/usr/bin/env python3
"""pelt's blocking HTTP client (src/util/http_client.cc) against Python's http.server and the
bundled pelt-target: POST bodies and headers, chunked responses, keep-alive, IPv6, HTTPS with
certificate verification (refused without the CA, accepted with --ca-file or --insecure), and
the wording of connection errors.
"""

import http.server
import json
import os
import socket
import ssl
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from outputs_support import make_cert, run_probe  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, chunked=False, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                piece = body[i:i + 7]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/chunked"):
            self._send(200, b"0123456789" * 50, chunked=True)
        else:
            self._send(200, json.dumps({"path": self.path,
                                        "client_port": self.client_address[1]}).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(201, json.dumps({"path": self.path, "body": body.decode(),
                                    "headers": dict(self.headers)}).encode(),
                   headers=[("X-Echo", "yes")])


class V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Server:
    """http.server on loopback in a thread; tls=True wraps it with a self-signed certificate."""

    def __init__(self, tls=False, ipv6=False):
        self.dir = tempfile.mkdtemp(prefix="pelt-http-")
        cls = V6Server if ipv6 else http.server.ThreadingHTTPServer
        self.httpd = cls(("::1" if ipv6 else "127.0.0.1", 0), Handler)
        self.cert = None
        if tls:
            self.cert, key = make_cert(self.dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        host = "[::1]" if ipv6 else "127.0.0.1"
        self.base = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        return False


def probe_http(*args):
    result, cp = run_probe(["http"] + list(args))
    assert result is not None and cp.returncode == 0, cp.stderr
    return result


def test_post_body_and_headers():
    with Server() as s, tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("m,t=a v=1i 1\nm,t=b v=2i 2\n")
        f.flush()
        r = probe_http("--method", "POST", "--header", "Content-Type: text/plain",
                       "--data-file", f.name, s.base + "/write?db=x&precision=ms")
    assert r["ok"] and r["status"] == 201, r
    echo = json.loads(r["body"])
    assert echo["path"] == "/write?db=x&precision=ms"
    assert echo["body"] == "m,t=a v=1i 1\nm,t=b v=2i 2\n"
    assert echo["headers"]["Content-Type"] == "text/plain"
    assert echo["headers"]["Host"] == f"127.0.0.1:{s.port}"
    assert ["X-Echo", "yes"] in r["headers"]


def test_chunked_response_and_keep_alive():
    with Server() as s:
        r = probe_http("--repeat", "5", s.base + "/chunked")
    assert r["ok"], r
    assert r["body"] == "0123456789" * 50
    assert r["connections"] == 1  # five requests, one connection


def test_ipv6_loopback():
    with Server(ipv6=True) as s:
        r = probe_http(s.base + "/six")
    assert r["ok"], r
    assert json.loads(r["body"])["path"] == "/six"


def test_https_verifies_the_certificate():
    with Server(tls=True) as s:
        refused = probe_http(s.base + "/")
        trusted = probe_http("--ca-file", s.cert, s.base + "/")
        insecure = probe_http("--insecure", s.base + "/")
        by_name = probe_http("--ca-file", s.cert, f"https://localhost:{s.port}/")
    assert not refused["ok"]
    assert refused["error"].startswith(f"TLS handshake with 127.0.0.1:{s.port}: "), refused
    assert "certificate verify failed" in refused["error"], refused
    assert trusted["ok"] and trusted["status"] == 200, trusted
    assert insecure["ok"] and insecure["status"] == 200, insecure
    assert by_name["ok"], by_name


def test_bundled_target_and_refused_port():
    with harness.Target() as t:
        r = probe_http("--repeat", "3", t.url("/health"))
    assert r["ok"] and r["status"] == 200, r
    assert r["connections"] == 1
    port = harness.free_port()
    r = probe_http(f"http://127.0.0.1:{port}/")
    assert not r["ok"]
    assert r["error"] == f"connect 127.0.0.1:{port}: ECONNREFUSED"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
