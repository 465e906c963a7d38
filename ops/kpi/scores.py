"""Weighted roll-ups of several metrics into one score, computed from the history when it
is judged (so a new score applies to every recorded run)."""

from __future__ import annotations

import dataclasses
import fnmatch
import statistics
from collections.abc import Sequence

from ops.config.observe import KpiScore
from ops.kpi.history import RunRecord


def score_of(score: KpiScore, run: RunRecord) -> float | None:
    """The weighted mean of the parts in ``run`` (each part the mean of the metrics its
    pattern matches); None unless every part matches at least one metric."""
    total = weights = 0.0
    for pattern, weight in score.parts.items():
        values = [
            float(entry["value"])
            for key, entry in run.metrics.items()
            if fnmatch.fnmatchcase(key, pattern)
        ]
        if not values:
            return None
        total += weight * statistics.fmean(values)
        weights += weight
    return total / weights


def with_scores(runs: Sequence[RunRecord], scores: Sequence[KpiScore]) -> list[RunRecord]:
    """Copies of ``runs`` with each score added as a metric where the run has its parts."""
    if not scores:
        return list(runs)
    scored = []
    for run in runs:
        copy = dataclasses.replace(run, metrics=dict(run.metrics))
        for score in scores:
            value = score_of(score, run)
            if value is not None:
                copy.metrics[score.name] = {"value": value, "unit": "", "series": []}
        scored.append(copy)
    return scored
