"""KPI suite: every rule on every matching metric of the latest recorded run."""

from __future__ import annotations

import pytest

from fixtures.config import loaded_config
from ops.findings import Finding
from ops.kpi.cli import history_of
from ops.kpi.rules import judge_latest, judge_together, matching_metrics
from ops.kpi.scores import with_scores

pytestmark = pytest.mark.kpi
TOGETHER = "*together*"  # an at_least rule: one item for all its metrics


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kpi_case" not in metafunc.fixturenames:
        return
    loaded = loaded_config(metafunc.config)
    history = history_of(loaded)
    runs = with_scores(history.runs(), loaded.config.kpi.scores)
    params = [
        pytest.param(("corrupt", path), id=f"history:{path.name}") for path in history.corrupt()
    ]
    for rule in loaded.config.kpi.rules:
        keys = matching_metrics(rule, runs)
        if rule.at_least is not None and keys:
            params.append(pytest.param((rule, TOGETHER), id=f"{rule.name}:together"))
            continue
        params += [pytest.param((rule, key), id=f"{rule.name}:{key}") for key in keys]
        if not keys:
            params.append(pytest.param((rule, None), id=f"{rule.name}:none"))
    metafunc.parametrize(
        "kpi_case",
        params
        or [
            pytest.param(None, marks=pytest.mark.skip(reason="no kpi.rules configured"), id="none")
        ],
    )


def test_kpi(kpi_case, proofyard_config, check):
    rule, metric = kpi_case
    history = history_of(proofyard_config)
    if rule == "corrupt":
        moved = history.quarantine(metric)
        where = f"moved aside to {moved.name}" if moved else "already moved aside"
        check.require(
            False,
            Finding(
                "kpi.corrupt-history",
                f"{metric}: not a readable run record; {where}, the rules judge the other runs",
                str(metric),
            ),
        )
    runs = with_scores(history.runs(), proofyard_config.config.kpi.scores)
    if metric is None:
        pytest.skip(
            f"rule {rule.name}: no history yet (no recorded metric matches {rule.metric!r})"
        )
    together = metric == TOGETHER
    verdict = judge_together(rule, runs) if together else judge_latest(rule, metric, runs)
    if verdict.status == "no-history":
        pytest.skip(f"rule {rule.name}: {metric}: no history yet to compare with")
    check.inspected("runs", 1 + len(verdict.runs))
    if verdict.value is not None:
        check.metric(
            verdict.metric,
            verdict.value,
            threshold=verdict.reference,
            passed=verdict.status == "pass",
            rule=rule.name,
            run=verdict.run,
        )
    check.require(
        verdict.status == "pass",
        Finding(
            "kpi.alert",
            f"rule {rule.name}: {verdict.describe()}; current run {verdict.run}"
            + (f"; reference runs {', '.join(verdict.runs)}" if verdict.runs else ""),
            context=f"{rule.name}:{metric}",
        ),
    )
