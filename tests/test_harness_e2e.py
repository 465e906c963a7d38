"""End to end: the harness run by pytest on generated targets, as a user would run it."""

from __future__ import annotations

import json
import subprocess
import textwrap
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import REPO, run_with_plugins
from tests.test_sarif import validate as validate_sarif

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)>"
DEFECTIVE = {
    "pyproject.toml": """
        [project]
        name = "demo"
        version = "0.1"
        requires-python = ">=3.8"
        dependencies = []
        [project.optional-dependencies]
        fast = ["turbo-missing-xyz"]
        [project.scripts]
        demo-ok = "pkg.good:main"
        [tool.setuptools]
        packages = ["pkg"]
    """,
    "pkg/__init__.py": "",
    "pkg/good.py": """
        def main():
            print("usage: demo-ok")
            return 0
    """,
    "pkg/broken.py": f"raise RuntimeError({HOSTILE!r})\n",
    "pkg/optional.py": "import turbo_missing_xyz\n",
}


def test_bad_config_is_a_usage_error_without_traceback(run_harness, make_target):
    root = make_target({"pkg/__init__.py": ""}, "smoke:\n  imports:\n    timeout: 5\n")
    result = run_harness("-m", "smoke", f"--proofyard-config={root / 'proofyard.yaml'}")
    assert result.returncode == 4, result.stdout + result.stderr
    assert (
        f"{root / 'proofyard.yaml'}:3: smoke.imports.timeout: unknown key 'timeout' "
        "(did you mean 'timeout_s'?)" in result.stderr
    )
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text and "INTERNALERROR" not in text


@pytest.mark.parametrize(
    "args",
    [
        ("--set", "smoke.imports.timeout_s=-4"),
        ("--target=/nonexistent/path/for/proofyard",),
        ("--target", "/tmp"),  # the separate form would move pytest's rootdir: refused
        ("--env", "nosuchenv"),
    ],
)
def test_bad_options_are_usage_errors(run_harness, args):
    result = run_harness("-m", "smoke", *args)
    assert result.returncode == 4
    assert "ERROR:" in result.stderr and "Traceback" not in result.stderr + result.stdout


def _read_reports(folder):
    summary = json.loads((folder / "summary.json").read_text())
    sarif = json.loads((folder / "findings.sarif").read_text())
    junit = ET.parse(folder / "junit.xml").getroot()
    assert not (folder / ".junit.xml.partial").exists()  # renamed whole into place
    return summary, sarif, junit


def test_serial_and_xdist_runs_write_every_report_with_the_same_findings(
    run_harness, make_target, tmp_path
):
    root = make_target(DEFECTIVE, "target:\n  root: .\n")
    config = str(root / "proofyard.yaml")
    step_summary = tmp_path / "step-summary.md"
    serial = run_harness(
        "-m",
        "smoke",
        f"--proofyard-config={config}",
        reports="serial",
        env={"GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    parallel = run_harness(
        "-m", "smoke", f"--proofyard-config={config}", "-n", "2", reports="parallel"
    )
    assert serial.returncode == 1, serial.stdout[-3000:]
    assert "rootdir: " + str(REPO) in serial.stdout and "UnknownMarkWarning" not in serial.stdout
    assert parallel.returncode == 1, parallel.stdout[-3000:]
    runs = {}
    for name in ("serial", "parallel"):
        folder = tmp_path / name
        summary, sarif, junit = _read_reports(folder)
        html = (folder / "report.html").read_text()
        assert "onerror=alert(1)" in html  # the message is in the report, as escaped text
        assert HOSTILE not in html
        allure = list((folder / "allure-results").glob("*-result.json"))
        assert len(allure) == sum(summary["suites"]["smoke"]["counts"].values())
        assert (folder / "allure-results" / "environment.properties").is_file()
        runs[name] = (summary, sarif, junit)
    serial_summary, serial_sarif, serial_junit = runs["serial"]
    parallel_summary, parallel_sarif, _ = runs["parallel"]
    assert parallel_summary["xdist_workers"] == 2
    smoke = serial_summary["suites"]["smoke"]
    assert smoke["counts"] == parallel_summary["suites"]["smoke"]["counts"]
    assert smoke["counts"]["failed"] == 1
    assert smoke["inspected"]["modules"] == 4
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in smoke["tests"]}
    assert outcomes["test_import[pkg.broken]"] == "failed"
    assert outcomes["test_import[pkg.optional]"] == "skipped"
    assert outcomes["test_import[pkg.good]"] == "passed"
    assert outcomes["test_entry_point[demo-ok]"] == "passed"

    def fingerprints(sarif):
        return sorted(
            (r["ruleId"], r["partialFingerprints"]["proofyard/v1"])
            for r in sarif["runs"][0]["results"]
        )

    assert fingerprints(serial_sarif) == fingerprints(parallel_sarif)
    results = serial_sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["smoke.import"]
    assert (
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/broken.py"
    )
    assert serial_sarif["version"] == "2.1.0"
    props = {p.get("name"): p.get("value") for p in serial_junit.iter("property")}
    assert props["inspected.modules"] == "1"
    assert props["metric.import_time.pkg.good.unit"] == "s"
    assert float(props["metric.import_time.pkg.good"]) >= 0  # a plain number
    assert not [name for name in props if " " in name]
    validate_summary(serial_summary)
    validate_summary(parallel_summary)
    validate_sarif(serial_sarif)
    overview = (tmp_path / "serial" / "summary.md").read_text()
    assert overview.startswith("## proofyard: Not ready to merge: smoke failed")
    assert "| smoke | fail | " in overview and " 1 failed, " in overview
    assert "pkg/broken.py:1: [smoke.import]" in overview
    assert step_summary.read_text().strip() == overview.strip()  # appended for the job page
    html_page = (tmp_path / "serial" / "report.html").read_text()
    assert "Not ready to merge: smoke failed" in html_page


