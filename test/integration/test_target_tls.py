"""pelt-target with --tls: the generated certificate, certificate files, versions, ALPN (h2 and
the fallback to HTTP/1.1), close_notify on every graceful close, the TLS faults and HTTP/2 over
TLS. Clients: curl, openssl s_client, nghttp, h2load and Python's ssl."""

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

import harness
from harness import Target
from target_clients import H2Client, curl, h2load, s_client, tls_context

REFUSED = (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError)


@pytest.fixture(scope="module")
def certdir():
    with tempfile.TemporaryDirectory(prefix="pelt-tls-") as d:
        yield d


@pytest.fixture(scope="module")
def tg(certdir):
    cert = os.path.join(certdir, "generated.pem")
    with Target(threads=2, args=["--tls", "--tls-cert-out", cert]) as t:
        t.cert = cert
        yield t
    assert t.returncode == 0


def https(t, path, host="127.0.0.1"):
    return f"https://{host}:{t.port}{path}"


def tls_get(t, path, ctx, host="localhost"):
    """One HTTP/1.1 request over a fresh TLS connection with `ctx`: (status, body, socket info)."""
    c = http.client.HTTPSConnection("127.0.0.1", t.port, context=ctx, timeout=5)
    try:
        c.connect()
        info = (c.sock.version(), c.sock.selected_alpn_protocol())
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read(), info
    finally:
        c.close()


def alpn_of(t, offers):
    """The protocol the server picks from the client's ALPN list `offers`."""
    with socket.create_connection(("127.0.0.1", t.port), timeout=3) as raw:
        with tls_context(t.cert, alpn=offers).wrap_socket(raw, server_hostname="localhost") as s:
            return s.selected_alpn_protocol()


def read_to_end(sock, limit_s=3.0):
    """Everything until the end. A clean end (close_notify) reads as b''; a TCP close without
    close_notify raises ssl.SSLEOFError, which this lets through."""
    sock.settimeout(limit_s)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_first_line_is_unchanged(certdir):
    with Target(args=["--tls", "--tls-cert-out", os.path.join(certdir, "x.pem")]) as t:
        assert t.proc is not None
    # Target parsed "pelt-target listening on 127.0.0.1:PORT" or it would not have started.
    assert t.returncode == 0


def test_generated_certificate_is_trusted(tg):
    r = curl(https(tg, "/health"), "1.1", cacert=tg.cert)
    assert (r.rc, r.status, r.body) == (0, 200, b'{"status":"ok"}\n')
    r = curl(https(tg, "/health", "localhost"), "1.1", cacert=tg.cert)
    assert r.status == 200, r.stderr
    for host in ("localhost", "127.0.0.1"):
        ctx = tls_context(tg.cert)  # strict X.509 checks, hostname checked
        c = http.client.HTTPSConnection(host, tg.port, context=ctx, timeout=5)
        c.request("GET", "/health")
        assert c.getresponse().status == 200
        c.close()
    out = s_client(tg.port, "", ["-CAfile", tg.cert, "-verify_return_error",
                                 "-verify_ip", "127.0.0.1"], wait_s=0.3)
    assert "Verify return code: 0 (ok)" in out, out
    decoded = ssl._ssl._test_decode_cert(tg.cert)
    assert set(decoded["subjectAltName"]) == {("IP Address", "127.0.0.1"),
                                              ("IP Address", "0:0:0:0:0:0:0:1"),
                                              ("DNS", "localhost")}
    assert ssl.cert_time_to_seconds(decoded["notBefore"]) < time.time() - 60
    assert ssl.cert_time_to_seconds(decoded["notAfter"]) > time.time() + 7 * 86400
    text = subprocess.run(["openssl", "x509", "-in", tg.cert, "-noout", "-text"],
                          capture_output=True, text=True, timeout=10).stdout
    assert "CA:FALSE" in text and ("id-ecPublicKey" in text or "rsaEncryption" in text)


