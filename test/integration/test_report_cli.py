"""pelt report: the HTML report and JUnit XML from a saved summary, bad input, atomic writes."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "data"))
from harness import SOURCE_DIR, Target, run_pelt, run_pelt_json  # noqa: E402
import make_summary  # noqa: E402

JUNIT_XSD = os.path.join(SOURCE_DIR, "test", "data", "junit", "junit.xsd")
DATA_OPEN = '<script type="application/json" id="pelt-data">'


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


def embedded_document(html):
    start = html.index(DATA_OPEN) + len(DATA_OPEN)
    return json.loads(html[start:html.index("</script", start)])


def xmllint_validate(path):
    cp = subprocess.run(["xmllint", "--noout", "--schema", JUNIT_XSD, str(path)],
                        capture_output=True, text=True, timeout=60)
    return cp.returncode, cp.stderr


def test_report_writes_html_and_junit(tmp_path):
    doc = make_summary.build()
    src = write_json(tmp_path / "run.json", doc)
    html, xml = tmp_path / "run.html", tmp_path / "run.xml"
    cp = run_pelt(["report", src, "-o", html, "--junit", xml])
    assert cp.returncode == 0, cp.stderr
    assert f"wrote {html}" in cp.stdout and f"wrote {xml}" in cp.stdout
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert embedded_document(text) == doc

    code, err = xmllint_validate(xml)
    assert code == 0, err
    junit = xml.read_text()
    crossed = [t for t in doc["thresholds"] if not t["ok"]]
    failed_checks = [c for c in doc["checks"] if c["fails"]]
    tests = len(doc["thresholds"]) + len(doc["checks"])
    failures = len(crossed) + len(failed_checks)
    assert f'tests="{tests}" failures="{failures}" errors="0"' in junit
    assert junit.count("<failure ") == failures
    for t in crossed:
        assert f'message="{t["text"]} crossed {t["expression"].replace("<", "&lt;")}"' in junit
    for c in failed_checks:
        assert f'{c["fails"]} of {c["passes"] + c["fails"]} checks failed' in junit
    assert f'<property name="pelt.http_reqs" value="{doc["metrics"]["http_reqs"]["count"]}"/>' in junit


def test_report_hostile_strings_stay_data(tmp_path):
    doc = make_summary.build(hostile=True)
    src = write_json(tmp_path / "run.json", doc)
    cp = run_pelt(["report", src, "-o", tmp_path / "r.html", "--junit", tmp_path / "r.xml"])
    assert cp.returncode == 0, cp.stderr
    html = (tmp_path / "r.html").read_text()
    assert embedded_document(html) == doc
    assert html.count("<script") == 3  # data, chart library, app: nothing smuggled in
    code, err = xmllint_validate(tmp_path / "r.xml")
    assert code == 0, err


def test_report_from_a_real_v1_run(tmp_path):
    with Target() as tg:
        cp, doc = run_pelt_json(["-t1", "-c2", "-d1s", tg.url("/")], timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert doc is not None and doc["schema"].startswith("pelt.summary/")
    src = write_json(tmp_path / "quick.json", doc)
    cp = run_pelt(["report", src, "-o", tmp_path / "quick.html", "--junit", tmp_path / "q.xml"])
    assert cp.returncode == 0, cp.stderr
    assert embedded_document((tmp_path / "quick.html").read_text()) == doc
    code, err = xmllint_validate(tmp_path / "q.xml")
    assert code == 0, err


def test_report_reads_standard_input(tmp_path):
    doc = make_summary.build(timeseries=False)
    out = tmp_path / "stdin.html"
    cp = run_pelt(["report", "-", "-o", out], input=json.dumps(doc))
    assert cp.returncode == 0, cp.stderr
    assert embedded_document(out.read_text()) == doc


@pytest.mark.parametrize("content, args, message", [
    (None, [], "cannot read {src}: No such file or directory"),
    ('{"schema": "pelt.summary/v2",\n  "x": [1, 2,,]}', [], "{src}:2:14: not JSON: "),
    ("[1, 2]", [], "{src}: not a pelt summary (the document is not a JSON object)"),
    ('{"run_id": "x"}', [], '{src}: not a pelt summary (no "schema" field'),
    ('{"schema": "pelt.summary/v9"}', [], '{src}: schema "pelt.summary/v9" is not supported'),
    ('{"schema": "pelt.summary/v2"}', ["--bogus"], "unknown option --bogus"),
    ('{"schema": "pelt.summary/v2"}', ["--junit"], "option --junit needs a file name"),
])
def test_report_bad_input(tmp_path, content, args, message):
    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    out = tmp_path / "out.html"
    cp = run_pelt(["report", src, "-o", out] + args)
    assert cp.returncode == 2, (cp.stdout, cp.stderr)
    assert message.format(src=src) in cp.stderr
    assert cp.stderr.startswith("pelt: report: ")
    assert not out.exists()


def test_report_needs_an_input_and_an_output(tmp_path):
    cp = run_pelt(["report"])
    assert cp.returncode == 2
    assert "pelt report needs a summary file" in cp.stderr
    src = write_json(tmp_path / "run.json", make_summary.build(timeseries=False))
    cp = run_pelt(["report", src])
    assert cp.returncode == 2
    assert "nothing to write: give -o REPORT.html and/or --junit REPORT.xml" in cp.stderr
    cp = run_pelt(["report", "--help"])
    assert cp.returncode == 0 and "Usage: pelt report SUMMARY.json" in cp.stdout


def test_report_writes_atomically(tmp_path):
    src = write_json(tmp_path / "run.json", make_summary.build(timeseries=False))
    out = tmp_path / "out.html"
    out.write_text("old report")
    cp = run_pelt(["report", src, "-o", out])
    assert cp.returncode == 0, cp.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(tmp_path)) == ["out.html", "run.json"]  # no temporary file left

    missing = tmp_path / "no-such-dir" / "out.html"
    cp = run_pelt(["report", src, "-o", missing])
    assert cp.returncode == 1
    assert f"cannot write {missing}: No such file or directory" in cp.stderr

    folder = tmp_path / "a-folder"
    folder.mkdir()
    cp = run_pelt(["report", src, "-o", folder])
    assert cp.returncode == 1
    assert f"cannot write {folder}:" in cp.stderr
    assert os.listdir(folder) == []
    assert sorted(os.listdir(tmp_path)) == ["a-folder", "out.html", "run.json"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
