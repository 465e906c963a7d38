"""KPI rules: absolute bounds and a trend against the median of earlier runs."""

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
        text = f"{self.metric} = {self.value:g}"
        if self.reference is not None:
            text += f" (reference {self.reference:g}, median of {len(self.runs)} earlier runs)"
        return text + (": " + "; ".join(self.problems) if self.problems else ": ok")


def matching_metrics(rule: KpiRule, runs: list[RunRecord]) -> list[str]:
    keys = sorted({key for run in runs for key in run.metrics})
    return [key for key in keys if fnmatch.fnmatchcase(key, rule.metric)]


def evaluate(rule: KpiRule, metric: str, current: RunRecord, earlier: list[RunRecord]) -> Verdict:
    """Judge ``current``'s value; the current run never counts toward its own reference."""
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
        if not window and rule.min is None and rule.max is None:
            return Verdict(rule.name, metric, "no-history", value)
        if window:
            reference = statistics.median(float(r.metrics[metric]["value"]) for r in window)
            used = tuple(r.run_id for r in window)
            change = (value - reference) / abs(reference) if reference else 0.0
            worse = -change if rule.trend.higher_is_better else change
            if worse > rule.trend.max_worse:
                problems.append(
                    f"{worse:.1%} worse than the reference (allowed {rule.trend.max_worse:.0%})"
                )
    return Verdict(
        rule.name, metric, "alert" if problems else "pass", value, reference, used, tuple(problems)
    )
