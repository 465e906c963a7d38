"""KPI rules: bounds, status bands, a trend against earlier runs of the same job (their
median, or a least-squares slope), a success rate over the job's last runs, and "at least
N of M" over several metrics. A crashed run or one that did not report the metric is
judged, never skipped; a crashed run is never a reference."""

from __future__ import annotations

import fnmatch
import statistics
from dataclasses import dataclass, field
from typing import Literal

from ops.config.observe import Bands, KpiRule, SuccessRate, TrendRule
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
    notes: tuple[str, ...] = ()  # what was judged beside the value (band, slope, rate)
    band: str | None = None  # green, amber or red, where the rule has bands
    run: str | None = None  # the run judged

    def describe(self) -> str:
        if self.status == "no-history":
            return f"{self.metric}: no history yet"
        if self.value is None:
            return f"{self.metric}: " + "; ".join(self.problems)
        text = f"{self.metric} = {self.value:g}"
        if self.reference is not None:
            text += f" (reference {self.reference:g}, median of {len(self.runs)} earlier runs)"
        text += "".join(f"; {note}" for note in self.notes)
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
        return Verdict(
            rule.name, metric, "alert", None, problems=tuple(problems), run=current.run_id
        )
    job = [run for run in same_job(runs, current) if run.time <= current.time]
    verdict = evaluate(rule, metric, current, references(runs, current, metric), job=job)
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
        verdict.notes,
        verdict.band,
        verdict.run,
    )


def reference_band(
    rule: KpiRule, metric: str, runs: list[RunRecord]
) -> tuple[float, tuple[float, float]] | None:
    """A median trend rule's reference for ``metric`` now and the band it allows around it
    (``max_worse`` on the worse side), for drawing; None without one."""
    if rule.trend is None or rule.trend.method != "median":
        return None
    verdict = judge_latest(rule, metric, runs)
    if verdict.reference is None:
        return None
    reference = verdict.reference
    allowed = abs(reference) * rule.trend.max_worse
    if rule.trend.higher_is_better:
        return reference, (reference - allowed, reference)
    return reference, (reference, reference + allowed)


def judge_together(rule: KpiRule, runs: list[RunRecord]) -> Verdict:
    """An ``at_least`` rule: how many of the matching metrics of the newest run that has
    any are non-zero (steps that succeeded, say)."""
    keys = matching_metrics(rule, runs)
    current = next((run for run in reversed(runs) if any(k in run.metrics for k in keys)), None)
    label = f"{rule.metric} (together)"
    if current is None:
        return Verdict(rule.name, label, "no-history", None)
    values = [float(current.metrics[key]["value"]) for key in keys if key in current.metrics]
    good = sum(1 for value in values if value != 0)
    problems = []
    if current.crashed:
        problems.append(f"run {current.run_id} exited with status {current.exit_status}")
    if good < (rule.at_least or 0):
        problems.append(f"only {good} of {len(values)} are non-zero (at least {rule.at_least})")
    return Verdict(
        rule.name,
        label,
        "alert" if problems else "pass",
        float(good),
        notes=(f"{good} of {len(values)} non-zero",),
        problems=tuple(problems),
        run=current.run_id,
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
    job: list[RunRecord] = (),
) -> Verdict:
    """Judge ``current``'s value; the current run never counts toward its own reference.
    With ``at_step`` (a value in the middle of a run) the trend compares with the earlier
    runs' values at that same step, never with their final values. ``job`` is the job's
    runs up to ``current``, crashed ones included (for a success rate)."""
    entry = current.metrics.get(metric)
    if entry is None:
        return Verdict(rule.name, metric, "no-history", None)
    value = float(entry["value"])
    problems, notes = _absolute(rule, value)
    band = _band(rule.bands, value) if rule.bands else None
    if band is not None:
        notes.append(f"band {band}")
        if band == "red":
            problems.append(f"in the red band ({_band_limits(rule.bands)})")
    if rule.rate is not None:
        rate, counted = _rate(rule.rate, metric, job or [current])
        notes.append(f"success rate {rate:.0%} over {counted} run(s)")
        if rate < rule.rate.min:
            problems.append(f"success rate below {rule.rate.min:.0%}")
    reference, used = None, ()
    if rule.trend is not None:
        compared = _window(rule.trend, metric, current, earlier, at_step)
        if not compared and all(p is None for p in (rule.min, rule.max, rule.bands, rule.rate)):
            return Verdict(rule.name, metric, "no-history", value)
        used = tuple(run.run_id for run, _ in compared)
        reference, trend_notes, trend_problems = _trend(
            rule.trend, [at for _, at in compared], value
        )
        notes += trend_notes
        problems += trend_problems
    return Verdict(
        rule.name,
        metric,
        "alert" if problems else "pass",
        value,
        reference,
        used,
        tuple(problems),
        tuple(notes),
        band,
        current.run_id,
    )


