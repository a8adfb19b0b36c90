"""HTTPS against nginx with a self-signed certificate: verification on by default."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Nginx, TestCase, run_pelt_json  # noqa: E402

t = TestCase("https")

with Nginx(tls=True) as ng:
    url = ng.url("/")
    # Default: the self-signed certificate is refused, counted as TLS (connect) errors.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", url])
    t.equal(cp.returncode, 0, "unverified run still completes")
    if t.check(data is not None, "JSON written"):
        t.equal(data["ledger"]["completed"], 0, "no request completes without trust")
        t.check(data["errors"]["connect"] > 0, "handshake failures counted as connect errors")
        reasons = " ".join(data["error_reasons"].keys())
        t.check("certificate verify failed" in reasons, f"reason names the verification failure: {reasons}")
    t.check("certificate verify failed" in cp.stdout, "summary shows the TLS reason")

    # --cacert makes it trusted.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "--cacert", ng.cert_path, url])
    if t.check(data is not None, "JSON written with --cacert"):
        t.check(data["ledger"]["completed"] > 50, f"requests complete with --cacert ({data['ledger']})")
        t.equal(data["errors"]["connect"], 0, "no TLS errors with --cacert")

    # --insecure skips verification.
    cp, data = run_pelt_json(["-t1", "-c2", "-d1s", "--insecure", url])
    if t.check(data is not None, "JSON written with --insecure"):
        t.check(data["ledger"]["completed"] > 50, "requests complete with --insecure")
        t.equal(data["errors"]["connect"], 0, "no TLS errors with --insecure")

    # Reconnects resume the TLS session: a /close-like server close is simulated with
    # keepalive off by asking nginx for a closing response.
    cp, data = run_pelt_json(["-t1", "-c1", "-d1s", "--insecure", "-H", "Connection: close", url])
    if t.check(data is not None, "JSON written for reconnects"):
        t.check(data["reconnects"] > 5, f"TLS reconnects happen ({data['reconnects']})")
        t.equal(data["errors"]["connect"], 0, "reconnects succeed")
        tls = data["tls"]
        t.check(tls["resumed"] > 0 and tls["resumed"] >= tls["handshakes"] - 2,
                f"reconnects resume the TLS session ({tls})")

    # A missing CA file is a usage error.
    cp, data = run_pelt_json(["-t1", "-c1", "-d1s", "--cacert", "/nonexistent/ca.pem", url])
    t.equal(cp.returncode, 2, "missing --cacert exits 2")
    t.check("/nonexistent/ca.pem" in cp.stderr, "message names the CA file")

t.finish()
