"""HTTPS against nginx with a self-signed certificate: verification on by default."""
import pytest

from harness import Nginx, run_pelt_for_json, run_pelt_json


@pytest.fixture(scope="module")
def tls_nginx():
    """nginx with TLS and a self-signed certificate for 127.0.0.1 (cert_path)."""
    with Nginx(tls=True) as ng:
        yield ng


def test_self_signed_refused_by_default(checks, tls_nginx):
    """The self-signed certificate is refused, counted as TLS (connect) errors."""
    cp, data = run_pelt_for_json(["-t1", "-c2", "-d1s", tls_nginx.url("/")])
    checks.equal(cp.returncode, 0, "unverified run still completes")
    checks.equal(data["ledger"]["completed"], 0, "no request completes without trust")
    checks.check(data["errors"]["connect"] > 0, "handshake failures counted as connect errors")
    reasons = " ".join(data["error_reasons"].keys())
    checks.check("certificate verify failed" in reasons, f"reason names the verification failure: {reasons}")
    checks.check("certificate verify failed" in cp.stdout, "summary shows the TLS reason")


def test_cacert_trusts(checks, tls_nginx):
    cp, data = run_pelt_for_json(["-t1", "-c2", "-d1s", "--cacert", tls_nginx.cert_path,
                                  tls_nginx.url("/")])
    checks.check(data["ledger"]["completed"] > 50, f"requests complete with --cacert ({data['ledger']})")
    checks.equal(data["errors"]["connect"], 0, "no TLS errors with --cacert")


def test_insecure_skips_verification(checks, tls_nginx):
    cp, data = run_pelt_for_json(["-t1", "-c2", "-d1s", "--insecure", tls_nginx.url("/")])
    checks.check(data["ledger"]["completed"] > 50, "requests complete with --insecure")
    checks.equal(data["errors"]["connect"], 0, "no TLS errors with --insecure")


def test_reconnects_resume_session(checks, tls_nginx):
    """Reconnects resume the TLS session: a /close-like server close is simulated with
    keepalive off by asking nginx for a closing response."""
    cp, data = run_pelt_for_json(["-t1", "-c1", "-d1s", "--insecure", "-H", "Connection: close",
                                  tls_nginx.url("/")])
    checks.check(data["reconnects"] > 5, f"TLS reconnects happen ({data['reconnects']})")
    checks.equal(data["errors"]["connect"], 0, "reconnects succeed")
    tls = data["tls"]
    checks.check(tls["resumed"] > 0 and tls["resumed"] >= tls["handshakes"] - 2,
                 f"reconnects resume the TLS session ({tls})")


def test_missing_cacert_is_usage_error(checks, tls_nginx):
    """A missing CA file is a usage error: exit 2 before any run, so no JSON is expected."""
    cp, _ = run_pelt_json(["-t1", "-c1", "-d1s", "--cacert", "/nonexistent/ca.pem", tls_nginx.url("/")])
    checks.equal(cp.returncode, 2, "missing --cacert exits 2")
    checks.check("/nonexistent/ca.pem" in cp.stderr, "message names the CA file")
