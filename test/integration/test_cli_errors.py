"""Bad input: a clear message naming the problem, exit code 2, and no load sent."""
import pytest

from harness import read_json, run_pelt

SCRIPTS = {
    "syntax": "request = function()\n  return wrk.format(\nend\n",
    "init_err": "function init(args)\n  local x = nil\n  return x.field\nend\n",
    "setup_err": "function setup(thread)\n  error('no setup for you')\nend\n",
    "run_err": "n = 0\nfunction request()\n  n = n + 1\n  if n % 2 == 0 then error('boom ' .. n) end\n"
               "  return wrk.format()\nend\n",
}

# (id, arguments, text stderr must contain). {url} is pelt-target's /, {syntax} and the other
# script names are the paths of the scripts above.
USAGE_ERRORS = [
    ("unknown-option", ["--bogus", "{url}"], "unknown option --bogus"),
    ("invalid-url", ["-t1", "-c1", "-d1s", "http//nope"], "invalid URL"),
    ("unsupported-scheme", ["-t1", "-c1", "-d1s", "ftp://127.0.0.1/"], "unsupported scheme"),
    ("fewer-connections-than-threads", ["-t4", "-c2", "-d1s", "{url}"], "-c 2 is lower than -t 4"),
    ("zero-duration", ["-t1", "-c1", "-d0s", "{url}"], "duration must be greater than zero"),
    ("negative-duration", ["-t1", "-c1", "-d", "-5s", "{url}"], "bad duration"),
    ("zero-rate", ["-t1", "-c1", "-R", "0", "{url}"], "rate must be greater than zero"),
    ("missing-script", ["-t1", "-c1", "-d1s", "-s", "/nonexistent/x.lua", "{url}"],
     "cannot read script /nonexistent/x.lua"),
    ("lua-syntax", ["-t1", "-c1", "-d1s", "-s", "{syntax}", "{url}"], "{syntax}:3:"),
    ("lua-init-error", ["-t1", "-c1", "-d1s", "-s", "{init_err}", "{url}"], "{init_err}:3:"),
    ("lua-setup-error", ["-t1", "-c1", "-d1s", "-s", "{setup_err}", "{url}"], "{setup_err}:2:"),
    ("unknown-host", ["-t1", "-c1", "-d1s", "http://no-such-host.invalid/"], "no-such-host.invalid"),
    ("bad-header", ["-t1", "-c1", "-d1s", "-H", "NoColonHere", "{url}"], "bad header"),
    ("header-injection", ["-t1", "-c1", "-d1s", "-H", "X-A: 1\r\nX-Injected: yes", "{url}"],
     "must not contain line breaks"),
    ("too-many-connections", ["-t1", "-c", "5000000", "-d1s", "{url}"], "file descriptors"),
    ("missing-url", ["-t1", "-c1", "-d1s"], "missing URL"),
]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """{name: path} of the Lua scripts above, written to a temp directory."""
    tmp = tmp_path_factory.mktemp("cli")
    paths = {}
    for name, text in SCRIPTS.items():
        path = tmp / f"{name}.lua"
        path.write_text(text)
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize("args, expect", [c[1:] for c in USAGE_ERRORS],
                         ids=[c[0] for c in USAGE_ERRORS])
def test_usage_error(checks, target, scripts, args, expect):
    names = dict(scripts, url=target.url("/"))
    args = [a.format(**names) for a in args]
    expect = expect.format(**names)
    target.reset()
    cp = run_pelt(args, timeout=30)
    checks.equal(cp.returncode, 2, f"{args}: exit code")
    checks.check(expect in cp.stderr, f"{args}: message should contain {expect!r}, got {cp.stderr.strip()!r}")
    checks.equal(target.stats()["requests"], 0, f"{args}: no load sent")


def test_lua_error_during_run(checks, target, scripts, tmp_path):
    """A Lua error during the run is counted and reported with file:line; the run goes on."""
    run_err = scripts["run_err"]
    out = tmp_path / "o.json"
    cp = run_pelt(["-t1", "-c1", "-d1s", "-s", run_err, target.url("/"), "--json", out])
    checks.equal(cp.returncode, 0, "runtime Lua error: run completes")
    checks.check(f"{run_err}:4:" in cp.stdout and "boom" in cp.stdout,
                 f"runtime error reported with file:line: {cp.stdout}")
    data = read_json(out)
    checks.check(data["script_errors"]["count"] > 0, "script errors counted")
    checks.check(data["ledger"]["completed"] > 0, "requests between the errors completed")


def test_help_exits_0():
    assert run_pelt(["--help"]).returncode == 0


def test_version():
    cp = run_pelt(["--version"])
    assert cp.returncode == 0 and cp.stdout.startswith("pelt "), f"--version: {cp}"
