"""Quality suite: one item per gate; failures list the worst offenders with their values."""

from __future__ import annotations

import dataclasses

import pytest

from ops.findings import Finding
from ops.quality.coverage_gate import CoverageError, read_totals, run_under_coverage
from ops.quality.gates import GATES, GateReport, Measure, run_gate, select, with_cli_files
from ops.quality.lint import LintError, run_ruff, split_by_size
from ops.quality.ratchet import fingerprint_counts, new_findings

MAX_LISTED = 20

pytestmark = pytest.mark.quality
WORST = 15


def _judge(name, gate, report: GateReport, baselines, check, proofyard_config):
    """Record the report, then fail on threshold breaches (absolute) or new findings (ratchet)."""
    for kind, number in report.inspected.items():
        check.inspected(kind, number, shared=True)  # every gate reads the same files
    absolute = gate.mode != "ratchet"  # a ratchet judges new findings, not these thresholds
    for measure in report.measures:
        check.metric(
            measure.name,
            measure.value,
            measure.unit,
            measure.threshold if absolute else None,
            measure.passed if absolute else None,
            gate=name,
        )
    if gate.mode == "ratchet":
        problems, offenders = _ratchet(name, report, baselines, check, proofyard_config)
    else:
        _record(report.findings, check, proofyard_config, report.notes_counted)
        problems = [m.describe() for m in report.failed_measures]
        offenders = [f for f in report.findings if f.severity != "note"] or report.findings
    if not sum(report.inspected.values()):
        pytest.skip(f"quality gate {name}: nothing to inspect")
    if problems and gate.severity == "error":
        listed = "\n".join(f"  {f}" for f in offenders[:WORST])
        more = f"\n  ... and {len(offenders) - WORST} more" if len(offenders) > WORST else ""
        pytest.fail(
            f"quality gate {name} ({gate.mode}): "
            + "; ".join(problems)
            + (f"\nworst offenders:\n{listed}{more}" if offenders else ""),
            pytrace=False,
        )


def _record(findings, check, proofyard_config, counted: int = 0) -> None:
    """The findings, notes beyond quality.max_notes counted but not listed (``counted``:
    those the gate only counted)."""
    notes = [f for f in findings if f.severity == "note"]
    limit = proofyard_config.config.quality.max_notes
    check.findings([f for f in findings if f.severity != "note"] + notes[:limit])
    over = max(0, len(notes) - limit) + counted
    if over:
        check.skipped("notes counted but not listed (over quality.max_notes)", over)


def _ratchet(name, report: GateReport, baselines, check, proofyard_config):
    """(problems, offenders) of a ratchet gate; each finding recorded as new or unchanged
    against the baseline (SARIF's baselineState)."""
    key = f"quality/{name}"
    baseline = baselines.guarded(lambda: baselines.store.counts(key))
    new = new_findings(report.findings, baseline) if baseline is not None else []
    fresh = {id(finding) for finding in new}
    _record(
        [
            finding
            if baseline is None
            else dataclasses.replace(
                finding, baseline_state="new" if id(finding) in fresh else "unchanged"
            )
            for finding in report.findings
        ],
        check,
        proofyard_config,
    )
    if baselines.update:
        accept = baselines.accept_new
        counts = fingerprint_counts(report.findings)
        baselines.guarded(lambda: baselines.store.ratchet_counts(key, counts, accept))
        refused = [] if accept else new
        if refused:
            listed = "\n".join(f"  {finding}" for finding in refused[:MAX_LISTED])
            pytest.fail(
                f"quality gate {name}: {len(refused)} new finding(s) not accepted into "
                f"the baseline (add --accept-new-findings to record them):\n{listed}",
                pytrace=False,
            )
        return [], []
    if baseline is None:
        pytest.skip(
            f"no baseline yet for {key} in {baselines.store.path} "
            f"({len(report.findings)} findings now); run with --update-baselines"
        )
    check.metric("new findings", len(new), threshold=0, passed=not new, gate=name)
    return ([f"{len(new)} new finding(s) against the baseline"] if new else []), new


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate(name, quality_run, target, proofyard_config, baselines, check):
    gate = getattr(proofyard_config.config.quality, name)
    if not gate.enabled:
        pytest.skip(f"quality.{name}.enabled is false")
    if name == "prints":
        gate = with_cli_files(gate, target.cli_files())
    check.metric("files analysed", quality_run.analysed, gate=name)
    check.metric("files from cache", quality_run.cached, gate=name)
    results = select(quality_run.results, gate.include, gate.exclude)
    notes = None if gate.mode == "ratchet" else proofyard_config.config.quality.max_notes
    _judge(name, gate, run_gate(name, results, gate, notes), baselines, check, proofyard_config)


def test_lint(target, quality_files, proofyard_config, baselines, check):
    gate = proofyard_config.config.quality.lint
    if not gate.enabled:
        pytest.skip("quality.lint.enabled is false")
    relative = {p.relative_to(target.root).as_posix(): p for p in quality_files}
    chosen = select(dict.fromkeys(relative), gate.include, gate.exclude)
    files, too_large = split_by_size(
        [relative[name] for name in chosen], proofyard_config.config.quality.max_file_bytes
    )
    if too_large:  # as the engine only counts them: ruff would take gigabytes on such a file
        check.skipped("files over quality.max_file_bytes (not linted)", len(too_large))
    try:
        cache = proofyard_config.resolve(proofyard_config.config.quality.cache)
        lint = run_ruff(
            target.root,
            files,
            gate.args,
            gate.severity,
            cache_dir=cache.with_name(cache.name + ".ruff"),
        )
    except LintError as exc:
        pytest.fail(f"quality gate lint: {exc}", pytrace=False)
    report = GateReport(
        {"files": lint.files},
        lint.findings,
        [Measure("ruff violations", len(lint.findings), gate.max_total)],
    )
    counts = lint.counts()
    for prefix, limit in sorted(gate.per_rule.items()):
        number = sum(n for code, n in counts.items() if code.startswith(prefix))
        report.measures.append(Measure(f"ruff {prefix} violations", number, limit))
    _judge("lint", gate, report, baselines, check, proofyard_config)


def test_coverage(target, proofyard_config, check):
    gate = proofyard_config.config.quality.coverage
    if not gate.enabled:
        pytest.skip("quality.coverage.enabled is false")
    try:
        if gate.data_file:
            totals = read_totals(proofyard_config.resolve(gate.data_file))
        elif gate.command:
            missing = proofyard_config.python.missing("coverage", "quality.coverage.command")
            if missing:
                pytest.fail(missing, pytrace=False)
            network = proofyard_config.config.network
            totals, _ = run_under_coverage(
                gate.command,
                target.root,
                gate.timeout_s,
                network.allow_hosts,
                network.isolate_subprocesses,
                proofyard_config.python.path,
            )
        else:
            pytest.fail("quality.coverage needs command or data_file", pytrace=False)
    except CoverageError as exc:
        pytest.fail(f"quality gate coverage: {exc}", pytrace=False)
    check.inspected("statements", totals.statements)
    line = Measure("line coverage", round(totals.line_percent, 2), gate.min_line, True, "%")
    measures = [line]
    if gate.min_branch is not None and totals.branch_percent is not None:
        measures.append(
            Measure("branch coverage", round(totals.branch_percent, 2), gate.min_branch, True, "%")
        )
    for measure in measures:
        check.metric(measure.name, measure.value, "%", measure.threshold, measure.passed)
    failed = [m.describe() for m in measures if not m.passed]
    check.require(not failed, Finding("quality.coverage", "; ".join(failed), context="coverage"))
