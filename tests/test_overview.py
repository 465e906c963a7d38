"""The "can I merge?" overview: rows per suite, worst findings, escaping."""

from __future__ import annotations

from ops.findings import Finding
from ops.overview import headline, html_table, markdown, suite_rows
from ops.reports import RunResults, build_summary


def _results():
    results = RunResults()
    bad = Finding("docs.missing-file", "x.md: <img src=x onerror=alert(1)> | does not exist",
                  "a|b.md", 3, 1)  # fmt: skip
    known = Finding("quality.print", "print", "m.py", 2, baseline_state="unchanged")
    for nodeid, suite, outcome, findings in (
        ("suites/test_docs.py::test_links[a]", "docs", "failed", [bad]),
        ("suites/test_quality.py::test_gate[prints]", "quality", "passed", [known]),
        ("suites/test_benchmark.py::test_b", "benchmark", "inconclusive", []),
    ):
        record = {
            "inspected": {"files": 2},
            "skipped": {},
            "findings": [f.to_dict() for f in findings],
            "metrics": [],
            "tables": {},
        }
        results.add_phase(nodeid, suite, "call", outcome, 0.1, record, False, "why")
    return results


def test_rows_put_failures_first_with_their_worst_findings():
    results = _results()
    rows = suite_rows(results, build_summary(results, {}))
    assert [(row.suite, row.verdict) for row in rows] == [
        ("docs", "fail"),
        ("benchmark", "inconclusive"),
        ("quality", "pass"),
    ]
    assert rows[0].worst == [
        "a|b.md:3:1: [docs.missing-file] x.md: <img src=x onerror=alert(1)> | does not exist"
    ]
    assert rows[2].worst == []  # a baselined finding of a passing gate is no worry
    assert headline(rows) == "Not ready to merge: docs failed"
    text = markdown(rows)
    assert "| docs | fail | 1 failed | 2 files | a\\|b.md:3:1:" in text  # cells stay cells
    page = html_table(rows)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_suite_tables_show_rows_and_gated_values_escaped():
    from ops.overview import suite_tables_html

    summary = {
        "suites": {
            "benchmark": {
                "tables": {
                    "benchmarks": [
                        {"test": "t", "benchmark": "<b>x</b>", "ratio": 1.0123456, "low": 0.99}
                    ]
                },
                "metrics": [],
            },
            "quality": {
                "tables": {},
                "metrics": [
                    {"test": "t", "name": "functions over max_complexity", "value": 3.0,
                     "unit": "", "threshold": 5.0, "passed": True, "tags": {"gate": "complexity"}},
                    {"test": "t", "name": "files analysed", "value": 9.0, "unit": "",
                     "threshold": None, "passed": None, "tags": {}},
                ],
            },
        }
    }  # fmt: skip
    page = suite_tables_html(summary)
    assert "benchmark: benchmarks" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page
    assert "1.012" in page and "1.0123456" not in page
    assert "quality: gated values" in page and "complexity" in page
    assert "files analysed" not in page  # not gated: not a verdict to show


def test_each_failing_suite_lists_its_three_worst_and_no_notes():
    results = RunResults()
    errors = [Finding("quality.print", f"print {n}", "m.py", n) for n in range(5)]
    note = Finding("quality.docstring", "no docstring", "a.py", 1, severity="note")
    for nodeid, suite, findings in (
        ("suites/test_docs.py::test_links[a]", "docs", [note, errors[0]]),
        ("suites/test_quality.py::test_gate[prints]", "quality", errors),
    ):
        record = {"inspected": {"files": 1}, "skipped": {}, "metrics": [], "tables": {},
                  "findings": [f.to_dict() for f in findings]}  # fmt: skip
        results.add_phase(nodeid, suite, "call", "failed", 0.1, record, False, "")
    rows = {row.suite: row.worst for row in suite_rows(results, build_summary(results, {}))}
    assert rows == {
        "docs": ["m.py:0: [quality.print] print 0"],
        "quality": [f"m.py:{n}: [quality.print] print {n}" for n in range(3)],
    }
