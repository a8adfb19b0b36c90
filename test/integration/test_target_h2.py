"""pelt-target over cleartext HTTP/2: prior knowledge and the h2c upgrade, every endpoint
answering as it does over HTTP/1.1, concurrency of streams, the --h2-* knobs and the HTTP/2
fault paths. Clients: curl, nghttp, h2load and python3-h2 for frame-level checks."""

import json
import re
import sys
import time

import pytest

from harness import Target
from target_clients import H2Client, curl, h2load, nghttp

SETTINGS_MAX_CONCURRENT_STREAMS = 3
SETTINGS_INITIAL_WINDOW_SIZE = 4
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, REFUSED_STREAM = 0, 1, 2, 7


def pattern(n):
    return bytes(ord("a") + i % 26 for i in range(n))


@pytest.fixture(scope="module")
def tg():
    with Target(threads=2) as t:
        yield t
    assert t.returncode == 0


def test_three_ways_in(tg):
    url = tg.url("/health")
    r = curl(url, "prior")
    assert (r.status, r.version, r.body) == (200, "2", b'{"status":"ok"}\n')
    r = curl(url, "2")  # Upgrade: h2c, answered as stream 1 after a 101
    assert (r.status, r.version, r.statuses) == (200, "2", [101, 200])
    r = curl(tg.url("/echo"), "2", data="up")  # an upgrade carrying a body
    assert (r.version, json.loads(r.body)["body"]) == ("2", "up")
    r = curl(url, "1.1")
    assert (r.status, r.version) == (200, "1.1")


# (method, path, body, headers): each is sent over HTTP/1.1 and over HTTP/2 and must get the
# same status, body and headers (HTTP/1.1 framing headers aside).
SAME = [
    ("GET", "/", None, ()),
    ("GET", "/bytes/0", None, ()),
    ("GET", "/bytes/1000", None, ()),
    ("GET", "/bytes/300000", None, ()),
    ("HEAD", "/bytes/100", None, ()),
    ("GET", "/chunked/1000", None, ()),
    ("GET", "/chunked/100000", None, ()),
    ("GET", "/delay/30", None, ()),
    ("POST", "/delay/0", None, ()),
    ("GET", "/status/418", None, ()),
    ("GET", "/status/204", None, ()),
    ("GET", "/status/304", None, ()),
    ("GET", "/status/599", None, ()),
    ("GET", "/status/999", None, ()),
    ("GET", "/status/103", None, ()),
    ("GET", "/status/101", None, ()),
    ("GET", "/status/99", None, ()),
    ("GET", "/status/1000", None, ()),
    ("GET", "/close", None, ()),
    ("GET", "/health", None, ()),
    ("GET", "/books", None, ()),
    ("GET", "/books", None, ('If-None-Match: "stale"',)),
    ("POST", "/coupons/abc/issue-async?couponId=7", None, ()),
    ("GET", "/coupons/42/issue-async?couponId=7", None, ()),
    ("POST", "/inventory/decrease", '{"productId":5', ()),
    ("POST", "/queue/enqueue", None, ()),
    ("GET", "/nope", None, ()),
    ("POST", "/bytes/10", None, ()),
    ("GET", "/fault/no-such", None, ()),
    ("GET", "/pool", None, ()),
    ("POST", "/sink", "x" * 100_000, ()),
    ("PUT", "/sink", "", ()),
    ("POST", "/admin/stall?ms=abc", None, ()),
    ("GET", "/fault/drip?bytes=3&ms=20", None, ()),
]
COMPARED_HEADERS = ("content-type", "content-length", "etag", "cache-control", "allow",
                    "www-authenticate")


@pytest.mark.parametrize("method,path,body,headers", SAME)
def test_endpoint_answers_the_same(tg, method, path, body, headers):
    one = curl(tg.url(path), "1.1", method=method, data=body, headers=headers)
    two = curl(tg.url(path), "prior", method=method, data=body, headers=headers)
    assert (one.version, two.version) == ("1.1", "2")
    assert two.status == one.status and two.statuses == one.statuses
    assert two.body == one.body
    chunked = one.headers.get("transfer-encoding") == "chunked"
    for name in COMPARED_HEADERS:
        if name == "content-length" and chunked:
            assert name not in two.headers
        else:
            assert two.headers.get(name) == one.headers.get(name), name
    for forbidden in ("connection", "transfer-encoding", "keep-alive"):
        assert forbidden not in two.headers


