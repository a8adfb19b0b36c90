"""k6 and wrk parity: scenarios written as a k6 user writes them, and wrk scripts found in the
wild, run against pelt-target; the verdicts, counts and outputs mean what they mean in k6 and
wrk. Also custom metrics (pelt.counter/gauge/rate/trend) and per-request tags (pelt.tag).
"""
import json
import os
import subprocess
import threading
import time
import urllib.request

from harness import BIN, free_port, read_json, run_pelt

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "summary.schema.json")) as _f:
    import jsonschema
    _SCHEMA = json.load(_f)
    _VALIDATOR = jsonschema.validators.validator_for(_SCHEMA)(_SCHEMA)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run_file(tmp_path, toml, target, extra=(), timeout=60):
    """`pelt run` of the file with --summary-json; returns (cp, summary). The summary must be
    written and validate against docs/summary.schema.json."""
    out = str(tmp_path / ("summary-%d.json" % time.monotonic_ns()))
    cp = run_pelt(["run", toml, "--target", target, "--summary-json", out, "--quiet",
                   "--threads", "2"] + list(extra), timeout=timeout)
    data = read_json(out, f"summary JSON (exit {cp.returncode}, stderr {cp.stderr[-400:]!r})")
    bad = [f"{e.message} at /{'/'.join(str(p) for p in e.absolute_path)}"
           for e in _VALIDATOR.iter_errors(data)]
    assert not bad, "summary does not validate against the schema:\n  " + "\n  ".join(bad[:10])
    return cp, data


def thresholds_by_key(data):
    return {(t["key"], t["expression"]): t for t in data["thresholds"]}


def url_of(target, path="/"):
    return "http://127.0.0.1:%d%s" % (target.port, path)


def test_typo_in_a_tag_value_no_longer_passes_unnoticed(checks, target, tmp_path):
    """A threshold on a misspelled request name passed silently (no data); now the end of the
    run applies k6's rule (an empty trend reads 0) and warns, in the text and the JSON."""
    script = write(tmp_path, "named.lua", """
function request()
  pelt.name("checkout")
  return wrk.format(nil, "/delay/5")
end
""")
    toml = write(tmp_path, "typo.toml", f"""
script = "{script}"
[target]
url = "http://127.0.0.1:1/"
[scenarios.shop]
executor = "constant-vus"
vus = 2
duration = "1s"
[thresholds]
"http_req_duration{{name:chekout}}" = ["p(95)<500"]
"http_req_duration{{name:'checkout'}}" = ["p(95)>1"]
"http_req_duration{{name:chekout,method:GET}}" = ["p(95)>1"]
""")
    cp, data = run_file(tmp_path, toml, url_of(target))
    th = thresholds_by_key(data)
    typo = th[("http_req_duration{name:chekout}", "p(95)<500")]
    checks.check(typo["ok"] and not typo["has_data"], f"an empty trend reads 0 and holds: {typo}")
    checks.equal(typo["warning"],
                 'selected no samples: no request is named "chekout" (names: checkout)',
                 "the warning names the typo and the names seen")
    quoted = th[("http_req_duration{name:'checkout'}", "p(95)>1")]
    checks.check(quoted["ok"] and quoted["has_data"] and quoted["observed"] > 1,
                 f"quotes around a tag value go, as in k6: {quoted}")
    failing = th[("http_req_duration{name:chekout,method:GET}", "p(95)>1")]
    checks.check(not failing["ok"], f"p(95)>1 on nothing fails at the end (reads 0): {failing}")
    checks.equal(cp.returncode, 99, "exit code: a threshold was crossed")
    checks.check(any("chekout" in w for w in data["warnings"]), f"warnings: {data['warnings']}")
    checks.check('warning: http_req_duration{name:chekout} p(95)<500 selected no samples'
                 in cp.stdout, "the text summary warns too")


