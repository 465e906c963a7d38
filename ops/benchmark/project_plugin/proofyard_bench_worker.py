"""A pytest plugin for the project's own pytest, in the project's interpreter
(``-p proofyard_bench_worker``, this folder alone on ``PYTHONPATH``): it samples each
benchmark as the harness does in-process (``calibration.intercept``, loaded by path) and
writes what it measured to the JSON file ``$PROOFYARD_BENCH_REQUEST`` names, for the
harness to judge. Nothing but the standard library, pytest and the project's
pytest-benchmark is needed there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import statistics
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "_proofyard_calibration", os.path.join(os.path.dirname(_HERE), "calibration.py")
)
calibration = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = calibration  # dataclasses look their module up while it loads
_spec.loader.exec_module(calibration)

REQUEST: dict = {}  # read at configure time: importing this module alone does nothing
RESULTS: dict[str, dict] = {}
ITEMS: list[str] = []
EXPIRED: list[bool] = []  # it gave up waiting for the nodes to measure


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "budget(**limits): proofyard benchmark budgets")
    with open(os.environ["PROOFYARD_BENCH_REQUEST"], encoding="utf-8") as handle:
        REQUEST.update(json.load(handle))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if fixture is None:
        return (yield)
    plan = REQUEST.get("plans", {}).get(item.nodeid)
    seen = calibration.intercept(
        fixture,
        calibration.SamplingPlan(**plan) if plan else None,
        REQUEST["rounds"],
        REQUEST["max_seconds"],
        precision=REQUEST.get("precision", 0.0),
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        return (yield)
    finally:
        stats = getattr(getattr(fixture, "stats", None), "stats", None)
        budget = item.get_closest_marker("budget")
        entry = RESULTS.setdefault(item.nodeid, {})
        entry.update(
            rss_growth_mb=(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
            peak_mb=seen.peak_mb,
            budget=dict(budget.kwargs) if budget else {},
            budget_args=bool(budget and budget.args),
        )
        if stats is not None and stats.data:
            entry["median_s"] = statistics.median(float(v) for v in stats.data)
        if seen.paired is not None:
            entry.update(
                units=seen.paired.units,
                other_units=seen.paired.other_units,
                measure=seen.paired.measure,
                tries=seen.paired.tries,
                slice_s=seen.paired.slice_s,
                slices=seen.paired.slices,
                preempted=seen.paired.preempted,
                unsteady=seen.paired.unsteady,
                plan={
                    "loops": seen.plan.loops,
                    "slices": seen.plan.slices,
                    "measure": seen.plan.measure,
                },
            )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = RESULTS.setdefault(report.nodeid, {})
    if report.failed:
        entry["failed"] = f"{report.when}: {report.longreprtext[-3000:]}"
    elif report.skipped and "skipped" not in entry:
        longrepr = report.longrepr
        entry["skipped"] = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        RESULTS.setdefault(report.nodeid, {})["failed"] = (
            f"collection: {report.longreprtext[-3000:]}"
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """When the harness asked for one run (``wait_s``): say what was collected, then wait
    for the nodes to measure and their plans, and keep only those."""
    wait_s = REQUEST.get("wait_s")
    if not wait_s:
        return
    folder = os.path.dirname(REQUEST["out"])
    _write_json(
        os.path.join(folder, "collected.json"),
        {"items": [item.nodeid for item in items], "results": RESULTS},
    )
    go = os.path.join(folder, "go.json")
    deadline = time.monotonic() + wait_s
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
    told = {"nodes": [], "plans": {}}
    if os.path.exists(go):
        with open(go, encoding="utf-8") as handle:
            told = json.load(handle)
    else:
        EXPIRED.append(True)
    REQUEST["plans"] = told["plans"]
    wanted = set(told["nodes"])
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid in wanted]


def _write_json(path: str, data: object) -> None:
    """Write so that a reader sees the whole file or none."""
    with open(path + ".part", "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(path + ".part", path)


def pytest_collection_finish(session: pytest.Session) -> None:
    ITEMS.extend(item.nodeid for item in session.items)
    _progress(f"total {len(ITEMS)}")


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _progress(f"done {nodeid}")


def _progress(line: str) -> None:
    """A line for the harness's progress report, if it asked for one."""
    path = REQUEST.get("progress")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def pytest_sessionfinish(session: pytest.Session) -> None:
    _write_json(REQUEST["out"], {"items": ITEMS, "results": RESULTS, "expired": bool(EXPIRED)})
