"""KPI rules: absolute bounds and a trend against the median of earlier runs of the same
job; a crashed run or one that did not report the metric is judged, never skipped."""

from __future__ import annotations

import fnmatch
import statistics
from dataclasses import dataclass, field
from typing import Literal

from ops.config.schema import KpiRule
from ops.kpi.history import RunRecord


@dataclass(frozen=True)
class Verdict:
    rule: str
    metric: str
    status: Literal["pass", "alert", "no-history"]
    value: float | None
    reference: float | None = None
    runs: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        if self.status == "no-history":
            return f"{self.metric}: no history yet"
        if self.value is None:
            return f"{self.metric}: " + "; ".join(self.problems)
        text = f"{self.metric} = {self.value:g}"
        if self.reference is not None:
            text += f" (reference {self.reference:g}, median of {len(self.runs)} earlier runs)"
        return text + (": " + "; ".join(self.problems) if self.problems else ": ok")


def matching_metrics(rule: KpiRule, runs: list[RunRecord]) -> list[str]:
    keys = sorted({key for run in runs for key in run.metrics})
    return [key for key in keys if fnmatch.fnmatchcase(key, rule.metric)]


def same_job(runs: list[RunRecord], like: RunRecord) -> list[RunRecord]:
    """The runs of ``like``'s job (a watched command), or ``[like]`` for a run of no job
    (a pytest session measures whatever was selected: its runs are not comparable as a job)."""
    if not like.job:
        return [like]
    return [run for run in runs if run.source == like.source and run.job == like.job]


def references(runs: list[RunRecord], current: RunRecord, metric: str) -> list[RunRecord]:
    """Earlier runs that may serve as ``current``'s reference for ``metric``: older, not
    ``current`` itself, not crashed, and of the same job when ``current`` has one."""
    return [
        run
        for run in runs
        if run.run_id != current.run_id
        and run.time <= current.time
        and metric in run.metrics
        and not run.crashed
        and (not current.job or (run.source, run.job) == (current.source, current.job))
    ]


def current_run(runs: list[RunRecord], metric: str) -> RunRecord | None:
    """The run a rule judges: the newest run of the job that last reported ``metric``,
    whether or not it reported it this time (a crashed run that emitted nothing is the
    current run, never the older one that had the metric)."""
    latest = next((run for run in reversed(runs) if metric in run.metrics), None)
    return same_job(runs, latest)[-1] if latest is not None else None


def judge_latest(rule: KpiRule, metric: str, runs: list[RunRecord]) -> Verdict:
    """``rule`` on ``metric`` in its current run, against that run's references."""
    current = current_run(runs, metric)
    if current is None:
        return Verdict(rule.name, metric, "no-history", None)
    problems = []
    if current.crashed:
        problems.append(f"run {current.run_id} exited with status {current.exit_status}")
    if metric not in current.metrics:
        problems.append(f"run {current.run_id} did not report {metric}")
        return Verdict(rule.name, metric, "alert", None, problems=tuple(problems))
    verdict = evaluate(rule, metric, current, references(runs, current, metric))
    if not problems:
        return verdict
    return Verdict(
        rule.name,
        metric,
        "alert",
        verdict.value,
        verdict.reference,
        verdict.runs,
        (*problems, *verdict.problems),
    )


def value_at(run: RunRecord, metric: str, step: float) -> float | None:
    """``run``'s value of ``metric`` at ``step`` (its last value at or before it); None when
    the run has no steps or never reached ``step``."""
    series = run.metrics.get(metric, {}).get("series") or []
    if not series or series[-1][0] < step:
        return None
    before = [value for at, value in series if at <= step]
    return float(before[-1]) if before else None


def _reference(run: RunRecord, metric: str, at_step: float | None) -> float | None:
    if at_step is None:
        return float(run.metrics[metric]["value"])
    return value_at(run, metric, at_step)


def evaluate(
    rule: KpiRule,
    metric: str,
    current: RunRecord,
    earlier: list[RunRecord],
    at_step: float | None = None,
) -> Verdict:
    """Judge ``current``'s value; the current run never counts toward its own reference.
    With ``at_step`` (a value in the middle of a run) the trend compares with the earlier
    runs' values at that same step, never with their final values."""
    entry = current.metrics.get(metric)
    if entry is None:
        return Verdict(rule.name, metric, "no-history", None)
    value = float(entry["value"])
    problems = []
    if rule.min is not None and value < rule.min:
        problems.append(f"below the minimum {rule.min:g}")
    if rule.max is not None and value > rule.max:
        problems.append(f"above the maximum {rule.max:g}")
    reference, used = None, ()
    if rule.trend is not None:
        window = [
            run
            for run in earlier
            if run.run_id != current.run_id
            and metric in run.metrics
            and 0 <= current.time - run.time <= rule.trend.days * 86400
        ]
        window = window[-rule.trend.runs :]
        compared = [
            (run, at) for run in window if (at := _reference(run, metric, at_step)) is not None
        ]
        if not compared and rule.min is None and rule.max is None:
            return Verdict(rule.name, metric, "no-history", value)
        if compared:
            reference = statistics.median(at for _, at in compared)
            used = tuple(run.run_id for run, _ in compared)
            change = (value - reference) / abs(reference) if reference else 0.0
            worse = -change if rule.trend.higher_is_better else change
            if worse > rule.trend.max_worse:
                problems.append(
                    f"{worse:.1%} worse than the reference (allowed {rule.trend.max_worse:.0%})"
                )
    return Verdict(
        rule.name, metric, "alert" if problems else "pass", value, reference, used, tuple(problems)
    )