def test_expected_response_and_status_split_request_durations(checks, target, tmp_path):
    """http_req_duration{expected_response:true} and {status:N}: k6's default latency
    sub-metric; slow 500s do not count in it."""
    script = write(tmp_path, "mixed.lua", """
local n = 0
function request()
  n = n + 1
  if n % 4 == 0 then return wrk.format(nil, "/status/500") end
  return wrk.format(nil, "/delay/3")
end
""")
    toml = write(tmp_path, "expected.toml", f"""
script = "{script}"
[target]
url = "http://127.0.0.1:1/"
[scenarios.mix]
executor = "per-vu-iterations"
vus = 2
iterations = 40
[thresholds]
"http_req_duration{{expected_response:true}}" = ["min>=3"]
"http_req_duration{{status:500}}" = ["max<3"]
"http_reqs{{expected_response:false}}" = ["count==20"]
"http_reqs{{status:200}}" = ["count==60"]
"http_req_failed{{status:500}}" = ["rate==1"]
"http_req_waiting{{expected_response:true}}" = ["min>=3"]
""")
    cp, data = run_file(tmp_path, toml, url_of(target))
    checks.equal(cp.returncode, 0, f"every threshold holds (stdout {cp.stdout[-1500:]})")
    for t in data["thresholds"]:
        checks.check(t["ok"] and t["has_data"], f"{t['key']} {t['expression']}: {t['text']}")
    checks.equal(data["status_codes"], {"200": 60, "500": 20}, "responses by status")
    checks.check("{expected_response:true}" in cp.stdout,
                 "the summary shows the sub-metric under http_req_duration")


