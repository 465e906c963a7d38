"""findings.sarif as code scanning reads it, validated against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ops import reports
from ops.findings import Finding
from ops.reports import RunResults, build_sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json").read_text())


def validate(sarif: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)


def _results() -> RunResults:
    results = RunResults()
    items = (
        ("suites/test_quality.py::test_gate[prints]", "quality", "failed", [
            Finding("quality.print", "print call", "pkg/new.py", 2, 5, baseline_state="new"),
            Finding("quality.print", "print call", "pkg/old.py", 2, 5,
                    baseline_state="unchanged"),
        ]),
        ("suites/test_quality.py::test_gate[size]", "quality", "passed", [
            Finding("quality.size", "file has 990 lines", "pkg/big.py"),
        ]),
        ("suites/test_docs.py::test_links[a.md]", "docs", "passed", [
            Finding("docs.missing-anchor", "note only", "a.md", 1, 1, severity="note"),
        ]),
    )  # fmt: skip
    for nodeid, suite, outcome, findings in items:
        record = {"inspected": {"files": 1}, "skipped": {}, "metrics": [], "tables": {},
                  "findings": [f.to_dict() for f in findings]}  # fmt: skip
        results.add_phase(nodeid, suite, "call", outcome, 0.1, record, False, "")
    return results


def test_sarif_follows_the_verdicts_and_the_baseline_and_matches_the_schema(tmp_path):
    sarif = build_sarif(_results(), tmp_path, "0.1.0")
    validate(sarif)
    (run,) = sarif["runs"]
    by_path = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r
               for r in run["results"]}  # fmt: skip
    assert by_path["pkg/new.py"]["level"] == "error"
    assert by_path["pkg/new.py"]["baselineState"] == "new"
    assert by_path["pkg/old.py"]["level"] == "note"
    assert by_path["pkg/old.py"]["suppressions"][0]["status"] == "accepted"
    assert by_path["pkg/big.py"]["level"] == "warning"  # a passing gate's finding: no error
    assert by_path["a.md"]["level"] == "note"
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["quality.print"]["shortDescription"]["text"] == "print() in library code"
    assert rules["docs.missing-anchor"]["helpUri"].endswith("docs/configuration.md#docs")


def test_a_cut_sarif_says_so_and_still_matches_the_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(reports, "SARIF_MAX_RESULTS", 2)
    sarif = build_sarif(_results(), tmp_path, "0.1.0")
    validate(sarif)
    (run,) = sarif["runs"]
    assert [r["level"] for r in run["results"]] == ["error", "warning"]  # the most severe kept
    notice = run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    assert notice.startswith("2 less severe results left out")


def test_the_schema_refuses_a_sarif_that_drifted(tmp_path):
    sarif = build_sarif(_results(), tmp_path, "0.1.0")
    for drifted in (
        {**sarif, "version": "2.2"},
        {**sarif, "runs": [{**sarif["runs"][0], "results": [{"level": "fatal"}]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(drifted)


def test_a_finding_read_back_is_the_finding_written_and_a_foreign_dict_is_refused():
    finding = Finding("quality.docstring", "f has no docstring", "a.py", 3, None, "note", "f:x")
    again = Finding.from_dict(finding.to_dict())
    assert again == finding and again.fingerprint == finding.fingerprint
    assert hash(again) == hash(finding)
    assert Finding.from_dict({"rule": "r", "message": "m"}) == Finding("r", "m")
    for foreign in ({"rule": "r", "message": "m", "bogus": 1}, {"rule": "r"}):
        with pytest.raises(TypeError, match="not a Finding"):
            Finding.from_dict(foreign)
