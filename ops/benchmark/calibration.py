"""A fixed calibration workload, timed around each benchmark so that samples can be
expressed in calibration units: a uniformly slower machine (or session) cancels out."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WORK = 200_000


def calibration_workload() -> int:
    """Pure-Python integer work, no allocation growth, no I/O: about 10 ms here."""
    total = 0
    for index in range(WORK):
        total += index * index % 7
    return total


def measure_calibration(rounds: int = 5) -> float:
    """Median seconds of the workload over ``rounds`` runs (after one warm-up)."""
    calibration_workload()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        calibration_workload()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


MIN_ROUNDS = 20
SLICE = 25_000  # a quarter of the workload: a few milliseconds, paired with each sample


def _calibration_slice() -> int:
    total = 0
    for index in range(SLICE):
        total += index * index % 7
    return total


@dataclass(frozen=True)
class SamplingPlan:
    """How one sample is taken: calls of the function per sample, calibration slices
    before it. A comparison reuses its baseline's plan: chosen afresh from a few noisy
    timings, the slice count differed between sessions, and so did the calibration."""

    loops: int
    slices: int


def choose_plan(function: Callable[[], Any], min_sample_s: float = 0.002) -> SamplingPlan:
    """Enough calls per sample for ``min_sample_s``, and slices lasting about as long."""
    function()
    _calibration_slice()
    slice_s = statistics.median(_timed(_calibration_slice) for _ in range(3))
    call_s = statistics.median(_timed(function) for _ in range(3))
    loops = max(1, int(min_sample_s / call_s)) if call_s > 0 else 1
    slices = max(1, round(loops * call_s / slice_s)) if slice_s > 0 else 1
    return SamplingPlan(loops, slices)


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def paired_units(
    function: Callable[[], Any],
    plan: SamplingPlan,
    rounds: int = 100,
    max_seconds: float = float("inf"),
) -> tuple[list[float], float]:
    """Samples of ``function`` in calibration units, each paired with calibration slices
    timed just before it: the machine's speed changes (this VM flips between a fast and a
    slow state) hit both halves of a pair alike. The slices of a pair last about as long as
    the sample: with a fixed slice a quarter of a 5 ms sample, session medians of identical
    code spread by 1.45% (sd over 25 sessions), with matched lengths by 1.03%
    (``benchmarks/benchmark_gate_bench.py`` measures the effect on the verdicts).
    Sampling stops after ``max_seconds`` once 20 samples are taken (a slow function).
    Returns the units and the seconds per slice."""
    function()
    _calibration_slice()
    units, slice_times = [], []
    deadline = time.perf_counter() + max_seconds
    for _ in range(rounds):
        if len(units) >= MIN_ROUNDS and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        for _ in range(plan.slices):
            _calibration_slice()
        middle = time.perf_counter()
        for _ in range(plan.loops):
            function()
        end = time.perf_counter()
        per_slice = (middle - start) / plan.slices
        slice_times.append(per_slice)
        units.append((end - middle) / plan.loops / per_slice)
    return units, statistics.median(slice_times)
