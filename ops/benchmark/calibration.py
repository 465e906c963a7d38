"""A fixed calibration workload, timed around each benchmark so that samples can be
expressed in calibration units: a uniformly slower machine (or session) cancels out; and
the interception of pytest-benchmark's fixture that takes those samples.

Standard library only: the project's pytest, in the project's interpreter, loads this file
by path (``project_plugin/``) to measure the project's own benchmark files."""

from __future__ import annotations

import math
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

WORK = 200_000
T = TypeVar("T")


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


def involuntary_switches() -> int:
    """How often the scheduler has taken the CPU from this thread (Linux counts per thread;
    elsewhere the process's count serves)."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_nivcsw


@dataclass(frozen=True)
class PairedSamples:
    units: list[float]  # seconds per call over seconds per calibration slice
    slice_s: float  # median seconds per slice
    preempted: int  # pairs during which the scheduler switched this thread out (kept)


def paired_units(
    function: Callable[[], Any],
    plan: SamplingPlan,
    rounds: int = 100,
    max_seconds: float = float("inf"),
    switches: Callable[[], int] | None = None,
    clock: Callable[[], float] = time.thread_time,
    progress: Callable[[int, int], None] | None = None,
) -> PairedSamples:
    """Samples of ``function`` in calibration units, each paired with calibration slices
    timed just before it: the machine's speed changes (this VM flips between a fast and a
    slow state) hit both halves of a pair alike. The slices of a pair last about as long as
    the sample: with a fixed slice a quarter of a 5 ms sample, session medians of identical
    code spread by 1.45% (sd over 25 sessions), with matched lengths by 1.03%
    (``benchmarks/benchmark_gate_bench.py`` measures the effect on the verdicts).

    Both halves are timed in the thread's CPU time (``clock``): a pair the scheduler
    interrupts (another process wanted the CPU) is measured as if it had not been, so on a
    busy runner every pair counts. Timed in wall time, such pairs had to be dropped and taken
    again: with two CPU-bound processes beside (load 3-4 on 2 cores), 60-75% of pairs were,
    and a busy runner could only say inconclusive. In CPU time under that load, two sessions
    of identical code had medians 1.1% apart and 10% more work measured +12%. Interrupted
    pairs are still counted (``preempted``), for the report.

    Sampling stops as ``kept_samples`` says."""
    switches = switches or involuntary_switches
    function()
    _calibration_slice()
    interrupted = 0

    def take() -> tuple[tuple[float, float], bool]:
        nonlocal interrupted
        before = switches()
        start = clock()
        for _ in range(plan.slices):
            _calibration_slice()
        middle = clock()
        for _ in range(plan.loops):
            function()
        end = clock()
        interrupted += switches() != before
        per_slice = (middle - start) / plan.slices
        return ((end - middle) / plan.loops / per_slice, per_slice), False

    kept, _ = kept_samples(take, rounds, max_seconds, progress)
    slice_s = statistics.median(s for _, s in kept) if kept else math.nan
    return PairedSamples([unit for unit, _ in kept], slice_s, interrupted)


def kept_samples(
    take: Callable[[], tuple[T, bool]],
    rounds: int,
    max_seconds: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[T], int]:
    """Up to ``rounds`` results of ``take``, which also says whether the scheduler switched
    the measuring thread out meanwhile: those are dropped and taken again. Stops after
    ``max_seconds`` once 20 are kept, and after ``max(2 * rounds, 200)`` tries with whatever
    was kept. Returns the kept results and how many were dropped."""
    kept: list[T] = []
    deadline = time.perf_counter() + max_seconds
    tries = 0
    while len(kept) < rounds and tries < max(2 * rounds, 10 * MIN_ROUNDS):
        if len(kept) >= MIN_ROUNDS and time.perf_counter() > deadline:
            break
        tries += 1
        result, preempted = take()
        if not preempted:
            kept.append(result)
            if progress is not None:
                progress(len(kept), rounds)
    return kept, tries - len(kept)


@dataclass
class Intercepted:
    """What proofyard measured of the benchmarked function besides pytest-benchmark."""

    peak_mb: list[float] = field(default_factory=list)
    paired: PairedSamples | None = None  # samples paired with calibration slices
    plan: SamplingPlan | None = None


def intercept(
    fixture,
    plan: SamplingPlan | None,
    rounds: int,
    max_seconds: float,
    progress: Callable[[int, int], None] | None = None,
) -> Intercepted:
    """One traced call (peak memory) and paired calibrated samples of the function, both
    outside pytest-benchmark's timing.

    tracemalloc slows Python code several times over, so it must stay off while
    pytest-benchmark times; pytest-benchmark has no hook for this, so the fixture's
    ``_raw`` and ``_raw_pedantic`` are wrapped on this one instance (when they exist).
    """
    seen = Intercepted()

    def trace(function, args, kwargs) -> None:
        tracemalloc.start()
        try:
            function(*args, **kwargs)
            seen.peak_mb.append(tracemalloc.get_traced_memory()[1] / 2**20)
        finally:
            tracemalloc.stop()

        def call():
            return function(*args, **kwargs)

        seen.plan = plan or choose_plan(call)
        seen.paired = paired_units(call, seen.plan, rounds, max_seconds, progress=progress)

    raw = getattr(fixture, "_raw", None)
    if callable(raw):

        def traced(function, *args, **kwargs):
            trace(function, args, kwargs)
            return raw(function, *args, **kwargs)

        fixture._raw = traced
    pedantic = getattr(fixture, "_raw_pedantic", None)
    if callable(pedantic):

        def traced_pedantic(target, args=(), kwargs=None, setup=None, **options):
            if setup is None:  # with a setup, each round's arguments come from it
                trace(target, args, kwargs or {})
            return pedantic(target, args=args, kwargs=kwargs, setup=setup, **options)

        fixture._raw_pedantic = traced_pedantic
    return seen