def test_stateful_endpoints_over_h2(tg):
    url = tg.url("/coupons/4242/issue-async?couponId=9")
    first, second = curl(url, "prior", method="POST"), curl(url, "prior", method="POST")
    assert (first.status, json.loads(first.body)["status"]) == (201, "queued")
    assert (second.status, json.loads(second.body)["status"]) == (200, "already_issued")
    r = curl(tg.url("/inventory/decrease"), "prior", data='{"productId":77,"quantity":3}')
    assert (r.status, json.loads(r.body)) == (200, {"productId": 77, "remaining": 999_997})
    r = curl(tg.url("/queue/enqueue?boothId=B-1"), "prior", method="POST",
             headers=("Authorization: Bearer t",))
    assert (r.status, json.loads(r.body)["boothId"]) == (200, "B-1")
    books = curl(tg.url("/books"), "prior")
    r = curl(tg.url("/books"), "prior", headers=(f"If-None-Match: {books.headers['etag']}",))
    assert (r.status, r.body) == (304, b"")


def test_echo_over_h2(tg):
    r = curl(tg.url("/echo?a=1"), "prior", method="PUT", data="hello \u00e9",
             headers=("X-Test: Yes", "X-Two: 1"))
    echo = json.loads(r.body)
    assert (echo["method"], echo["path"], echo["query"], echo["body"]) == \
        ("PUT", "/echo", "a=1", "hello \u00e9")
    assert echo["headers"]["x-test"] == "Yes" and echo["headers"]["x-two"] == "1"
    assert not any(name.startswith(":") for name in echo["headers"])
    assert all(name == name.lower() for name in echo["headers"])
    big = "z" * 1_000_000
    r = curl(tg.url("/echo"), "prior", data=big)
    assert len(json.loads(r.body)["body"]) == len(big)


def test_bodies_over_h2(tg):
    r = curl(tg.url("/bytes/5000000"), "prior")
    assert len(r.body) == 5_000_000 and r.body[:52] == pattern(52)
    r = curl(tg.url("/sink"), "prior", data=b"q" * 10_000_000)
    assert json.loads(r.body) == {"bytes": 10_000_000}
    r = curl(tg.url("/sink"), "2", data=b"q" * 3_000_000)  # upgrade request with a big body
    assert (r.version, json.loads(r.body)) == ("2", {"bytes": 3_000_000})


def test_stats_count_by_protocol(tg):
    tg.reset()
    for _ in range(3):
        curl(tg.url("/"), "1.1")
    for _ in range(4):
        curl(tg.url("/"), "prior")
    for _ in range(2):
        curl(tg.url("/"), "2")
    s = tg.stats()
    assert s["by_protocol"] == {"http/1.1": 3, "h2": 6}
    assert s["requests"] == 9 and s["by_path"] == {"/": 9}


def test_stall_over_h2(tg):
    tg.stall(300)
    start = time.monotonic()
    r = curl(tg.url("/stats"), "prior")
    assert r.status == 200 and time.monotonic() - start < 0.25
    r = curl(tg.url("/"), "prior")
    assert r.status == 200 and time.monotonic() - start >= 0.28


def test_streams_run_concurrently(tg):
    c = H2Client(tg.port)
    try:
        start = time.monotonic()
        sids = [c.request("/delay/200") for _ in range(10)]
        assert c.pump(lambda c: all(c.streams[s].ended for s in sids), timeout=5)
        took = time.monotonic() - start
        assert all(c.streams[s].body == b"delayed 200 ms\n" for s in sids)
        assert 0.2 <= took < 1.0, took  # ten 200 ms waits side by side, not one after another
        hang = c.request("/fault/hang")
        ok = c.request("/health")
        assert c.pump(lambda c: c.streams[ok].ended, timeout=3)
        assert c.streams[ok].status == 200 and not c.streams[hang].ended
    finally:
        c.close()


def test_client_resets_and_disconnects_mid_wait(tg):
    c = H2Client(tg.port)
    sid = c.request("/delay/300")
    c.request("/fault/endless-chunked")
    c.pump(lambda c: False, timeout=0.1)
    c.reset_stream(sid)
    other = c.request("/health")
    assert c.pump(lambda c: c.streams[other].ended, timeout=3)
    c.close()  # with a wait and an endless body still running
    time.sleep(0.4)
    assert curl(tg.url("/health"), "prior").status == 200


