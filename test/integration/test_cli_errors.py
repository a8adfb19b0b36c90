"""Bad input: a clear message naming the problem, exit code 2, and no load sent."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Target, TestCase, run_pelt  # noqa: E402

t = TestCase("cli_errors")
tmp = tempfile.mkdtemp(prefix="pelt-cli-")


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


syntax = write("syntax.lua", "request = function()\n  return wrk.format(\nend\n")
init_err = write("init_err.lua", "function init(args)\n  local x = nil\n  return x.field\nend\n")
setup_err = write("setup_err.lua", "function setup(thread)\n  error('no setup for you')\nend\n")
run_err = write("run_err.lua", "n = 0\nfunction request()\n  n = n + 1\n  if n % 2 == 0 then error('boom ' .. n) end\n  return wrk.format()\nend\n")

with Target() as tg:
    url = tg.url("/")
    cases = [
        (["--bogus", url], "unknown option --bogus"),
        (["-t1", "-c1", "-d1s", "http//nope"], "invalid URL"),
        (["-t1", "-c1", "-d1s", "ftp://127.0.0.1/"], "unsupported scheme"),
        (["-t4", "-c2", "-d1s", url], "-c 2 is lower than -t 4"),
        (["-t1", "-c1", "-d0s", url], "duration must be greater than zero"),
        (["-t1", "-c1", "-d", "-5s", url], "bad duration"),
        (["-t1", "-c1", "-R", "0", url], "rate must be greater than zero"),
        (["-t1", "-c1", "-d1s", "-s", "/nonexistent/x.lua", url], "cannot read script /nonexistent/x.lua"),
        (["-t1", "-c1", "-d1s", "-s", syntax, url], f"{syntax}:3:"),
        (["-t1", "-c1", "-d1s", "-s", init_err, url], f"{init_err}:3:"),
        (["-t1", "-c1", "-d1s", "-s", setup_err, url], f"{setup_err}:2:"),
        (["-t1", "-c1", "-d1s", "http://no-such-host.invalid/"], "no-such-host.invalid"),
        (["-t1", "-c1", "-d1s", "-H", "NoColonHere", url], "bad header"),
        (["-t1", "-c", "5000000", "-d1s", url], "file descriptors"),
        (["-t1", "-c1", "-d1s"], "missing URL"),
    ]
    for args, expect in cases:
        tg.reset()
        cp = run_pelt(args, timeout=30)
        t.equal(cp.returncode, 2, f"{args}: exit code")
        t.check(expect in cp.stderr, f"{args}: message should contain {expect!r}, got {cp.stderr.strip()!r}")
        t.equal(tg.stats()["requests"], 0, f"{args}: no load sent")

    # A Lua error during the run is counted and reported with file:line; the run goes on.
    cp = run_pelt(["-t1", "-c1", "-d1s", "-s", run_err, url, "--json", os.path.join(tmp, "o.json")])
    t.equal(cp.returncode, 0, "runtime Lua error: run completes")
    t.check(f"{run_err}:4:" in cp.stdout and "boom" in cp.stdout, f"runtime error reported with file:line: {cp.stdout}")
    import json
    with open(os.path.join(tmp, "o.json")) as f:
        data = json.load(f)
    t.check(data["script_errors"]["count"] > 0, "script errors counted")
    t.check(data["ledger"]["completed"] > 0, "requests between the errors completed")

    # Help and version exit 0.
    t.equal(run_pelt(["--help"]).returncode, 0, "--help exits 0")
    cp = run_pelt(["--version"])
    t.check(cp.returncode == 0 and cp.stdout.startswith("pelt "), "--version")

t.finish()