def test_ramping_vus_as_k6_start_vus_and_rounding(checks, target, tmp_path):
    """start_vus defaults to 1, and a ramp-down keeps VUs until the line reaches the number
    below (4 -> 0 over 2 s: 4, 3, 2, 1 VUs half a second each)."""
    toml = write(tmp_path, "ramp.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.stages_only]
executor = "ramping-vus"
stages = [{ duration = "1s", target = 0 }]
graceful_ramp_down = "0s"
path = "/delay/50"
[scenarios.down]
executor = "ramping-vus"
start_vus = 4
stages = [{ duration = "2s", target = 0 }]
graceful_ramp_down = "0s"
path = "/delay/50"
""")
    cp, data = run_file(tmp_path, toml, url_of(target), extra=["--threads", "1"])
    checks.equal(cp.returncode, 0, "exit code")
    sc = {s["name"]: s for s in data["scenarios"]}
    checks.equal(sc["stages_only"]["vus_max"], 1, "a stages-only ramping-vus starts with 1 VU")
    checks.check(15 <= sc["stages_only"]["iterations"] <= 21,
                 f"one VU for 1 s of 50 ms iterations: {sc['stages_only']['iterations']}")
    # 4, 3, 2, 1 VUs for 0.5 s each = 5 VU-seconds of 50 ms iterations: about 100 (rounding
    # down instead would give 3, 2, 1, 0: about 60).
    checks.check(85 <= sc["down"]["iterations"] <= 104,
                 f"ramp-down iterations as k6 rounds: {sc['down']['iterations']}")


def test_iterations_max_duration_left_unstarted_are_dropped(checks, target, tmp_path):
    """per-vu-iterations cut by max_duration: the iterations never started are
    dropped_iterations, so a dropped_iterations threshold fails as in k6."""
    toml = write(tmp_path, "cut.toml", """
[target]
url = "http://127.0.0.1:1/"
[scenarios.cut]
executor = "per-vu-iterations"
vus = 2
iterations = 20
max_duration = "1s"
graceful_stop = "0s"
path = "/delay/100"
[scenarios.shared]
executor = "shared-iterations"
vus = 2
iterations = 50
max_duration = "1s"
path = "/delay/100"
[thresholds]
dropped_iterations = ["count==0"]
""")
    cp, data = run_file(tmp_path, toml, url_of(target))
    checks.equal(cp.returncode, 99, "dropped iterations cross the threshold")
    sc = {s["name"]: s for s in data["scenarios"]}
    cut = sc["cut"]
    # Each VU starts an iteration every 100 ms: about 10 in 1 s, so about 10 of 20 dropped.
    checks.check(16 <= cut["dropped_iterations"] <= 22, f"per-vu dropped: {cut}")
    checks.equal(cut["iterations"] + cut["interrupted_iterations"] + cut["dropped_iterations"],
                 40, "every planned iteration ran, was cut or was dropped")
    shared = sc["shared"]
    checks.equal(shared["iterations"] + shared["interrupted_iterations"]
                 + shared["dropped_iterations"], 50, "shared: ran, cut or dropped")
    checks.check(shared["dropped_iterations"] >= 25, f"shared dropped: {shared}")


def test_what_k6_rejects_is_rejected(checks, target, tmp_path):
    cases = {
        "zero.toml": ("""
[scenarios.z]
executor = "ramping-vus"
start_vus = 0
stages = [{ duration = "1s", target = 0 }]
""", 'never runs a VU'),
        "maxvus.toml": ("""
[scenarios.o]
executor = "constant-arrival-rate"
rate = 10
duration = "1s"
pre_allocated_vus = 5
max_vus = 0
""", "max_vus (0) must be at least pre_allocated_vus (5)"),
    }
    for name, (text, message) in cases.items():
        path = write(tmp_path, name, '[target]\nurl = "http://127.0.0.1:1/"\n' + text)
        cp = run_pelt(["run", path, "--quiet"], timeout=30)
        checks.equal(cp.returncode, 2, f"{name}: exit code")
        checks.check(message in cp.stderr, f"{name}: {message!r} in {cp.stderr!r}")


def scrape_while_lingering(args, timeout=60):
    """Runs pelt with args (which serve /metrics on a free port and linger); scrapes /metrics
    once the run is over. Returns (exit code, stdout, metrics text)."""
    port = free_port()
    proc = subprocess.Popen([BIN] + args + ["--metrics", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    done = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            lines.append(line)
            if "serving final metrics" in line:
                done.set()
        done.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    text = ""
    if done.wait(timeout):
        for _ in range(2):  # two scrapes end the linger
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                break
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    reader.join(5)
    return proc.returncode, out, text, "".join(lines)


def metric_value(text, name, labels):
    """The value of the series `name` whose labels include every pair of `labels`."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def test_custom_metrics_and_request_tags_end_to_end(checks, target, tmp_path):
    """pelt.counter/gauge/rate/trend with tags, and pelt.tag on requests: thresholds, the
    summary, the JSON and /metrics."""
    script = write(tmp_path, "custom.lua", """
local errors = pelt.counter("app_errors")
local wait = pelt.trend("queue_wait", true)
local size = pelt.trend("body_bytes")
local ok = pelt.rate("body_ok")
local depth = pelt.gauge("queue_depth")
local n = 0
function request()
  n = n + 1
  if n % 2 == 0 then
    pelt.tag("kind", "api")
    return wrk.format(nil, "/delay/2")
  end
  return wrk.format(nil, "/status/201"), { kind = "page" }
end
function response(status, headers, body)
  wait:add(status == 201 and 5 or 15, { kind = status == 201 and "page" or "api" })
  size:add(#body)
  ok:add(#body > 0)
  errors:add(status >= 400 and 1 or 0)
  depth:add(3)
end
""")
    toml = write(tmp_path, "custom.toml", f"""
script = "{script}"
[target]
url = "http://127.0.0.1:1/"
[scenarios.app]
executor = "per-vu-iterations"
vus = 2
iterations = 50
[metrics]
linger = "20s"
[thresholds]
queue_wait = ["p(95)<100", "med>=5"]
"queue_wait{{kind:api}}" = ["min==15"]
"queue_wait{{kind:ap}}" = ["max<1"]
body_ok = ["rate==1"]
app_errors = ["count<1"]
queue_depth = ["value==3"]
"http_req_duration{{kind:api}}" = ["min>=2"]
"http_reqs{{kind:page}}" = ["count==50"]
""")
    summary = str(tmp_path / "custom.json")
    code, out, metrics, err = scrape_while_lingering(
        ["run", toml, "--target", url_of(target), "--summary-json", summary, "--quiet"])
    data = read_json(summary, f"summary JSON (exit {code}, stderr {err[-500:]!r})")
    checks.equal(code, 0, f"exit code (stdout {out[-2000:]})")
    for t in data["thresholds"]:
        checks.check(t["ok"], f"{t['key']} {t['expression']}: {t['text']}")
    typo = thresholds_by_key(data)[("queue_wait{kind:ap}", "max<1")]
    checks.equal(typo["warning"], 'selected no samples: no sample has kind = "ap" (values: api, '
                 'page)', "a typo in a custom metric's tag is named")
    m = data["metrics"]
    checks.equal(m["queue_wait"]["count"], 100, "every response added a wait")
    checks.equal(m["queue_wait"]["kind"], "trend", "the kind is in the JSON")
    checks.equal(m["app_errors"]["count"], 0, "no errors counted")
    checks.equal(m["queue_depth"]["value"], 3, "gauge")
    checks.equal(m["body_ok"]["passes"], 100, "rate")
    tagged = {(c["name"], json.dumps(c["tags"], sort_keys=True)): c for c in data["custom_metrics"]}
    checks.equal(tagged[("queue_wait", '{"kind": "api"}')]["count"], 50, "per tag set")
    names = {(n["name"], json.dumps(n["tags"], sort_keys=True)): n for n in data["names"]}
    checks.equal(names[("default", '{"kind": "api"}')]["requests"], 50, "tagged requests")
    checks.equal(names[("default", '{"kind": "page"}')]["requests"], 50,
                 "requests tagged by the table request() returned")
    checks.check("queue_wait" in out and "{kind:api}" in out, "the text summary lists them")
    # /metrics: the scripts' families and the request tags as labels.
    checks.equal(metric_value(metrics, "pelt_custom_queue_wait_seconds_count", {"kind": "api"}),
                 50.0, "a time trend is a histogram in seconds")
    checks.equal(metric_value(metrics, "pelt_custom_app_errors_total", {}), 0.0, "a counter")
    checks.equal(metric_value(metrics, "pelt_custom_queue_depth", {}), 3.0, "a gauge")
    checks.equal(metric_value(metrics, "pelt_custom_body_ok_total", {"result": "true"}), 100.0,
                 "a rate: values by result")
    checks.equal(metric_value(metrics, "pelt_custom_body_bytes_count", {}), 100.0,
                 "a trend of other values is a summary")
    checks.equal(metric_value(metrics, "pelt_http_requests_total",
                              {"kind": "page", "status": "201"}), 50.0,
                 "request tags label the request series")


def test_thresholds_on_unknown_metrics_stop_before_the_run(checks, target, tmp_path):
    script = write(tmp_path, "defines.lua", 'local w = pelt.trend("wait_time", true)\n')
    toml = write(tmp_path, "unknown.toml", f"""
script = "{script}"
[target]
url = "http://127.0.0.1:1/"
[scenarios.a]
executor = "constant-vus"
duration = "1s"
[thresholds]
wait_tme = ["p(95)<1"]
""")
    cp = run_pelt(["run", toml, "--target", url_of(target), "--quiet"], timeout=30)
    checks.equal(cp.returncode, 2, "exit code")
    checks.check('unknown metric "wait_tme" in [thresholds]' in cp.stderr
                 and 'did you mean "wait_time"' in cp.stderr, f"message: {cp.stderr!r}")
    checks.check("unknown.toml:9:" in cp.stderr, f"the message names the line: {cp.stderr!r}")


def test_wrk_scripts_reading_fields_wrk_does_not_define(checks, target, tmp_path):
    """A done() found in the wild concatenates requests.total: on wrk that is the string
    "total"; it must not fail on pelt either."""
    script = write(tmp_path, "wild.lua", """
done = function(summary, latency, requests)
  io.write("total: " .. requests.total .. "\\n")
  io.write("p99: " .. latency:percentile(99) .. "\\n")
end
""")
    cp = run_pelt(["-t1", "-c2", "-d1s", "-s", script, url_of(target)], timeout=30)
    checks.equal(cp.returncode, 0, f"exit code (stderr {cp.stderr[-500:]!r})")
    checks.check("total: total\n" in cp.stdout, f"requests.total reads as its key: {cp.stdout[-300:]!r}")


def test_tags_set_at_the_top_level_tag_the_static_request(checks, target, tmp_path):
    script = write(tmp_path, "static.lua", 'pelt.tag("region", "eu")\n')
    out = str(tmp_path / "static.json")
    cp = run_pelt(["-t1", "-c2", "-d1s", "-s", script, "--json", out, url_of(target, "/")],
                  timeout=30)
    data = read_json(out, f"JSON (exit {cp.returncode}, stderr {cp.stderr[-300:]!r})")
    names = [(n["name"], n["tags"]) for n in data["names"] if n["requests"] > 0]
    checks.equal(names, [("/", {"region": "eu"})], "every request carries the tag")