def test_paced_bodies_over_h2(tg):
    c = H2Client(tg.port)
    try:
        start = time.monotonic()
        drip = c.request("/fault/drip?bytes=3&ms=100")
        assert c.pump(lambda c: c.streams[drip].ended, timeout=3)
        assert c.streams[drip].body == b"abc" and time.monotonic() - start >= 0.28
        endless = c.request("/fault/endless-chunked")
        assert c.pump(lambda c: len(c.streams[endless].body) >= 5 * 1024, timeout=2)
        assert not c.streams[endless].ended
    finally:
        c.close()


def test_h2load(tg):
    rc, out = h2load(["-n", "3000", "-c", "4", "-m", "20", tg.url("/")])
    assert rc == 0 and "3000 succeeded" in out, out
    path = "/tmp/pelt-h2load-body"
    with open(path, "wb") as f:
        f.write(b"b" * 100_000)
    rc, out = h2load(["-n", "200", "-c", "2", "-m", "10", "-d", path, tg.url("/sink")])
    assert rc == 0 and "200 succeeded" in out, out


def test_max_streams_setting():
    with Target(args=["--h2-max-streams", "5"]) as t:
        c = H2Client(t.port)
        # Eight streams sent before the client has seen the SETTINGS: five are served, three
        # refused (REFUSED_STREAM, safe to retry).
        sids = [c.request("/delay/100") for _ in range(8)]
        assert c.pump(lambda c: all(c.streams[s].ended or c.streams[s].reset for s in sids))
        assert c.remote_settings[SETTINGS_MAX_CONCURRENT_STREAMS] == 5
        assert [c.streams[s].status for s in sids] == [200] * 5 + [0] * 3
        assert [c.streams[s].reset for s in sids[5:]] == [REFUSED_STREAM] * 3
        c.close()
        rc, out = h2load(["-n", "500", "-c", "1", "-m", "5", t.url("/delay/1")])
        assert rc == 0 and "500 succeeded" in out, out
        rc, out = nghttp(["-nv", t.url("/")])
        assert "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):5" in out


def test_window_setting():
    with Target(args=["--h2-window", "1"]) as t:
        c = H2Client(t.port)
        assert c.pump(lambda c: SETTINGS_INITIAL_WINDOW_SIZE in c.remote_settings)
        assert c.remote_settings[SETTINGS_INITIAL_WINDOW_SIZE] == 1
        c.close()
        # nghttp sends 65,535 bytes before it has the server's SETTINGS (the protocol default),
        # then the rest a byte at a time as the server grants windows of one byte.
        body = b"w" * 66_000
        path = "/tmp/pelt-h2-window-body"
        with open(path, "wb") as f:
            f.write(body)
        # (Tried twice: on a loaded machine with a sanitized build the ~500 one-byte round trips
        # have failed once; the second try's output is kept for the checks below.)
        tails = []
        for _ in range(2):
            rc, out = nghttp(["-v", "-t", "50", "-d", path, t.url("/sink")], timeout=60)
            if '{"bytes":66000}' in out:
                break
            tails.append(out[-1500:])
        assert '{"bytes":66000}' in out, tails
        one_byte_frames = len(re.findall(r"send DATA frame <length=1, ", out))
        assert one_byte_frames >= 400, one_byte_frames
        assert re.search(r"recv WINDOW_UPDATE frame <length=4, flags=0x00, stream_id=0>\s+"
                         r"\(window_size_increment=1\)", out)
        assert "window_size_increment=1)" in out


def test_max_requests_goaway():
    with Target(args=["--h2-max-requests", "3"]) as t:
        c = H2Client(t.port)
        slow = c.request("/delay/300")
        fast = [c.request("/"), c.request("/")]
        extra = c.request("/")  # sent before the client can know about the GOAWAY
        assert c.pump(lambda c: c.goaway is not None)
        assert c.goaway == (NO_ERROR, fast[-1])  # the third stream is the last one served
        assert c.pump(lambda c: c.streams[slow].ended, timeout=3)
        assert c.streams[slow].body == b"delayed 300 ms\n"
        assert all(c.streams[s].status == 200 and c.streams[s].ended for s in fast)
        assert c.wait_closed(timeout=3)  # the server closes once the open streams are done
        assert c.streams[extra].status == 0 and c.streams[extra].reset is None
        c.close()
        s = t.stats()
        assert s["by_protocol"]["h2"] == 3


