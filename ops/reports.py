"""Pure builders of the run-level report files: summary.json and findings.sarif."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.findings import Finding
from ops.rules import describe as describe_rule
from ops.rules import help_uri

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_PACKAGES = (
    "proofyard",
    "pytest",
    "pytest-xdist",
    "pytest-timeout",
    "pytest-html",
    "allure-pytest",
    "pytest-benchmark",
    "psutil",
    "pydantic",
    "PyYAML",
    "packaging",
)
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
SARIF_LEVELS = {"error": "error", "warning": "warning", "note": "note"}
LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2, "none": 3}
SUMMARY_SCHEMA_VERSION = 1  # ops/schemas/summary.schema.json describes it
SARIF_MAX_RESULTS = 25_000  # what GitHub code scanning accepts per run


@dataclass
class TestResult:
    """One test item's outcome and record, merged from its phase reports."""

    nodeid: str
    suite: str | None
    outcome: str = "passed"
    duration_s: float = 0.0
    record: dict[str, Any] | None = None
    message: str = ""
    resources: dict[str, float] | None = None


@dataclass
class RunResults:
    """Every test result of a run, keyed by node id so each counts once."""

    tests: dict[str, TestResult] = field(default_factory=dict)
    _found: list[tuple[TestResult, Finding]] | None = field(default=None, init=False, repr=False)

    def add_phase(
        self,
        nodeid: str,
        suite: str | None,
        when: str,
        outcome: str,
        duration_s: float,
        record: dict[str, Any] | None,
        xfail: bool,
        message: str = "",
        resources: dict[str, float] | None = None,
    ) -> None:
        """Fold one phase report (setup, call or teardown) into the item's result."""
        self._found = None
        result = self.tests.setdefault(nodeid, TestResult(nodeid, suite))
        result.duration_s += duration_s
        if resources is not None:
            result.resources = resources
        if record is not None:
            result.record = record
        if xfail:
            result.outcome = "xfailed" if outcome == "skipped" else "xpassed"
        elif outcome == "failed":
            result.outcome = "failed" if when == "call" else "error"
            result.message = message
        elif outcome in ("skipped", "inconclusive") and result.outcome == "passed":
            result.outcome = outcome
            result.message = message

    def table(self, name: str) -> list[dict[str, Any]]:
        """Rows of one named table from every test, in node id order."""
        return [
            {"test": result.nodeid, **row}
            for result in sorted(self.tests.values(), key=lambda r: r.nodeid)
            for row in (result.record or {}).get("tables", {}).get(name, [])
        ]

    def findings(self) -> list[tuple[TestResult, Finding]]:
        """Every finding of every test, in a stable order (made once: SARIF, summary.json
        and the overview each read them; 36,000 findings took 0.25 s each time)."""
        if self._found is None:
            found = [
                (result, Finding.from_dict(data))
                for result in self.tests.values()
                for data in (result.record or {}).get("findings", [])
            ]
            self._found = sorted(
                found,
                key=lambda pair: (
                    pair[0].suite or "",
                    pair[1].path or "",
                    pair[1].line or 0,
                    pair[1].rule,
                    pair[1].fingerprint,
                    pair[0].nodeid,
                ),
            )
        return self._found


def tool_versions(packages: tuple[str, ...] = TOOL_PACKAGES) -> dict[str, str]:
    return dict(_installed_versions(packages))


@functools.cache  # summary.json and the HTML report both ask; each lookup scans sys.path
def _installed_versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return tuple(versions.items())


def build_summary(results: RunResults, run_info: Mapping[str, Any]) -> dict[str, Any]:
    """summary.json: per suite counts, inspected items, metrics, findings and durations."""
    suites: dict[str, dict[str, Any]] = {}
    for result in sorted(results.tests.values(), key=lambda r: r.nodeid):
        name = result.suite or "unmarked"
        suite = suites.setdefault(
            name,
            {
                "counts": defaultdict(int),
                "duration_s": 0.0,
                "inspected": defaultdict(int),
                "skipped_items": defaultdict(int),
                "findings": 0,
                "metrics": [],
                "tables": {},
                "tests": [],
            },
        )
        record = result.record or {}
        suite["counts"][result.outcome] += 1
        suite["duration_s"] += result.duration_s
        shared = set(record.get("shared", []))
        for kind, number in record.get("inspected", {}).items():
            if kind in shared:  # the same items every item of the suite reads: once
                suite["inspected"][kind] = max(suite["inspected"][kind], number)
            else:
                suite["inspected"][kind] += number
        for reason, number in record.get("skipped", {}).items():
            suite["skipped_items"][reason] += number
        suite["findings"] += len(record.get("findings", []))
        for metric in record.get("metrics", []):
            suite["metrics"].append({"test": result.nodeid, **metric})
        for table, rows in record.get("tables", {}).items():
            suite["tables"].setdefault(table, []).extend(
                {"test": result.nodeid, **row} for row in rows
            )
        suite["tests"].append(
            {
                "nodeid": result.nodeid,
                "outcome": result.outcome,
                "duration_s": round(result.duration_s, 6),
                "message": result.message,
                "inspected": record.get("inspected", {}),
                "findings": len(record.get("findings", [])),
                **({"resources": result.resources} if result.resources else {}),
            }
        )
    for suite in suites.values():
        suite["duration_s"] = round(suite["duration_s"], 6)
        for key in ("counts", "inspected", "skipped_items"):
            suite[key] = dict(sorted(suite[key].items()))
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        **run_info,
        "tools": tool_versions(),
        "suites": dict(sorted(suites.items())),
    }


