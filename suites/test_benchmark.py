"""Benchmark suite: the harness's own hot paths and the callables from the config, measured
by pytest-benchmark and gated by fixtures/benchmarking.py."""

from __future__ import annotations

import importlib

import pytest

from fixtures.config import loaded_config
from ops.docs.parse import parse_markdown
from ops.findings import Finding
from ops.quality.analysis import analyse

pytestmark = pytest.mark.benchmark

SOURCE = "".join(
    f"def f{i}(x, y):\n    if x > {i}:\n        return x * y\n    return y\n" for i in range(200)
).encode()
MARKDOWN = "".join(
    f"## Section {i}\n\nSee [next](#section-{i + 1}) and [file](f{i}.md).\n\n" for i in range(200)
)


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


def _resolve(spec: str):
    module, _, attr = spec.partition(":")
    target = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def test_quality_analysis_of_a_module(benchmark):
    result = benchmark(analyse, "bench.py", SOURCE)
    assert len(result.functions) == 200


def test_markdown_link_extraction(benchmark, tmp_path):
    doc = benchmark(parse_markdown, tmp_path / "a.md", MARKDOWN)
    assert len(doc.links) == 400


def test_finding_fingerprints(benchmark):
    findings = [Finding("rule", f"message {i}", "a.py", i, context=f"f{i}") for i in range(500)]
    assert len(benchmark(lambda: {Finding(**vars(f)).fingerprint for f in findings})) == 500


def test_declared_callable(declared, benchmark, benchmark_extras):
    function = _resolve(declared.call)
    if declared.setup:
        setup = _resolve(declared.setup)
        benchmark.pedantic(function, setup=setup, rounds=20)
    else:
        benchmark(function, *declared.args, **declared.kwargs)
    benchmark_extras(declared)
