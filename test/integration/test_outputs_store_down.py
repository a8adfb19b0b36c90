#!/usr/bin/env python3
"""Result outputs when the store misbehaves: nothing listening (connection refused), or a
server that accepts connections and never answers. Points are dropped and counted by cause,
the last error says why, and the final flush returns within its deadline (2 s here) for both
InfluxDB and remote-write outputs, with ticks arriving once every 200 ms meanwhile.
"""

import os
import select
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from outputs_support import SyntheticRun, run_probe  # noqa: E402

FLUSH_MS = 2000
# Wall time the flush may take beyond its deadline (process scheduling on a busy machine).
FLUSH_SLACK_MS = 400


class Silent(harness.BackgroundServer):
    """Accepts every connection, reads whatever comes, never answers."""

    def __init__(self):
        super().__init__()
        self.connections = []

    def _serve(self):
        while not self.stopping.is_set():
            readable, _, _ = select.select([self.sock] + self.connections, [], [], 0.05)
            for s in readable:
                if s is self.sock:
                    conn, _ = self.sock.accept()
                    self.connections.append(conn)
                else:
                    try:
                        if not s.recv(65536):
                            self.connections.remove(s)
                            s.close()
                    except OSError:
                        self.connections.remove(s)

    def _close(self):
        for c in self.connections:
            c.close()


def refused_port():
    """A port on 127.0.0.1 that nothing listens on (free a moment ago)."""
    return harness.free_port()


def push(out, seconds=8, tick_ms=200):
    with tempfile.TemporaryDirectory() as tmp:
        ticks = SyntheticRun(seconds=seconds).write_ticks(os.path.join(tmp, "ticks.jsonl"))
        t0 = time.monotonic()
        result, cp = run_probe(["push", "--out", out, "--run-id", "down", "--ticks", ticks,
                                "--tick-interval", tick_ms, "--flush-timeout", FLUSH_MS])
        wall_ms = (time.monotonic() - t0) * 1000
    assert result is not None and cp.returncode == 0, cp.stderr
    return result, cp, wall_ms


KINDS = [("influxdb", "/pelt"), ("prometheus-rw", "/api/v1/write")]


@pytest.mark.parametrize("kind,path", KINDS)
def test_nothing_listening(kind, path):
    port = refused_port()
    result, cp, _ = push(f"{kind}=http://127.0.0.1:{port}{path}")
    out = result["outputs"][0]
    assert out["points_sent"] == 0
    assert out["dropped"]["total"] > 0
    # Every point ends up dropped for one of the causes.
    assert out["dropped"]["total"] == (out["dropped"]["retries"] + out["dropped"]["unsent"] +
                                       out["dropped"]["queue_full"] + out["dropped"]["rejected"])
    assert out["dropped"]["rejected"] == 0  # connection errors are retried, never "rejected"
    assert out["retries"] > 0
    assert f"connect 127.0.0.1:{port}: ECONNREFUSED" in out["last_error"], out
    assert result["flush_ms"] <= FLUSH_MS + FLUSH_SLACK_MS, result["flush_ms"]
    assert out["flushed"] is False
    assert f"{kind}: 0 points sent, {out['dropped']['total']} dropped" in out["summary"]
    assert "ECONNREFUSED; retrying" in cp.stderr  # warned once, not every second
    assert cp.stderr.count("retrying") == 1, cp.stderr


@pytest.mark.parametrize("kind,path", KINDS)
def test_server_that_never_answers(kind, path):
    with Silent() as silent:
        result, cp, wall_ms = push(f"{kind}=http://127.0.0.1:{silent.port}{path}")
    out = result["outputs"][0]
    assert out["points_sent"] == 0
    # Ticks keep coming while the first request hangs; at the deadline all are dropped unsent.
    assert out["dropped"]["unsent"] > 0, out
    assert out["dropped"]["total"] == out["dropped"]["unsent"] + out["dropped"]["queue_full"]
    assert FLUSH_MS - 50 <= result["flush_ms"] <= FLUSH_MS + FLUSH_SLACK_MS, result["flush_ms"]
    assert out["flushed"] is False
    assert "interrupted" in out["last_error"] or "deadline" in out["last_error"], out
    # 8 ticks 200 ms apart, then the 2 s flush: the whole probe stays well under 10 s.
    assert wall_ms < 10000


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