def test_goaway_fault(tg):
    for query, code in (("", PROTOCOL_ERROR), ("?error=protocol", PROTOCOL_ERROR),
                        ("?error=internal", INTERNAL_ERROR)):
        c = H2Client(tg.port)
        sid = c.request("/fault/goaway" + query)
        assert c.pump(lambda c: c.goaway is not None)
        assert c.goaway == (code, sid)
        assert c.wait_closed(timeout=3)
        assert c.streams[sid].status == 0
        c.close()
    r = curl(tg.url("/fault/goaway?error=nonsense"), "prior")
    assert r.status == 400


def test_rst_stream_fault(tg):
    c = H2Client(tg.port)
    try:
        sid = c.request("/fault/rst-stream")
        assert c.pump(lambda c: c.streams[sid].reset is not None)
        assert c.streams[sid].reset == REFUSED_STREAM and c.streams[sid].status == 0
        ok = c.request("/health")  # the connection stays usable
        assert c.pump(lambda c: c.streams[ok].ended)
        assert c.streams[ok].status == 200
    finally:
        c.close()


def test_reset_fault_over_h2(tg):
    c = H2Client(tg.port)
    sid = c.request("/fault/reset")
    c.pump(lambda c: False, timeout=2)
    assert c.reset, "the TCP connection ends with RST"
    st = c.streams[sid]
    assert (st.status, st.headers.get("content-length"), st.body, st.ended) == \
        (200, "1000", b"partial", False)
    c.close()


def test_hang_fault_over_h2(tg):
    c = H2Client(tg.port)
    sid = c.request("/fault/hang")
    assert not c.pump(lambda c: c.streams[sid].status != 0, timeout=0.5)
    assert not c.eof
    c.close()


def fault_trace(tg, name):
    rc, out = nghttp(["-nv", tg.url(f"/fault/{name}")], timeout=15)
    return out


def test_http1_framing_faults_in_h2_form(tg):
    out = fault_trace(tg, "long-body")
    assert "content-length: 5" in out and "send RST_STREAM" in out and "PROTOCOL_ERROR" in out
    out = fault_trace(tg, "short-body")
    assert "content-length: 100" in out and "send RST_STREAM" in out
    out = fault_trace(tg, "two-lengths")
    assert "Invalid HTTP header field" in out and "send RST_STREAM" in out
    out = fault_trace(tg, "bad-chunk")
    assert re.search(r"recv DATA frame <length=5, flags=0x00", out)
    assert re.search(r"recv RST_STREAM frame[^\n]*\n\s*\(error_code=PROTOCOL_ERROR", out)
    out = fault_trace(tg, "http10")
    assert "content-length" not in out.split("recv (stream_id=13) :status: 200")[1].split(
        "recv HEADERS")[0]
    assert re.search(r"recv DATA frame <length=21, flags=0x01", out)
    out = fault_trace(tg, "huge-headers")
    assert "x-filler-0000" in out and ("CONTINUATION" in out or "header" in out.lower())
    out = fault_trace(tg, "close-notify")
    assert re.search(r"\(last_stream_id=13, error_code=NO_ERROR", out)
    assert re.search(r"recv DATA frame <length=20, flags=0x01, stream_id=13>", out)


def test_connection_faults_over_h2(tg):
    out = fault_trace(tg, "close-before-headers")
    assert "recv SETTINGS" in out and "recv HEADERS" not in out
    c = H2Client(tg.port)
    c.request("/fault/garbage")
    data = b""
    c.sock.settimeout(3)
    while True:  # raw bytes: the frames queued so far, then the garbage, then EOF
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    assert data.endswith(b"HTXP/1.x two-hundred OKAY\r\n\x01\x02\x03 garbage \xff\r\n\r\n")
    assert data.startswith(b"\x00\x00\x0c\x04\x00")  # the server's SETTINGS frame first
    r = curl(tg.url("/health"), "prior")
    assert r.status == 200


def test_h2_only_faults_over_http1(tg):
    for name in ("goaway", "rst-stream"):
        r = curl(tg.url(f"/fault/{name}"), "1.1")
        assert r.status == 400 and b"needs HTTP/2" in r.body


def test_bad_h2_input_is_survived(tg):
    import socket
    for junk in (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 50,
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x08\x00\x00\x00\x00\x00",
                 b"PRI * HTTP/2.0\r\n\r\nSM"):
        s = socket.create_connection(("127.0.0.1", tg.port), timeout=2)
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
    assert curl(tg.url("/health"), "prior").status == 200


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
