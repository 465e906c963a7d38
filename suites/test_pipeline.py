"""Pipeline suite: each configured pipeline runs once; each step is an item."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.config import loaded_config
from ops.findings import Finding
from ops.pipeline.runner import failed_upstream

pytestmark = pytest.mark.pipeline


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pipeline_step" in metafunc.fixturenames:
        pipelines = loaded_config(metafunc.config).config.pipelines
        params = [
            pytest.param((name, step.name), id=f"{name}::{step.name}")
            for name, pipeline in sorted(pipelines.items())
            for step in pipeline.steps
        ]
        metafunc.parametrize(
            "pipeline_step",
            params
            or [
                pytest.param(
                    None, marks=pytest.mark.skip(reason="no pipelines configured"), id="none"
                )
            ],
        )


def test_step(pipeline_step, pipeline_run, proofyard_config, check):
    name, step = pipeline_step
    result = pipeline_run(name)
    check.require(
        "error" not in result,
        Finding("pipeline.invalid", f"pipeline {name}: {result.get('error')}", context=name),
    )
    status = result["statuses"].get(step, "not-run")
    check.inspected("steps")
    if status == "up-to-date":
        pytest.skip(f"{name}::{step} is up to date")
    if status in ("skipped", "not-run"):
        pipeline = proofyard_config.config.pipelines[name]
        upstream = failed_upstream(pipeline, step, result["statuses"]) or ["an earlier step"]
        pytest.skip(f"{name}::{step} did not run: {', '.join(upstream)} failed")
    log = result.get("logs", {}).get(step)
    tail = Path(log).read_text(encoding="utf-8")[-3000:] if log and Path(log).exists() else ""
    check.require(
        status == "succeeded",
        Finding(
            "pipeline.step",
            f"{name}::{step} {status} after {result['attempts'].get(step, 0)} "
            f"attempt(s): {result['details'].get(step, '')}\n--- log ({log}) ---\n{tail}",
            context=f"{name}::{step}",
        ),
    )
