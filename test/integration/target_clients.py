"""Real clients for pelt-target's TLS and HTTP/2 tests: curl, nghttp, openssl s_client, and a
small HTTP/2 connection driven by python3-h2 (Debian) for frame-level checks (GOAWAY, RST_STREAM,
the moment the server closes). Every helper is bounded in time."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.frame_buffer
import hpack
from hyperframe.frame import (DataFrame, GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame,
                              SettingsFrame, WindowUpdateFrame)

CURL = shutil.which("curl") or "/usr/bin/curl"
NGHTTP = shutil.which("nghttp") or "/usr/bin/nghttp"
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@dataclass
class Reply:
    status: int                                   # final status code (0: no response)
    version: str                                  # "1.1" or "2" as curl reports it
    headers: dict                                 # final response headers, lower-case names
    body: bytes                                   # response body
    statuses: list = field(default_factory=list)  # every status line seen (1xx, 101, final)
    rc: int = 0                                   # curl's exit code
    stderr: str = ""                              # curl's error text


def curl(url, mode="1.1", method=None, data=None, headers=(), cacert=None, extra=(), timeout=10):
    """One request with curl. mode: "1.1", "2" (ALPN over TLS, Upgrade: h2c over http://) or
    "prior" (HTTP/2 prior knowledge)."""
    flags = {"1.1": ["--http1.1"], "2": ["--http2"], "prior": ["--http2-prior-knowledge"]}[mode]
    with tempfile.TemporaryDirectory(prefix="pelt-curl-") as d:
        head_path, body_path = os.path.join(d, "head"), os.path.join(d, "body")
        cmd = [CURL, "-sS", "-o", body_path, "-D", head_path, "-w", "%{http_code} %{http_version}",
               "--max-time", str(timeout)] + flags
        if method == "HEAD":
            cmd.append("-I")
        elif method:
            cmd += ["-X", method]
        if data is not None:
            data_path = os.path.join(d, "data")
            with open(data_path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            cmd += ["--data-binary", "@" + data_path]
        for h in headers:
            cmd += ["-H", h]
        if cacert:
            cmd += ["--cacert", cacert]
        cmd += list(extra) + [url]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5)
        code, _, version = cp.stdout.partition(" ")
        statuses, hdrs = [], {}
        if os.path.exists(head_path):
            with open(head_path, "rb") as f:
                for line in f.read().decode("latin-1").split("\r\n"):
                    if line.startswith("HTTP/"):
                        statuses.append(int(line.split()[1]))
                        hdrs = {}
                    elif ":" in line:
                        name, value = line.split(":", 1)
                        hdrs[name.strip().lower()] = value.strip()
        body = b""
        if os.path.exists(body_path) and method != "HEAD":  # -I writes the headers there
            with open(body_path, "rb") as f:
                body = f.read()
        return Reply(int(code or 0), version, hdrs, body, statuses, cp.returncode, cp.stderr)


def nghttp(args, timeout=15):
    """Runs nghttp with `args`; returns (exit code, stdout+stderr)."""
    cp = subprocess.run([NGHTTP] + list(args), capture_output=True, text=True, timeout=timeout)
    return cp.returncode, cp.stdout + cp.stderr


def h2load(args, timeout=60):
    """Runs h2load with `args`; returns (exit code, output)."""
    cp = subprocess.run([H2LOAD] + list(args), capture_output=True, text=True, timeout=timeout)
    return cp.returncode, cp.stdout + cp.stderr


def s_client(port, send, args=(), wait_s=1.0, timeout=10):
    """openssl s_client to 127.0.0.1:port: writes `send`, keeps stdin open `wait_s` seconds
    (s_client quits when it ends), returns everything it printed (-msg traces when asked)."""
    proc = subprocess.Popen([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}"]
                            + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        proc.stdin.write(send.encode())
        proc.stdin.flush()
        time.sleep(wait_s)
        proc.stdin.close()
        proc.stdin = None  # communicate() must not flush it again
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode("latin-1")


def tls_context(cafile, alpn=None, max_version=None):
    """A verifying client context that trusts `cafile` (strict X.509 checks on)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if max_version:
        ctx.maximum_version = max_version
    return ctx


@dataclass
class H2Stream:
    status: int = 0                             # final :status
    headers: dict = field(default_factory=dict)  # response headers
    body: bytes = b""                           # DATA received
    ended: bool = False                         # END_STREAM received
    reset: int = None                           # RST_STREAM error code, if reset
    interim: list = field(default_factory=list)  # 1xx statuses


class H2Client:
    """A minimal HTTP/2 client over one socket (cleartext prior knowledge, or TLS with ALPN h2).
    python3-h2 encodes what it sends; what the server sends is read frame by frame (hyperframe,
    hpack) without a client state machine, so frames after a GOAWAY are still seen."""

    def __init__(self, port, ctx=None, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = (ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
                     if ctx else raw)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.frames = h2.frame_buffer.FrameBuffer(server=False)
        self.frames.max_frame_size = 16384  # what the client accepts (its SETTINGS default)
        self.decoder = hpack.Decoder()
        self.streams = {}
        self.goaway = None         # (error_code, last_stream_id) once GOAWAY arrived
        self.remote_settings = {}  # SETTINGS the server announced
        self.eof = False           # the server closed the connection (FIN; close_notify on TLS)
        self.reset = False         # the server reset the connection (or ended TLS uncleanly)
        self.flush()

    def _send(self, data):
        if data and not (self.eof or self.reset):
            self.sock.sendall(data)

    def flush(self):
        self._send(self.conn.data_to_send())

    def request(self, path, method="GET", body=None, headers=()):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":path", path), (":scheme", "http"),
                  (":authority", "127.0.0.1")] + list(headers)
        self.conn.send_headers(sid, fields, end_stream=body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=True)
        self.streams[sid] = H2Stream()
        self.flush()
        return sid

    def reset_stream(self, sid):
        self._send(RstStreamFrame(sid, error_code=8).serialize())  # CANCEL

    def _frame(self, f):
        st = self.streams.setdefault(f.stream_id, H2Stream()) if f.stream_id else None
        if isinstance(f, SettingsFrame):
            if "ACK" not in f.flags:
                self.remote_settings.update(f.settings)
                self._send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(f, HeadersFrame):
            fields = self.decoder.decode(f.data, raw=False)
            status = int(dict(fields).get(":status", 0))
            if 100 <= status < 200:
                st.interim.append(status)
            else:
                st.status = status
                st.headers = {k: v for k, v in fields if not k.startswith(":")}
            st.ended = st.ended or "END_STREAM" in f.flags
        elif isinstance(f, DataFrame):
            st.body += f.data
            st.ended = st.ended or "END_STREAM" in f.flags
            if f.flow_controlled_length:
                self._send(WindowUpdateFrame(0, window_increment=f.flow_controlled_length)
                           .serialize())
                if not st.ended:
                    self._send(WindowUpdateFrame(f.stream_id,
                                                 window_increment=f.flow_controlled_length)
                               .serialize())
        elif isinstance(f, RstStreamFrame):
            st.reset = f.error_code
        elif isinstance(f, GoAwayFrame):
            self.goaway = (f.error_code, f.last_stream_id)
        elif isinstance(f, PingFrame) and "ACK" not in f.flags:
            self._send(PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]).serialize())

    def pump(self, until, timeout=5.0):
        """Reads and handles frames until until(self) holds, the connection ends or time is up.
        Returns until(self)."""
        deadline = time.monotonic() + timeout
        while not until(self) and not self.eof and not self.reset:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(min(left, 0.5))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLEOFError):
                self.reset = True  # an RST, or a TCP close without close_notify
                break
            if not data:
                self.eof = True
                break
            self.frames.add_data(data)
            for f in self.frames:
                self._frame(f)
        return until(self)

    def wait_closed(self, timeout=5.0):
        """True once the server ended the connection (EOF or RST) within `timeout`."""
        self.pump(lambda c: False, timeout)
        return self.eof or self.reset

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