def build_sarif(results: RunResults, target_root: Path, version: str) -> dict[str, Any]:
    """SARIF 2.1.0 with every finding of every suite, as code scanning reads it: a passing
    item's findings are never errors, ratchet findings carry ``baselineState`` and the ones
    in the baseline a suppression, every rule its descriptions and help; at most
    :data:`SARIF_MAX_RESULTS` results (the most severe kept, the cut said in the run)."""
    rules: dict[str, dict[str, Any]] = {}
    leveled = []
    for result, finding in results.findings():
        if finding.rule not in rules:
            rules[finding.rule] = _sarif_rule(finding.rule, result.suite or "unmarked")
        leveled.append((_sarif_level(result, finding), result, finding))
    leveled.sort(key=lambda entry: LEVEL_ORDER[entry[0]])  # stable: the findings' order kept
    dropped = max(0, len(leveled) - SARIF_MAX_RESULTS)  # cut before the results are built
    sarif_results = [_sarif_result(*entry) for entry in leveled[:SARIF_MAX_RESULTS]]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "proofyard",
                "version": version,
                "informationUri": "https://pypi.org/project/proofyard/",
                "rules": [rules[key] for key in sorted(rules)],
            }
        },
        "originalUriBaseIds": {"TARGET": {"uri": target_root.as_uri() + "/"}},
        "results": sarif_results,
    }
    if dropped:
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "warning",
                        "message": {
                            "text": f"{dropped} less severe results left out: code "
                            f"scanning accepts at most {SARIF_MAX_RESULTS} per run "
                            "(summary.json has them all)"
                        },
                    }
                ],
            }
        ]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _sarif_rule(rule: str, suite: str) -> dict[str, Any]:
    short, full = describe_rule(rule)
    return {
        "id": rule,
        "name": rule.replace(".", "/"),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "helpUri": help_uri(rule),
        "help": {"text": f"{full} Configured in docs/configuration.md ({suite})."},
        "properties": {"suite": suite},
    }


def _sarif_level(result: TestResult, finding: Finding) -> str:
    """The finding's severity, capped by its item's verdict: a passing (or skipped) item's
    findings are at most warnings, and a finding already in the baseline is a note."""
    if finding.baseline_state == "unchanged":
        return "note"
    level = SARIF_LEVELS[finding.severity]
    if result.outcome not in ("failed", "error") and level == "error":
        return "warning"
    return level


def _sarif_result(level: str, result: TestResult, finding: Finding) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": level,
        "message": {"text": finding.message},
        "partialFingerprints": {"proofyard/v1": finding.fingerprint},
        "properties": {"suite": result.suite or "unmarked", "test": result.nodeid},
    }
    if finding.baseline_state:
        entry["baselineState"] = finding.baseline_state
    if finding.baseline_state == "unchanged":
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": "in the ratchet baseline (baselines.path)",
            }
        ]
    if finding.path:
        region = {
            key: value
            for key, value in (("startLine", finding.line), ("startColumn", finding.column))
            if value
        }
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": finding.path, "uriBaseId": "TARGET"}
        }
        if region:
            physical["region"] = region
        entry["locations"] = [{"physicalLocation": physical}]
    return entry


def redact_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Environment values with secret-looking names replaced by ``<redacted>``."""
    return {
        name: "<redacted>" if SECRET_NAME.search(name) else value
        for name, value in sorted(environ.items())
    }


def allure_environment(info: Mapping[str, Any]) -> str:
    """``environment.properties`` for allure: one ``key=value`` line each, secrets redacted."""
    lines = []
    for key, value in redact_environment({k: str(v) for k, v in info.items()}).items():
        clean = str(value).replace("\\", "\\\\").replace("\n", " ")
        lines.append(f"{key}={clean}")
    return "\n".join(lines) + "\n"


def machine_info() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
    }