def test_untrusted_without_cacert(tg):
    r = curl(https(tg, "/"), "1.1")
    assert r.rc != 0 and r.status == 0


def test_ipv6_listener_and_certificate(certdir):
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    cert = os.path.join(certdir, "v6.pem")
    with Target(args=["--listen", "[::1]:0", "--tls", "--tls-cert-out", cert]) as t:
        r = curl(f"https://[::1]:{t.port}/health", "2", cacert=cert, extra=["-g"])
        assert (r.status, r.version) == (200, "2"), r.stderr


def test_alpn_prefers_h2(tg):
    r = curl(https(tg, "/"), "2", cacert=tg.cert)
    assert (r.status, r.version) == (200, "2")
    r = curl(https(tg, "/"), "1.1", cacert=tg.cert)
    assert (r.status, r.version) == (200, "1.1")
    assert alpn_of(tg, ["http/1.1", "h2"]) == "h2"  # the server's order decides
    assert alpn_of(tg, ["spdy/3", "http/1.1"]) == "http/1.1"
    st, _, info = tls_get(tg, "/", tls_context(tg.cert, alpn=["http/1.1"]))
    assert (st, info[1]) == (200, "http/1.1")
    st, _, info = tls_get(tg, "/", tls_context(tg.cert))  # no ALPN at all: HTTP/1.1 works
    assert (st, info[1]) == (200, None)
    out = s_client(tg.port, "", ["-CAfile", tg.cert, "-alpn", "h2,http/1.1"], wait_s=0.3)
    assert "ALPN protocol: h2" in out


def test_alpn_http11_only_refuses_h2(certdir):
    cert = os.path.join(certdir, "h1.pem")
    with Target(args=["--tls", "--tls-cert-out", cert, "--alpn", "http/1.1"]) as t:
        r = curl(https(t, "/health"), "2", cacert=cert)
        assert (r.status, r.version) == (200, "1.1")  # curl falls back to HTTP/1.1
        out = s_client(t.port, "", ["-CAfile", cert, "-alpn", "h2"], wait_s=0.3)
        assert "No ALPN negotiated" in out
        c = H2Client(t.port, tls_context(cert, alpn=["h2"]))
        c.request("/health")  # the preface is not HTTP/2 here: an HTTP/1.1 400 and close
        assert c.wait_closed(timeout=3)
        c.close()


def test_h2_by_prior_knowledge_over_tls_without_alpn(tg):
    c = H2Client(tg.port, tls_context(tg.cert))
    sid = c.request("/echo?p=1")
    assert c.pump(lambda c: c.streams[sid].ended)
    assert json.loads(c.streams[sid].body)["query"] == "p=1"
    c.close()