def _absolute(rule: KpiRule, value: float) -> tuple[list[str], list[str]]:
    """(problems, notes) of the bounds."""
    problems = []
    if rule.min is not None and value < rule.min:
        problems.append(f"below the minimum {rule.min:g}")
    if rule.max is not None and value > rule.max:
        problems.append(f"above the maximum {rule.max:g}")
    return problems, []


def _trend(
    trend: TrendRule, values: list[float], value: float
) -> tuple[float | None, list[str], list[str]]:
    """(reference, notes, problems) of a trend over the earlier ``values``."""
    if trend.method == "slope":
        note, problem = _slope(trend, values, value)
        return None, [note] if note else [], [problem] if problem else []
    if not values:
        return None, [], []
    reference = statistics.median(values)
    return reference, [], _against_median(trend, value, reference)


def _window(
    trend: TrendRule,
    metric: str,
    current: RunRecord,
    earlier: list[RunRecord],
    at_step: float | None,
) -> list[tuple[RunRecord, float]]:
    """The earlier runs in the trend's window, each with the value it is compared by."""
    window = [
        run
        for run in earlier
        if run.run_id != current.run_id
        and metric in run.metrics
        and 0 <= current.time - run.time <= trend.days * 86400
    ][-trend.runs :]
    return [(run, at) for run in window if (at := _reference(run, metric, at_step)) is not None]


def _against_median(trend: TrendRule, value: float, reference: float) -> list[str]:
    change = (value - reference) / abs(reference) if reference else 0.0
    worse = -change if trend.higher_is_better else change
    if worse > trend.max_worse:
        return [f"{worse:.1%} worse than the reference (allowed {trend.max_worse:.0%})"]
    return []


def _band(bands: Bands, value: float) -> str:
    better = (lambda a, b: a >= b) if bands.higher_is_better else (lambda a, b: a <= b)
    if better(value, bands.green):
        return "green"
    return "amber" if better(value, bands.amber) else "red"


def _band_limits(bands: Bands) -> str:
    sense = "≥" if bands.higher_is_better else "≤"
    return f"green {sense} {bands.green:g}, amber {sense} {bands.amber:g}"


def _rate(rule: SuccessRate, metric: str, job: list[RunRecord]) -> tuple[float, int]:
    """The mean of ``metric`` over the job's last ``rule.runs`` runs; a run that did not
    report it (crashed early, say) counts as a failure."""
    window = job[-rule.runs :]
    values = [
        float(run.metrics[metric]["value"]) if metric in run.metrics else 0.0 for run in window
    ]
    return statistics.fmean(values), len(values)


def _slope(trend: TrendRule, earlier: list[float], value: float) -> tuple[str | None, str | None]:
    """The least-squares slope through the earlier values and the current one, per run and
    relative to their mean; (note, problem). Needs three points."""
    values = [*earlier, value]
    if len(values) < 3:
        return f"slope needs 3 runs, has {len(values)}", None
    fit = statistics.linear_regression(range(len(values)), values)
    mean = statistics.fmean(values)
    relative = fit.slope / abs(mean) if mean else 0.0
    worse = -relative if trend.higher_is_better else relative
    note = f"slope {relative:+.1%} per run over {len(values)} runs"
    if worse > trend.max_worse:
        return note, f"drifting {worse:.1%} per run for the worse (allowed {trend.max_worse:.0%})"
    return note, None
