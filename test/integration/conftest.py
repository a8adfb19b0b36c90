"""pytest setup for pelt's integration tests: paths, shared servers and collected checks.

Paths come from the environment (harness.py reads it): PELT_BIN, PELT_TARGET_BIN and
PELT_SOURCE_DIR, falling back to ../../build; PELT_SANITIZED=1 relaxes memory and timing
figures for a sanitizer build. ctest sets all four; by hand:

    python3 -B -m pytest test/integration                                  # every file
    python3 -B -m pytest test/integration/test_faults.py -k reset          # one case
    PELT_BIN=build-asan/pelt PELT_TARGET_BIN=build-asan/pelt-target PELT_SANITIZED=1 \\
        python3 -B -m pytest test/integration/test_signals.py

Fixtures:
  checks   a harness.Checks; the test fails, listing every message, if any check failed
  target   pelt-target with one thread on a free port, shared by a test module
Servers a single file needs in its own way (nginx with TLS or extra routes, a pelt-target with
more threads, the BackgroundServer subclasses) are fixtures in that file.
"""

import os
import sys

import pytest

# No __pycache__ in the source tree for the modules imported from here on (run python3 with -B
# or PYTHONDONTWRITEBYTECODE=1 to keep this file's own compiled copy out as well).
sys.dont_write_bytecode = True

import harness  # noqa: E402


def pytest_report_header(config):
    def where(path):
        return path if os.path.exists(path) else f"{path} (missing: build first or set the variable)"
    return [f"pelt: {where(harness.BIN)}",
            f"pelt-target: {where(harness.TARGET_BIN)}",
            f"source: {harness.SOURCE_DIR}, sanitized build: {harness.SANITIZED}"]


@pytest.fixture
def checks():
    """Collects failed checks; pytest_pyfunc_call below fails the test with all of them."""
    return harness.Checks()


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    outcome = yield
    collected = pyfuncitem.funcargs.get("checks")
    if isinstance(collected, harness.Checks) and outcome.excinfo is None and collected.failures:
        # The test function returned, but some of its checks failed: that is a failure of the
        # call itself (not of a teardown), reported with every message.
        pytest.fail(collected.summary(), pytrace=False)


@pytest.fixture(scope="module")
def target():
    """pelt-target, one thread, 127.0.0.1 on a free port, for every test of a module."""
    with harness.Target(threads=1) as tg:
        yield tg
