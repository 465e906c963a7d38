"""The harness's own hot paths, as benchmarks of the self-target (``benchmark.paths`` in
proofyard.yaml): a user's project runs its own benchmark files instead."""

from __future__ import annotations

from ops.docs.parse import parse_markdown
from ops.findings import Finding
from ops.quality.analysis import analyse

SOURCE = "".join(
    f"def f{i}(x, y):\n    if x > {i}:\n        return x * y\n    return y\n" for i in range(200)
).encode()
MARKDOWN = "".join(
    f"## Section {i}\n\nSee [next](#section-{i + 1}) and [file](f{i}.md).\n\n" for i in range(200)
)


def test_quality_analysis_of_a_module(benchmark):
    result = benchmark(analyse, "bench.py", SOURCE)
    assert len(result.functions) == 200


def test_markdown_link_extraction(benchmark, tmp_path):
    doc = benchmark(parse_markdown, tmp_path / "a.md", MARKDOWN)
    assert len(doc.links) == 400


def test_finding_fingerprints(benchmark):
    findings = [Finding("rule", f"message {i}", "a.py", i, context=f"f{i}") for i in range(500)]
    assert len(benchmark(lambda: {Finding(**vars(f)).fingerprint for f in findings})) == 500
