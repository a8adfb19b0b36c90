"""--source A,B: connections leave from every listed local address, spread evenly.

Two peers see it: a small Python server that records the peer address of every connection it
accepts (connections per source), and nginx, whose default access-log format begins with
$remote_addr (requests per source). Both listen on 127.0.0.1; the sources are 127.0.0.2 and
127.0.0.3, which Linux routes over loopback without any setup.
"""
import collections
import selectors

import pytest

from harness import BackgroundServer, Nginx, run_pelt, run_pelt_for_json

SOURCES = ("127.0.0.2", "127.0.0.3")
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"


class PeerServer(BackgroundServer):
    """A keep-alive HTTP/1.1 server that answers every request with 200 and counts peers."""

    def __init__(self):
        super().__init__(backlog=512)
        self.sock.setblocking(False)
        self.connections = collections.Counter()  # peer address -> connections accepted
        self.requests = collections.Counter()     # peer address -> requests answered
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)

    def _serve(self):
        buffers = {}
        while not self.stopping.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                if key.data is None:
                    try:
                        conn, peer = self.sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.connections[peer[0]] += 1
                    buffers[conn] = b""
                    self.sel.register(conn, selectors.EVENT_READ, peer[0])
                    continue
                conn = key.fileobj
                try:
                    chunk = conn.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.sel.unregister(conn)
                    buffers.pop(conn, None)
                    conn.close()
                    continue
                buf = buffers[conn] + chunk
                out = b""
                while b"\r\n\r\n" in buf:  # GETs only: no request bodies
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    self.requests[key.data] += 1
                    out += RESPONSE
                buffers[conn] = buf
                if out:
                    try:
                        conn.sendall(out)
                    except OSError:
                        pass
        for key in list(self.sel.get_map().values()):
            if key.fileobj is not self.sock:
                key.fileobj.close()


@pytest.fixture
def peer_server():
    """A fresh PeerServer (empty counters) for each test."""
    with PeerServer() as srv:
        yield srv


# pelt first checks that the target accepts a connection (wrk.resolve, as in wrk); that probe
# leaves from the default address and sends nothing. Every connection of the run itself, and so
# every request, comes from the sources.
def run_connections(checks, srv):
    """Connections per source address, without the one request-less probe."""
    conns = dict(srv.connections)
    probes = {a: n for a, n in conns.items() if a not in SOURCES}
    checks.check(sum(probes.values()) <= 1 and not any(srv.requests.get(a) for a in probes),
                 f"only a request-less probe came from outside the sources ({conns}, {dict(srv.requests)})")
    return {a: n for a, n in conns.items() if a in SOURCES}


def test_connections_per_source(checks, peer_server):
    """20 connections from 2 threads over 2 addresses, 10 each."""
    srv = peer_server
    cp, data = run_pelt_for_json(["-t2", "-c20", "-d1s", "--source", ",".join(SOURCES),
                                  f"http://127.0.0.1:{srv.port}/"], timeout=30)
    checks.equal(cp.returncode, 0, f"pelt ran ({cp.stderr[-300:]!r})")
    conns = run_connections(checks, srv)
    checks.equal(set(srv.requests), set(SOURCES), f"requests came from exactly the sources ({dict(srv.requests)})")
    for src in SOURCES:
        checks.equal(conns.get(src, 0), 10, f"connections from {src}")
        checks.check(srv.requests.get(src, 0) > 0, f"requests arrived from {src}")
    checks.equal(data["connects"], 20, "pelt opened 20 connections")
    checks.equal(data["ledger"]["failed"] + data["ledger"]["timed_out"], 0, "no failures")


def test_odd_split(checks, peer_server):
    """3 connections over 2 sources from 1 thread still uses both."""
    srv = peer_server
    cp = run_pelt(["-t1", "-c3", "-d300ms", "--source", ",".join(SOURCES),
                   f"http://127.0.0.1:{srv.port}/"], timeout=30)
    checks.equal(cp.returncode, 0, "3 connections over 2 sources ran")
    conns = run_connections(checks, srv)
    checks.equal(sorted(conns.values()), [1, 2], f"3 connections split 2+1 ({conns})")


def test_non_local_source(checks, peer_server):
    """A source that is not a local address cannot be bound: a connect error naming bind.
    (The bind fails locally, so nothing is sent from it.)"""
    cp, data = run_pelt_for_json(["-t1", "-c1", "-d300ms", "--source", "192.0.2.1",
                                  f"http://127.0.0.1:{peer_server.port}/"], timeout=30)
    checks.check(data["errors"]["connect"] > 0,
                 f"binding a non-local source address is a connect error ({cp.stderr[-300:]!r})")
    checks.check(any(r.startswith("bind ") for r in data["error_reasons"]),
                 f"the error names bind ({data['error_reasons']})")
    checks.equal(data["ledger"]["completed"], 0, "nothing completed without a usable source")


@pytest.fixture
def logging_nginx():
    with Nginx(access_log=True) as ng:
        yield ng


def test_nginx_requests_per_source(checks, logging_nginx):
    """Requests per source in nginx's access log ($remote_addr is the first field)."""
    ng = logging_nginx
    cp = run_pelt(["-t1", "-c4", "-d1s", "--source", ",".join(SOURCES), ng.url("/")], timeout=30)
    checks.equal(cp.returncode, 0, f"pelt against nginx ran ({cp.stderr[-300:]!r})")
    by_addr = collections.Counter(line.split(" ", 1)[0] for line in ng.access_log_lines() if line)
    checks.equal(set(by_addr), set(SOURCES), f"nginx logged requests from both sources ({dict(by_addr)})")
    total = sum(by_addr.values())
    for src in SOURCES:
        share = by_addr.get(src, 0) / max(total, 1)
        checks.check(0.3 <= share <= 0.7, f"{src} carried {share:.0%} of {total} requests (2 connections each)")