def test_tls_versions(tg, certdir):
    _, _, info = tls_get(tg, "/", tls_context(tg.cert))
    assert info[0] == "TLSv1.3"
    cert = os.path.join(certdir, "v12.pem")
    with Target(args=["--tls", "--tls-cert-out", cert, "--tls-max", "1.2"]) as t:
        _, _, info = tls_get(t, "/", tls_context(cert))
        assert info[0] == "TLSv1.2"
        ctx = tls_context(cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with pytest.raises(REFUSED):
            tls_get(t, "/", ctx)
        r = curl(https(t, "/health"), "2", cacert=cert)
        assert (r.status, r.version) == (200, "2")  # h2 over TLS 1.2 too


def test_certificate_files(certdir):
    key, cert = os.path.join(certdir, "own.key"), os.path.join(certdir, "own.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=pelt-own-cert",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    with Target(args=["--tls", "--tls-cert", cert, "--tls-key", key]) as t:
        r = curl(https(t, "/health"), "2", cacert=cert)
        assert (r.status, r.version) == (200, "2"), r.stderr
        out = s_client(t.port, "", ["-CAfile", cert], wait_s=0.3)
        assert "CN = pelt-own-cert" in out


@pytest.mark.parametrize("args,needle", [
    (["--tls", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"],
     "/nonexistent/c.pem"),
    (["--tls", "--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"], "/etc/hostname"),
    (["--tls", "--tls-cert", "/nonexistent/c.pem"], "--tls-key"),
    (["--tls-cert-out", "/tmp/x.pem"], "need --tls"),
    (["--tls", "--tls-cert-out", "/nonexistent/dir/x.pem"], "/nonexistent/dir/x.pem"),
    (["--tls", "--tls-max", "1.1"], "--tls-max"),
    (["--tls", "--alpn", "spdy/3"], "--alpn"),
    (["--tls", "--alpn", ""], "--alpn"),
    (["--tls", "--alpn", "h2,h2"], "--alpn"),
])
def test_bad_tls_arguments(args, needle):
    cp = subprocess.run([harness.TARGET_BIN, "--listen", "127.0.0.1:0"] + args,
                        capture_output=True, text=True, timeout=10)
    assert cp.returncode == 2 and needle in cp.stderr, cp.stderr
    assert "listening" not in cp.stdout


def test_close_delimited_body_ends_with_close_notify(tg):
    ctx = tls_context(tg.cert, alpn=["http/1.1"])
    with socket.create_connection(("127.0.0.1", tg.port), timeout=3) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(b"GET /fault/http10 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_end(s)  # raises SSLEOFError without close_notify
    assert data.startswith(b"HTTP/1.0 200") and data.endswith(b"close-delimited body\n")
    out = s_client(tg.port, "GET /fault/http10 HTTP/1.1\r\nHost: x\r\n\r\n",
                   ["-CAfile", tg.cert, "-alpn", "http/1.1", "-msg"], wait_s=0.5)
    body_at = out.find("close-delimited body")
    notify_at = out.find("<<< TLS 1.3, Alert [length 0002], warning close_notify")
    assert 0 <= body_at < notify_at, out


def test_close_notify_fault(tg):
    ctx = tls_context(tg.cert, alpn=["http/1.1"])
    with socket.create_connection(("127.0.0.1", tg.port), timeout=3) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(b"GET /fault/close-notify HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_end(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 20" in head
    assert b"Connection" not in head and body == b"connection recycled\n"


def test_graceful_closes_send_close_notify(tg):
    ctx = tls_context(tg.cert, alpn=["http/1.1"])
    for request in (b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /fault/close-before-headers HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.0\r\n\r\n",
                    b"NOT HTTP AT ALL\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", tg.port), timeout=3) as raw:
            s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
            s.sendall(request)
            read_to_end(s)  # no SSLEOFError: the server said close_notify
    with socket.create_connection(("127.0.0.1", tg.port), timeout=3) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(b"GET /fault/reset HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises((ssl.SSLEOFError, ConnectionResetError)):
            read_to_end(s)  # an RST is not a TLS close (OpenSSL sees an unexpected EOF)


def test_client_close_notify_is_answered(tg):
    ctx = tls_context(tg.cert, alpn=["http/1.1"])
    for path in ("/", "/delay/300", "/fault/hang"):
        with socket.create_connection(("127.0.0.1", tg.port), timeout=3) as raw:
            s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
            if path == "/":
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(65536).startswith(b"HTTP/1.1 200")
            else:  # still being answered: dropped when the client closes TLS
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                time.sleep(0.05)
            start = time.monotonic()
            s.unwrap()  # sends our close_notify and waits for the server's
            assert time.monotonic() - start < 0.25, path


def test_renegotiation(certdir):
    cert = os.path.join(certdir, "reneg.pem")
    with Target(args=["--tls", "--tls-cert-out", cert, "--tls-max", "1.2"]) as t:
        out = s_client(t.port, "GET /fault/renegotiate HTTP/1.1\r\nHost: x\r\n\r\n",
                       ["-tls1_2", "-CAfile", cert, "-alpn", "http/1.1", "-msg"], wait_s=1.0)
        hello_request = out.find("<<< TLS 1.2, Handshake [length 0004], HelloRequest")
        second_hello = out.find(">>> TLS 1.2, Handshake", hello_request)
        answer = out.find("renegotiated")
        assert 0 <= hello_request < second_hello < answer, out
        st, body, _ = tls_get(t, "/fault/renegotiate", tls_context(cert, alpn=["http/1.1"]))
        assert (st, body) == (200, b"renegotiated\n")
        # A client that refuses to renegotiate (it answers with a no_renegotiation alert) loses
        # the connection: OpenSSL ends the handshake with a fatal alert.
        ctx = tls_context(cert, alpn=["http/1.1"])
        ctx.options |= ssl.OP_NO_RENEGOTIATION
        with pytest.raises(REFUSED):
            tls_get(t, "/fault/renegotiate", ctx)
        r = curl(https(t, "/fault/renegotiate"), "2", cacert=cert)
        assert (r.version, r.status) == ("2", 400)  # HTTP/2 forbids renegotiation
        assert tls_get(t, "/health", tls_context(cert))[0] == 200
    st, body, _ = tls_get_plain_13(certdir)
    assert st == 400 and b"TLS 1.2" in body


def tls_get_plain_13(certdir):
    cert = os.path.join(certdir, "reneg13.pem")
    with Target(args=["--tls", "--tls-cert-out", cert]) as t:
        return tls_get(t, "/fault/renegotiate", tls_context(cert, alpn=["http/1.1"]))


def test_plain_http_to_the_tls_port(tg):
    c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=3)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        c.request("GET", "/")
        c.getresponse()
    c.close()
    assert curl(https(tg, "/health"), "2", cacert=tg.cert).status == 200


def tls_stats(t):
    return json.loads(curl(https(t, "/stats"), "1.1", cacert=t.cert).body)


def test_http2_over_tls(tg):
    assert curl(https(tg, "/admin/reset"), "1.1", method="POST", cacert=tg.cert).status == 200
    for path, want in (("/", b"Hello from pelt-target\n"), ("/delay/20", b"delayed 20 ms\n"),
                       ("/status/999", b"status 999\n")):
        r = curl(https(tg, path), "2", cacert=tg.cert)
        assert (r.version, r.body) == ("2", want)
    r = curl(https(tg, "/bytes/5000000"), "2", cacert=tg.cert)
    assert len(r.body) == 5_000_000
    r = curl(https(tg, "/sink"), "2", cacert=tg.cert, data=b"s" * 10_000_000)
    assert json.loads(r.body) == {"bytes": 10_000_000}
    r = curl(https(tg, "/sink"), "1.1", cacert=tg.cert, data=b"s" * 10_000_000)
    assert json.loads(r.body) == {"bytes": 10_000_000}
    r = curl(https(tg, "/bytes/5000000"), "1.1", cacert=tg.cert)
    assert len(r.body) == 5_000_000
    s = tls_stats(tg)
    assert s["by_protocol"] == {"http/1.1": 2, "h2": 5}
    rc, out = h2load(["-n", "2000", "-c", "4", "-m", "10", https(tg, "/")])
    assert rc == 0 and "2000 succeeded" in out and "TLS Protocol: TLSv1.3" in out, out
    rc, out = h2load(["-n", "500", "-c", "2", "--h1", https(tg, "/")])
    assert rc == 0 and "500 succeeded" in out, out


def test_goaway_over_tls_then_close_notify(tg):
    c = H2Client(tg.port, tls_context(tg.cert, alpn=["h2"]))
    assert c.sock.selected_alpn_protocol() == "h2"
    sid = c.request("/fault/goaway?error=internal")
    assert c.pump(lambda c: c.goaway is not None)
    assert c.goaway == (2, sid)
    assert c.wait_closed(timeout=3) and c.eof  # clean TLS close, not an SSLEOFError
    c.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
