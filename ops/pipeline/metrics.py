"""A pipeline run as a KPI run record: per-step figures and the run's success counts, so
``kpi.rules`` can hold "at least N of M steps succeeded" or a step's success rate."""

from __future__ import annotations

from pathlib import Path

from ops.kpi.history import RunRecord, new_run
from ops.pipeline.runner import RunResult

RAN = ("succeeded", "failed")  # the statuses of a step that ran this time


def pipeline_record(name: str, result: RunResult, exit_status: int, root: Path) -> RunRecord:
    """``step_succeeded{step=S}`` (1 or 0), ``step_seconds`` / ``step_peak_rss_mb`` /
    ``step_cpu_s`` for each step that ran, and ``steps_succeeded``, ``steps_ran``,
    ``step_success_rate`` for the run; the job is the pipeline's name."""
    record = new_run("pipeline", root, job=f"pipeline {name}")
    record.exit_status = exit_status
    ran = {step: status for step, status in result.statuses.items() if status in RAN}
    for step, status in sorted(ran.items()):
        tags = {"step": step}
        record.add("step_succeeded", 1.0 if status == "succeeded" else 0.0, tags=tags)
        for figure, value in sorted(result.figures.get(step, {}).items()):
            unit = "MB" if figure.endswith("_mb") else "s"
            record.add(f"step_{figure}", value, tags=tags, unit=unit)
    succeeded = sum(1 for status in ran.values() if status == "succeeded")
    record.add("steps_succeeded", succeeded)
    record.add("steps_ran", len(ran))
    if ran:
        record.add("step_success_rate", succeeded / len(ran))
    return record
