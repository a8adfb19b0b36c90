"""Integration test of pelt-target: every endpoint, every fault path, pipelining, /stats,
/admin/stall timing, HTTP/1.0, and survival of a burst of garbage. Runs in a few seconds."""

import http.client
import json
import random
import socket
import ssl
import time

import subprocess

import pytest

import harness
from harness import Target


class Conn:
    """A raw client connection that reads HTTP/1.1 responses one at a time (pipelining-safe)."""

    def __init__(self, port, timeout=3.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head=False):
        """Returns (status, headers dict with lower-case names, body bytes, raw header list)."""
        status_line = self._line().decode("latin-1")
        status = int(status_line.split(" ")[1])
        headers, raw = {}, []
        while True:
            line = self._line().decode("latin-1")
            if not line:
                break
            name, value = line.split(":", 1)
            raw.append((name.strip(), value.strip()))
            headers[name.strip().lower()] = value.strip()
        if head or status in (204, 304):
            return status, headers, b"", raw
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                body += self._take(size)
                self._line()
            return status, headers, body, raw
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"])), raw
        while True:  # close-delimited
            try:
                self._fill()
            except EOFError:
                break
        body, self.buf = self.buf, b""
        return status, headers, body, raw

    def read_all(self, limit_s=3.0):
        """Everything until EOF (or the time limit); raises ConnectionResetError on RST."""
        deadline = time.monotonic() + limit_s
        data, self.buf = self.buf, b""
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        return data

    def is_closed(self, wait_s=2.0):
        self.sock.settimeout(wait_s)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def request(port, method, path, body=None, headers=None):
    """One request on a fresh http.client connection; returns (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def get(port, path):
    return request(port, "GET", path)


def pattern(n):
    return bytes(ord("a") + i % 26 for i in range(n))


@pytest.fixture(scope="module")
def target():
    """pelt-target with one thread for the whole module; it must exit 0 on SIGTERM at the end,
    after everything below was thrown at it."""
    tg = Target(threads=1).start()
    try:
        yield tg
    finally:
        tg.stop()
    assert tg.returncode == 0, f"SIGTERM exits 0 (got {tg.returncode}, stderr {tg.stderr_text()[-300:]!r})"


def test_root(checks, target):
    p = target.port
    st, h, body = get(p, "/")
    checks.equal(st, 200, "GET / status")
    checks.check(body.startswith(b"Hello"), "GET / body")
    checks.equal(h.get("content-type"), "text/plain", "GET / content type")


def test_bytes(checks, target):
    p = target.port
    for n in (0, 1000, 200_000):
        st, h, body = get(p, f"/bytes/{n}")
        checks.equal((st, len(body)), (200, n), f"/bytes/{n} status and length")
        checks.check(body == pattern(n), f"/bytes/{n} filler pattern")
    checks.equal(get(p, "/bytes/abc")[0], 400, "/bytes/abc is 400")


def test_delay(checks, target):
    p = target.port
    start = time.monotonic()
    st, _, body = get(p, "/delay/200")
    elapsed = time.monotonic() - start
    checks.equal(st, 200, "/delay/200 status")
    checks.check(0.2 <= elapsed < 1.5, f"/delay/200 took {elapsed:.3f}s")


def test_status(checks, target):
    p = target.port
    st, _, body = get(p, "/status/418")
    checks.equal((st, body), (418, b"status 418\n"), "/status/418")
    st, h, body = get(p, "/status/204")
    checks.equal((st, body, "content-length" in h), (204, b"", False), "/status/204 has no body")
    checks.equal(get(p, "/status/99")[0], 400, "/status/99 rejected")
    checks.equal(get(p, "/status/x")[0], 400, "/status/x rejected")


def test_chunked(checks, target):
    p = target.port
    st, h, body = get(p, "/chunked/1000")
    checks.equal((st, h.get("transfer-encoding"), body), (200, "chunked", pattern(1000)), "/chunked/1000")
    c = Conn(p)
    c.send("GET /chunked/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = c.read_all()
    c.close()
    checks.check(raw.count(b"\r\nfa\r\n") + raw.count(b"\r\n\r\nfa\r\n") >= 3, "/chunked/1000 in several chunks")
    st, h, body = get(p, "/chunked/300000")
    checks.equal(len(body), 300000, "/chunked/300000 length")


def test_close(checks, target):
    p = target.port
    c = Conn(p)
    c.send("GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, _, _ = c.response()
    checks.equal((st, h.get("connection")), (200, "close"), "/close says Connection: close")
    checks.check(c.is_closed(), "/close closes the connection")
    c.close()


def test_echo(checks, target):
    p = target.port
    st, h, body = request(p, "PUT", "/echo?a=1", body=b"hello \xc3\xa9", headers={"X-Test": "yes"})
    echo = json.loads(body)
    checks.equal((st, echo["method"], echo["path"], echo["query"]), (200, "PUT", "/echo", "a=1"), "/echo fields")
    checks.equal(echo["headers"].get("X-Test"), "yes", "/echo headers")
    checks.equal(echo["body"], "hello \u00e9", "/echo body")
    c = Conn(p)
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    st, _, body, _ = c.response()
    checks.equal(json.loads(body)["body"], "hello world", "/echo with a chunked request body")
    big = b"z" * 1_000_000
    c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
    st, _, body, _ = c.response()
    checks.equal(len(json.loads(body)["body"]), len(big), "/echo with a 1 MB body")
    c.close()


def test_health(checks, target):
    p = target.port
    st, h, body = get(p, "/health")
    checks.equal((st, json.loads(body)), (200, {"status": "ok"}), "/health")


def test_books(checks, target):
    p = target.port
    st, h, body = get(p, "/books")
    books = json.loads(body)
    checks.check(st == 200 and 15 <= len(books) <= 25, "/books lists about 20 books")
    checks.equal(h.get("cache-control"), "max-age=60", "/books Cache-Control")
    etag = h.get("etag", "")
    checks.check(etag.startswith('"') and len(etag) > 2, "/books has an ETag")
    st, h, body = request(p, "GET", "/books", headers={"If-None-Match": etag})
    checks.equal((st, body, h.get("etag")), (304, b"", etag), "/books If-None-Match gives 304")
    checks.equal(request(p, "GET", "/books", headers={"If-None-Match": '"other"'})[0], 200, "/books stale ETag gives 200")


def test_coupons(checks, target):
    p = target.port
    st, _, body = request(p, "POST", "/coupons/42/issue-async?couponId=7")
    checks.equal((st, json.loads(body)), (201, {"userId": 42, "couponId": 7, "status": "queued"}), "coupon first issue")
    st, _, body = request(p, "POST", "/coupons/42/issue-async?couponId=7")
    checks.equal((st, json.loads(body)), (200, {"status": "already_issued"}), "coupon second issue")
    checks.equal(request(p, "POST", "/coupons/42/issue-async?couponId=8")[0], 201, "other coupon issues")
    checks.equal(request(p, "POST", "/coupons/abc/issue-async?couponId=7")[0], 400, "non-numeric userId")
    checks.equal(request(p, "POST", "/coupons/42/issue-async?couponId=x")[0], 400, "non-numeric couponId")
    checks.equal(request(p, "POST", "/coupons/42/issue-async")[0], 400, "missing couponId")
    checks.equal(request(p, "GET", "/coupons/42/issue-async?couponId=7")[0], 405, "coupon GET is 405")


def test_inventory(checks, target):
    p = target.port
    inv = "/inventory/decrease"
    st, _, body = request(p, "POST", inv, body='{"productId": 5, "quantity": 3}')
    checks.equal((st, json.loads(body)), (200, {"productId": 5, "remaining": 999_997}), "inventory decrease")
    st, _, body = request(p, "POST", inv, body='{"quantity":999997,"productId":5}')
    checks.equal((st, json.loads(body)["remaining"]), (200, 0), "inventory down to zero")
    st, _, body = request(p, "POST", inv, body='{"productId":5,"quantity":1}')
    checks.equal((st, json.loads(body).get("error")), (409, "out_of_stock"), "inventory out of stock")
    for bad in ('{"productId":5', 'nope', '{"productId":"5","quantity":1}', '{"productId":5,"quantity":0}', ''):
        checks.equal(request(p, "POST", inv, body=bad)[0], 400, f"inventory bad body {bad!r}")


def test_queue(checks, target):
    p = target.port
    q = "/queue/enqueue"
    checks.equal(request(p, "POST", q)[0], 401, "queue without Authorization")
    checks.equal(request(p, "POST", q, headers={"Authorization": "Basic abc"})[0], 401, "queue with Basic auth")
    auth = {"Authorization": "Bearer token-1"}
    st, _, body = request(p, "POST", q + "?boothId=12", headers=auth)
    first = json.loads(body)
    checks.equal((st, first["boothId"]), (200, 12), "queue boothId from the query")
    st, _, body = request(p, "POST", q, body='{"boothId":"B-7"}', headers=auth)
    second = json.loads(body)
    checks.equal((st, second["boothId"], second["position"]), (200, "B-7", first["position"] + 1), "queue boothId from the body")


def test_unknown_paths_and_head(checks, target):
    p = target.port
    checks.equal(get(p, "/no/such/path")[0], 404, "unknown path is 404")
    checks.equal(get(p, "/fault/no-such")[0], 404, "unknown fault is 404")
    checks.equal(request(p, "POST", "/bytes/10")[0], 405, "POST /bytes is 405")
    c = Conn(p)
    c.send("HEAD /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, _ = c.response(head=True)
    checks.equal((st, h.get("content-length")), (200, "100"), "HEAD /bytes/100 headers")
    st, _, body, _ = c.response()
    checks.equal(body, b'{"status":"ok"}\n', "HEAD left no body behind")
    c.close()


def test_delay_precision(checks, target):
    """/delay/N is timed in nanoseconds: never shorter than asked, and not rounded up to the
    next millisecond (a millisecond loop timer lasts anywhere from N-1 to N+1 ms). The median
    allows for wake-up latency on a loaded machine."""
    c = Conn(target.port)
    took = {}
    try:
        for ms in (20, 7):
            took[ms] = []
            for _ in range(25):
                start = time.perf_counter()
                c.send(f"GET /delay/{ms} HTTP/1.1\r\nHost: x\r\n\r\n")
                st, _, body, _ = c.response()
                took[ms].append((time.perf_counter() - start) * 1000.0)
                if st != 200 or body != f"delayed {ms} ms\n".encode():
                    checks.check(False, f"/delay/{ms} answered {st} {body!r}")
                    return
    finally:
        c.close()
    for ms, values in took.items():
        values.sort()
        median = values[len(values) // 2]
        print(f"/delay/{ms}: min {values[0]:.3f} ms, median {median:.3f} ms, max {values[-1]:.3f} ms",
              flush=True)
        checks.check(values[0] >= ms, f"/delay/{ms} never ends early (shortest {values[0]:.3f} ms)")
        limit = ms + (2.0 if harness.SANITIZED else 1.0)
        checks.check(median < limit, f"/delay/{ms}: median {median:.3f} ms < {limit} ms")


def test_pipelining_and_versions(checks, target):
    p = target.port
    c = Conn(p)
    c.send("GET /delay/150 HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked/10 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = [c.response()[:3:2] for _ in range(4)]
    checks.equal(got, [(200, b"delayed 150 ms\n"), (200, b"abcde"), (201, b"status 201\n"), (200, pattern(10))],
            "pipelined responses in order")
    many = "".join(f"GET /status/{200 + i % 3} HTTP/1.1\r\nHost: x\r\n\r\n" for i in range(300))
    c.send(many)
    codes = [c.response()[0] for _ in range(300)]
    checks.equal(codes, [200 + i % 3 for i in range(300)], "300 pipelined requests in order")
    c.close()

    # A client that pipelines 9 MB worth of responses and reads late: backpressure, in order.
    # More requests arrive while the server is blocked writing: they must still wait their turn.
    c = Conn(p, timeout=10)
    c.send("".join(f"GET /bytes/{60_000 + i} HTTP/1.1\r\nHost: x\r\n\r\n" for i in range(150)))
    time.sleep(0.3)
    c.send("".join(f"GET /bytes/{i} HTTP/1.1\r\nHost: x\r\n\r\n" for i in range(20)))
    time.sleep(0.1)
    sizes = [len(c.response()[2]) for _ in range(170)]
    checks.equal(sizes, [60_000 + i for i in range(150)] + list(range(20)),
            "pipelined large bodies survive backpressure, in order")
    c.close()

    c = Conn(p)
    c.send("GET / HTTP/1.0\r\n\r\n")
    st, h, _, _ = c.response()
    checks.equal(st, 200, "HTTP/1.0 request answered")
    checks.check(c.is_closed(), "HTTP/1.0 without keep-alive closes")
    c.close()
    c = Conn(p)
    c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st, h, _, _ = c.response()
    checks.equal(h.get("connection", "").lower(), "keep-alive", "HTTP/1.0 keep-alive acknowledged")
    c.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    checks.equal(c.response()[0], 200, "HTTP/1.0 keep-alive second request")
    c.close()

    c = Conn(p)
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nBLAH\x01\x02 nonsense\r\n\r\n")
    checks.equal(c.response()[0], 200, "request before garbage answered")
    st, h, _, _ = c.response()
    checks.equal((st, h.get("connection")), (400, "close"), "garbage gets 400 + close")
    checks.check(c.is_closed(), "garbage closes the connection")
    c.close()


def test_stats_and_stall(checks, target):
    p = target.port
    target.reset()
    for path in ("/", "/", "/", "/delay/1", "/delay/2", "/nope"):
        get(p, path)
    s = target.stats()
    checks.equal(s["requests"], 6, "/stats counts requests (not itself)")
    checks.equal(s["by_path"].get("/"), 3, "/stats by_path /")
    checks.equal(s["by_path"].get("/delay"), 2, "/stats by_path /delay")
    checks.check("/stats" not in s["by_path"], "/stats not counted")
    checks.check(s["connections_total"] >= 7, "/stats connections_total")
    checks.check(s["connections_open"] >= 1, "/stats connections_open")
    target.reset()
    s = target.stats()
    checks.equal((s["requests"], s["by_path"]), (0, {}), "/admin/reset zeroes the counters")

    target.stall(400)
    start = time.monotonic()
    checks.equal(get(p, "/stats")[0], 200, "/stats answers during a stall")
    checks.check(time.monotonic() - start < 0.3, "/stats is not stalled")
    st, _, _ = get(p, "/")
    elapsed = time.monotonic() - start
    checks.equal(st, 200, "stalled request answered")
    checks.check(0.3 <= elapsed < 1.5, f"stalled request waited for the stall ({elapsed:.3f}s)")
    start = time.monotonic()
    get(p, "/")
    checks.check(time.monotonic() - start < 0.2, "requests after the stall are fast")
    checks.equal(request(p, "POST", "/admin/stall?ms=abc")[0], 400, "bad stall ms")


def open_fault(port, name):
    """A connection that has sent GET /fault/<name>."""
    c = Conn(port)
    c.send(f"GET /fault/{name} HTTP/1.1\r\nHost: x\r\n\r\n")
    return c


def test_fault_reset(target):
    c = open_fault(target.port, "reset")
    try:
        c.read_all()
        reset = False
    except ConnectionResetError:
        reset = True
    finally:
        c.close()
    assert reset, "/fault/reset ends with RST"


def test_fault_close_before_headers(target):
    c = open_fault(target.port, "close-before-headers")
    data = c.read_all()
    c.close()
    assert data == b"", f"/fault/close-before-headers sends nothing: {data[:200]!r}"


def test_fault_garbage(target):
    c = open_fault(target.port, "garbage")
    data = c.read_all()
    c.close()
    assert data and not data.startswith(b"HTTP/1."), f"/fault/garbage sends a garbage status line: {data[:200]!r}"


def test_fault_huge_headers(target):
    c = open_fault(target.port, "huge-headers")
    st, h, body, raw = c.response()
    c.close()
    size = sum(len(a) + len(b) for a, b in raw)
    assert st == 200 and size > 1_000_000, f"/fault/huge-headers sends 1 MB of headers ({st}, {size} bytes)"


def test_fault_endless_chunked(target):
    c = open_fault(target.port, "endless-chunked")
    c.sock.settimeout(2)
    got = b""
    deadline = time.monotonic() + 2
    try:
        while got.count(b"\r\n400\r\n") < 5 and time.monotonic() < deadline:
            got += c.sock.recv(65536)
    finally:
        c.close()
    assert got.count(b"\r\n400\r\n") >= 5, "/fault/endless-chunked keeps sending chunks"


def test_fault_bad_chunk(target):
    c = open_fault(target.port, "bad-chunk")
    data = c.read_all()
    c.close()
    assert b"chunked" in data and b"ZZ-not-hex" in data, f"/fault/bad-chunk sends an invalid chunk size: {data[:300]!r}"


def test_fault_long_body(target):
    c = open_fault(target.port, "long-body")
    data = c.read_all()
    c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in head and len(body) > 5, f"/fault/long-body sends more than Content-Length: {data[:300]!r}"


def test_fault_short_body(target):
    c = open_fault(target.port, "short-body")
    data = c.read_all()
    c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head and 0 < len(body) < 100, \
        f"/fault/short-body sends less, then closes: {data[:300]!r}"


def test_fault_two_lengths(target):
    c = open_fault(target.port, "two-lengths")
    data = c.read_all()
    c.close()
    assert b"Content-Length: 5\r\n" in data and b"Content-Length: 9\r\n" in data, f"/fault/two-lengths: {data[:300]!r}"


def test_fault_drip(checks, target):
    start = time.monotonic()
    c = Conn(target.port)
    c.send("GET /fault/drip?bytes=3&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, _ = c.response()
    elapsed = time.monotonic() - start
    c.close()
    checks.equal((st, body), (200, b"abc"), "/fault/drip body")
    checks.check(0.25 <= elapsed < 2, f"/fault/drip paced ({elapsed:.3f}s)")


def test_fault_drip_http10(target):
    c = Conn(target.port)
    c.send("GET /fault/drip?bytes=2&ms=50 HTTP/1.0\r\n\r\n")
    data = c.read_all()
    c.close()
    assert data.endswith(b"\r\n\r\nab"), f"HTTP/1.0 drip sends the whole body before closing: {data[-200:]!r}"


def test_fault_hang(target):
    c = open_fault(target.port, "hang")
    c.sock.settimeout(0.5)
    try:
        got = c.sock.recv(1)
        silent = False  # a byte, or the connection closed: it answered
    except socket.timeout:
        got, silent = b"", True
    finally:
        c.close()
    assert silent, f"/fault/hang never answers (got {got!r})"


def test_fault_http10(target):
    c = open_fault(target.port, "http10")
    data = c.read_all()
    c.close()
    assert data.startswith(b"HTTP/1.0 200") and b"Content-Length" not in data and data.endswith(b"body\n"), \
        f"/fault/http10 close-delimited body: {data[:300]!r}"


def test_tls_to_plain_listener_fails(target):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", target.port), timeout=3)
    try:
        ctx.wrap_socket(raw, server_hostname="127.0.0.1").close()
        failed = False
    except (ssl.SSLError, OSError):
        failed = True
    finally:
        raw.close()
    assert failed, "TLS handshake against the plain listener fails"


def test_garbage_burst(checks, target):
    p = target.port
    rng = random.Random(1234)
    samples = [
        b"\x00" * 100, b"GET", b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n",
        b"\r\n\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 3 + b"\xff\xfe",
    ]
    for i in range(300):
        if i < len(samples):
            data = samples[i]
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        try:
            s = socket.create_connection(("127.0.0.1", p), timeout=2)
            s.sendall(data)
            if i % 3 == 0:
                s.recv(4096)  # sometimes read the answer, sometimes just vanish
            s.close()
        except OSError:
            pass
    st, _, body = get(p, "/health")
    checks.equal(st, 200, "still healthy after a garbage burst")
    checks.check(target.stats()["bad_requests"] > 100, "garbage counted as bad requests")

    socks = []
    for _ in range(500):
        socks.append(socket.create_connection(("127.0.0.1", p), timeout=5))
    for s in socks:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    ok = sum(1 for s in socks if s.recv(4096).startswith(b"HTTP/1.1 200"))
    checks.equal(ok, 500, "500 concurrent connections answered")
    checks.check(target.stats()["connections_open"] >= 500, "connections_open counts concurrent connections")
    for s in socks:
        s.close()
    deadline = time.monotonic() + 3
    while target.stats()["connections_open"] > 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    checks.check(target.stats()["connections_open"] <= 3, "closed connections are released")


def test_command_line(checks):
    bad = subprocess.run([harness.TARGET_BIN, "--threads", "zero"], capture_output=True, text=True, timeout=10)
    checks.equal(bad.returncode, 2, "bad --threads exits 2")
    helped = subprocess.run([harness.TARGET_BIN, "--help"], capture_output=True, text=True, timeout=10)
    checks.check(helped.returncode == 0 and "--listen" in helped.stdout, "--help prints usage")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = subprocess.run([harness.TARGET_BIN, "--listen", f"127.0.0.1:{busy.getsockname()[1]}"],
                           capture_output=True, text=True, timeout=10)
    busy.close()
    checks.check(taken.returncode == 1 and "cannot listen" in taken.stderr, "a taken port exits 1")


def ipv6_loopback():
    """Whether this machine can bind ::1 (a container may have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_listener():
    if not ipv6_loopback():
        pytest.skip("::1 cannot be bound on this machine")  # listed in the run's summary (-rs)
    with Target(args=["--listen", "[::1]:0"]) as tg6:
        assert tg6.host == "::1", f"listening on {tg6.host}"
    assert tg6.returncode == 0, "IPv6 listener starts and stops"


def test_three_threads(checks):
    with Target(threads=3) as tg:
        for _ in range(30):
            get(tg.port, "/")
        s = tg.stats()
        checks.equal(s["requests"], 30, "stats add up over 3 threads")
        checks.equal(s["by_path"], {"/": 30}, "by_path over 3 threads")
    checks.equal(tg.returncode, 0, "3-thread target exits 0")
