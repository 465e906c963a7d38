"""Benchmark suite: the project's own benchmark files (``benchmark.paths``, run by its
pytest in its interpreter) and the callables from the config, measured by pytest-benchmark
and gated by fixtures/benchmarking.py."""

from __future__ import annotations

import importlib

import pytest

from fixtures.benchmarking import gate_project_benchmark, project_benchmark_params
from fixtures.config import loaded_config

pytestmark = pytest.mark.benchmark


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "declared" in metafunc.fixturenames:
        callables = loaded_config(metafunc.config).config.benchmark.callables
        metafunc.parametrize(
            "declared",
            [pytest.param(c, id=c.name) for c in callables]
            or [
                pytest.param(
                    None, marks=pytest.mark.skip(reason="no benchmark.callables"), id="none"
                )
            ],
        )
    if "project_benchmark" in metafunc.fixturenames:
        metafunc.parametrize("project_benchmark", project_benchmark_params(metafunc.config))


def _resolve(spec: str):
    module, _, attr = spec.partition(":")
    target = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def test_project_benchmark(project_benchmark, project_benchmark_run, request):
    gate_project_benchmark(request.node, project_benchmark, project_benchmark_run)


def test_declared_callable(declared, benchmark, benchmark_extras, proofyard_config):
    if not proofyard_config.python.own:
        pytest.fail(
            f"benchmark.callables[{declared.name}]: callables are measured in the harness's "
            f"interpreter, and this project runs in its own ({proofyard_config.python.path}); "
            "write the benchmark as a pytest-benchmark test under benchmark.paths instead",
            pytrace=False,
        )
    function = _resolve(declared.call)
    if declared.setup:
        setup = _resolve(declared.setup)
        benchmark.pedantic(function, setup=setup, rounds=20)
    else:
        benchmark(function, *declared.args, **declared.kwargs)
    benchmark_extras(declared)
