"""Trend charts across runs, and step-wise series within a run."""

from __future__ import annotations

import re
import time
from pathlib import Path

from ops.atomic import write_atomic
from ops.charts import Point, scatter
from ops.kpi.history import RunRecord


def trend_svg(
    metric: str,
    runs: list[RunRecord],
    reference: tuple[float, tuple[float, float]] | None = None,
) -> str | None:
    """The metric in every run that has it, each run labelled by its commit (or time); with
    ``reference`` (a trend rule's median and the band it allows) both drawn across."""
    having = [run for run in runs if metric in run.metrics]
    points = [
        Point(index, float(run.metrics[metric]["value"]), run.run_id, metric)
        for index, run in enumerate(having)
    ]
    unit = next((run.metrics[metric].get("unit") for run in having), "") or ""
    return scatter(
        points,
        title=f"{metric} across runs",
        x_label="run (commit, oldest first)",
        y_label=f"{metric} ({unit})" if unit else metric,
        lines=True,
        x_ticks=run_ticks(having),
        baseline=reference[0] if reference else None,
        band=reference[1] if reference else None,
        band_label="allowed by the trend rule",
    )


def run_ticks(runs: list[RunRecord]) -> list[tuple[int, str]]:
    """At most a dozen x labels: each run's commit, or its time when it has none."""
    step = max(1, len(runs) // 12)
    return [
        (index, (run.commit or "")[:7] or time.strftime("%m-%d %H:%M", time.localtime(run.time)))
        for index, run in enumerate(runs)
        if index % step == 0
    ]


def steps_svg(metric: str, run: RunRecord) -> str | None:
    series = run.metrics.get(metric, {}).get("series") or []
    if not series:
        return None
    points = [Point(step, value, f"step {step:g}", metric) for step, value in series]
    return scatter(
        points, title=f"{metric} in run {run.run_id}", x_label="step", y_label=metric, lines=True
    )


def safe_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", metric).strip("_")[:120] or "metric"


def write_trends(
    folder: Path,
    runs: list[RunRecord],
    metrics: list[str],
    references: dict[str, tuple[float, tuple[float, float]] | None] | None = None,
) -> list[Path]:
    written = []
    for metric in metrics:
        svg = trend_svg(metric, runs, (references or {}).get(metric))
        if svg is not None:
            path = folder / f"kpi-{safe_name(metric)}.svg"
            write_atomic(path, svg)
            written.append(path)
    return written
