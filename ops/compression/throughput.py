"""Throughput judged like a benchmark: a case's paired time ratios (the codec's CPU time over
the reference codec's, pair by pair) against its baseline's ratios, by the benchmark gate's
bootstrap interval and minimum effect. A uniformly slower or busier machine moves both
halves of every pair; what is left is the codec's own speed."""

from __future__ import annotations

from collections.abc import Sequence

from ops.benchmark.stats import Comparison, compare
from ops.benchmark.store import BenchmarkStore

METHOD = "paired-reference-cpu/1"  # a baseline taken another way is not compared with
DIRECTIONS = ("compress", "decompress")


def judge(
    store: BenchmarkStore,
    key: str,
    samples: Sequence[float],
    reference_s: float | None,
    *,
    machine: str,
    commit: str | None,
    update: bool,
    min_effect: float,
    confidence: float = 0.99,
) -> Comparison | None:
    """The verdict of ``samples`` against the stored baseline of ``key`` (None: there is no
    comparable one); the run joins the history, and becomes the baseline with ``update``."""
    saved, _ = store.baseline(key, machine)
    store.save(key, machine, list(samples), reference_s or 1.0, commit, update, None, METHOD)
    if saved is None or saved.method != METHOD:
        return None
    # the minimum effect (compression.throughput_regression, 25%) stands for what one
    # session cannot see: identical code measured here 19% apart in two sessions (a
    # memory-bound codec runs at another speed relative to the reference in another process)
    return compare(
        samples,
        saved.samples,
        min_effect=min_effect,
        noise_floor_s=0.0,
        confidence=confidence,
        baseline_scale=saved.calibration_s,
    )