def validate_summary(summary):
    """summary.json against the schema the project ships (ops/schemas/)."""
    import jsonschema

    schema = json.loads((REPO / "ops" / "schemas" / "summary.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(summary)


def test_the_summary_schema_refuses_a_summary_that_drifted(tmp_path):
    import jsonschema

    from ops.reports import RunResults, build_summary

    results = RunResults()
    results.add_phase("suites/test_x.py::test_a", "smoke", "call", "passed", 0.1, {
        "inspected": {"modules": 2}, "skipped": {}, "findings": [], "metrics": [], "tables": {},
    }, False)  # fmt: skip
    info = {
        "proofyard": "0", "started": "2026-12-02T00:00:00Z", "duration_s": 1.0,
        "exit_status": 0, "target": "/t", "project_python": {
            "path": "/p", "version": "3.11", "harness": True},
    }  # fmt: skip
    summary = build_summary(results, info)
    validate_summary(summary)
    for drifted in (
        {**summary, "schema_version": 2},
        {**summary, "unexpected": 1},
        {**summary, "suites": {"smoke": {**summary["suites"]["smoke"], "counts": {"ok": 1}}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_summary(drifted)


HONESTY_TEST = textwrap.dedent("""
    import pytest

    @pytest.mark.smoke
    def test_checks_nothing(check):
        pass

    @pytest.mark.smoke
    def test_checks_something(check):
        check.inspected("files", 3)

    @pytest.mark.smoke
    def test_skips_with_reason(check):
        pytest.skip("nothing to check: no files configured")
""")


def test_a_suite_check_that_inspected_nothing_fails(pytester):
    pytester.makepyfile(test_honesty=HONESTY_TEST)
    pytester.makeini("[pytest]\nmarkers =\n    smoke: smoke\n")
    result = run_with_plugins(pytester)
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*test_checks_nothing*inspected nothing*"])


FREEZE_PROBE = """
    import gc
    from pathlib import Path

    import pytest


    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(config):
        # registered before the harness's cleanup, so it runs after it
        config.add_cleanup(lambda: Path("after.txt").write_text(str(gc.get_freeze_count())))


    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(config):
        Path("during.txt").write_text(str(gc.get_freeze_count()))
"""


def test_the_heap_is_frozen_for_pytests_last_collections_and_thawed_after(pytester):
    pytester.makeconftest(FREEZE_PROBE)
    pytester.makepyfile(test_any="def test_any():\n    assert True\n")
    run_with_plugins(pytester, plugins=("fixtures.processes",)).assert_outcomes(passed=1)
    assert int((pytester.path / "during.txt").read_text()) > 1000
    assert (pytester.path / "after.txt").read_text() == "0"


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, nearly full (needs mount rights: root, as in CI)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_one_line_per_report_and_keeps_old_baselines(
    run_harness, make_target, full_disk
):
    root = make_target(
        {"pkg/__init__.py": "", "pkg/a.py": "print('x')\n"},
        f"target:\n  packages: [pkg]\nbaselines:\n  dir: {full_disk / 'baselines'}\n"
        "quality:\n  prints: {mode: ratchet}\n",
    )
    args = ("-m", "quality", "-k", "prints", f"--proofyard-config={root / 'proofyard.yaml'}")
    recorded = run_harness(*args, "--update-baselines", "-p", "no:xdist")
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    store = full_disk / "baselines" / "quality.json"
    before = store.read_text()
    fill = ["dd", "if=/dev/zero", f"of={full_disk / 'fill'}", "bs=1k", "count=64"]
    subprocess.run(fill, capture_output=True, check=False)  # stops when the disk is full
    reports = full_disk / "reports"
    result = run_harness(*args, "--update-baselines", f"--reports-dir={reports}")
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in text and "INTERNALERROR" not in text, text[-4000:]
    assert f"ERROR: report not written: {reports / 'summary.json'}: No space left on device" in text
    assert store.read_text() == before  # the old baseline stays whole
    assert f"cannot write baseline {store}: No space left on device" in text
    assert not (reports / "junit.xml").exists() or ET.parse(reports / "junit.xml")


def test_a_session_of_one_suite_loads_neither_other_suites_nor_their_modules(run_harness):
    # the fixed cost of `pytest -m deps`: other suites' files and heavy modules stay unloaded
    result = run_harness("-m", "deps", "--co", "-q", "-s", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("suites/test_deps.py::") for line in collected)
    assert "deselected" not in result.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    for module in (
        "suites.test_docs",
        "markdown_it",
        "docutils",
        "matplotlib",
        "ops.docs.blocks",
        "ops.quality.engine",
        "ops.pipeline.runner",
        "ops.monitor.dashboard",
    ):
        assert module not in loaded, f"-m deps loaded {module}"
