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
# no early stop before this many pairs: a busy VM flips between states every few tenths of
# a second to seconds, and a comparison needs MIN_ROUNDS pairs of one state on each side
EARLY_STOP = 100
SLICE = 25_000  # a quarter of the workload: a few milliseconds, paired with each sample


def _calibration_slice() -> int:
    total = 0
    for index in range(SLICE):
        total += index * index % 7
    return total


CPU = "cpu"  # the thread's CPU clock: preemption does not move it
WALL = "wall"  # the wall clock: waits (I/O, sleep, other threads) count
CPU_BOUND = 0.9  # thread CPU over wall time of an unpreempted call, for the CPU clock
# the slices before and after a sample further apart than this: the machine changed speed
# during the pair, which the calibration then does not describe (see ``paired_units``)
STEADY = 1.1


@dataclass(frozen=True)
class SamplingPlan:
    """How one sample is taken: calls of the function per sample, calibration slices
    around it (half before, half after; one at least on each side), and the clock that
    times both. A comparison reuses its baseline's plan: chosen afresh from a few noisy
    timings, the slice count differed between sessions, and so did the calibration."""

    loops: int
    slices: int
    measure: str = CPU


def choose_plan(
    function: Callable[[], Any],
    min_sample_s: float = 0.002,
    switches: Callable[[], int] | None = None,
    waits: Callable[[], int] | None = None,
) -> SamplingPlan:
    """Enough calls per sample for ``min_sample_s``, slices lasting about as long, and the
    clock: the thread's CPU time when the function keeps this thread on the CPU, wall time
    when it waits (sleep, I/O, a lock, work handed to other threads), which CPU time would
    not see. Waiting shows as the thread giving up the CPU itself (a voluntary context
    switch), which load does not cause; an unpreempted call spending under 90% of its wall
    time on the CPU waits too. (The best CPU/wall ratio alone chose wall time for pure
    integer work beside two CPU-bound processes: every call was preempted.)"""
    switches = switches or involuntary_switches
    waits = waits or voluntary_switches
    function()
    _calibration_slice()
    slice_s = statistics.median(_timed(_calibration_slice) for _ in range(3))
    calls = [_both_clocks(function, switches, waits) for _ in range(5)]
    call_s = statistics.median(call[0] for call in calls)
    loops = max(1, int(min_sample_s / call_s)) if call_s > 0 else 1
    slices = max(2, round(loops * call_s / slice_s)) if slice_s > 0 else 2
    return SamplingPlan(loops, slices, clock_for(calls))


def clock_for(calls: list[tuple[float, float, bool, bool]]) -> str:
    """WALL when a call gave up the CPU itself, or most unpreempted calls spent under
    CPU_BOUND of their wall time on it; else CPU. (One such call was not enough: beside
    three CPU-bound processes 3 of 400 unpreempted calls of pure integer work read under
    90%, the VM's stolen time, so ~4% of plans went to wall time.)"""
    if any(gave_up for *_, gave_up in calls):
        return WALL
    ratios = [cpu / wall for wall, cpu, preempted, _ in calls if not preempted and wall > 0]
    low = sum(ratio < CPU_BOUND for ratio in ratios)
    return WALL if ratios and 2 * low > len(ratios) else CPU


def _both_clocks(
    function: Callable[[], Any], switches: Callable[[], int], waits: Callable[[], int]
) -> tuple[float, float, bool, bool]:
    """Wall and thread CPU seconds of one call, whether it was preempted, and whether it
    gave up the CPU itself."""
    before, waited = switches(), waits()
    wall, cpu = time.perf_counter(), time.thread_time()
    function()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    return wall, cpu, switches() != before, waits() != waited


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def involuntary_switches() -> int:
    """How often the scheduler has taken the CPU from this thread (Linux counts per thread;
    elsewhere the process's count serves)."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_nivcsw


def voluntary_switches() -> int:
    """How often this thread has given up the CPU itself (waiting: sleep, I/O, a lock)."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_nvcsw


@dataclass(frozen=True)
class PairedSamples:
    units: list[float]  # seconds per call over seconds per calibration slice, plan's clock
    slice_s: float  # median seconds per slice
    preempted: int  # pairs during which the scheduler switched this thread out
    measure: str = CPU
    other_units: list[float] = field(default_factory=list)  # the same pairs, the other clock
    tries: int = 0  # pairs taken, kept or not
    slices: list[float] = field(default_factory=list)  # each kept pair's seconds per slice
    unsteady: int = 0  # pairs dropped: the slices before and after the call disagreed


def paired_units(
    function: Callable[[], Any],
    plan: SamplingPlan,
    rounds: int = 100,
    max_seconds: float = float("inf"),
    switches: Callable[[], int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    precision: float = 0.0,
) -> PairedSamples:
    """Samples of ``function`` in calibration units, each paired with calibration slices
    timed just before and just after it: the machine's speed changes (this VM flips between
    a fast and a slow state) hit both halves of a pair alike. A pair whose slices before and
    after disagree by more than STEADY ran while the machine changed speed, and is taken
    again (``unsteady``): on this VM, quiet, a quarter of the pairs did, and with the slices
    before the call only, such pairs spread a session's "fast state" units over 4.4-5.2
    against 4.26-4.32 in its steady state. The slices of a pair last about as long as
    the sample: with a fixed slice a quarter of a 5 ms sample, session medians of identical
    code spread by 1.45% (sd over 25 sessions), with matched lengths by 1.03%
    (``benchmarks/benchmark_gate_bench.py`` measures the effect on the verdicts).

    Both clocks time both halves; the plan's ``measure`` is judged. In the thread's CPU time
    a pair the scheduler interrupts (another process wanted the CPU) is measured as if it
    had not been, so on a busy runner every pair counts. Timed in wall time, such pairs had
    to be dropped and taken again: with two CPU-bound processes beside (load 3-4 on 2
    cores), 60-75% of pairs were, and a busy runner could only say inconclusive; that is
    what a function measured in wall time (it waits) still does. Interrupted pairs are
    counted either way (``preempted``), for the report.

    Sampling stops as ``kept_samples`` says, or once the median's interval is within
    ``precision`` (relative half-width)."""
    switches = switches or involuntary_switches
    function()
    _calibration_slice()
    interrupted = changed = 0
    wall_judged = plan.measure == WALL

    before_slices = max(1, plan.slices // 2)
    after_slices = max(1, plan.slices - before_slices)

    def take() -> tuple[tuple[float, float, float], bool]:
        nonlocal interrupted, changed
        before = switches()
        start, start_cpu = time.perf_counter(), time.thread_time()
        for _ in range(before_slices):
            _calibration_slice()
        middle, middle_cpu = time.perf_counter(), time.thread_time()
        for _ in range(plan.loops):
            function()
        after, after_cpu = time.perf_counter(), time.thread_time()
        for _ in range(after_slices):
            _calibration_slice()
        end, end_cpu = time.perf_counter(), time.thread_time()
        preempted = switches() != before
        interrupted += preempted
        wall = _units((start, middle, after, end), (before_slices, after_slices), plan.loops)
        cpu = _units(
            (start_cpu, middle_cpu, after_cpu, end_cpu), (before_slices, after_slices), plan.loops
        )
        judged, other = (wall, cpu) if wall_judged else (cpu, wall)
        unsteady = judged[2] > STEADY
        changed += unsteady
        return (judged[0], judged[1], other[0]), (preempted and wall_judged) or unsteady

    def enough(kept: list[tuple[float, float, float]]) -> bool:
        return precision > 0 and median_half_width([unit for unit, _, _ in kept]) <= precision

    kept, dropped = kept_samples(take, rounds, max_seconds, progress, enough)
    slice_s = statistics.median(s for _, s, _ in kept) if kept else math.nan
    return PairedSamples(
        [unit for unit, _, _ in kept],
        slice_s,
        interrupted,
        plan.measure,
        [other for _, _, other in kept],
        len(kept) + dropped,
        [per_slice for _, per_slice, _ in kept],
        changed,
    )


def _units(
    clock: tuple[float, float, float, float], slices: tuple[int, int], loops: int
) -> tuple[float, float, float]:
    """One pair's seconds per call over seconds per slice, its seconds per slice, and how
    far apart the slices before and after the call ran (the slower over the faster)."""
    start, middle, after, end = clock
    before_s, after_s = (middle - start) / slices[0], (end - after) / slices[1]
    per_slice = (before_s + after_s) / 2
    per_call = (after - middle) / loops
    apart = max(before_s, after_s) / min(before_s, after_s) if min(before_s, after_s) > 0 else 1.0
    return (per_call / per_slice if per_slice > 0 else math.inf), per_slice, apart


def median_half_width(values: list[float], z: float = 2.576) -> float:
    """Relative half-width of the median's distribution-free 99% interval (order
    statistics), or infinity when too few values give one."""
    n = len(values)
    if n < 10:
        return math.inf
    ordered = sorted(values)
    spread = z * math.sqrt(n) / 2
    low, high = (
        ordered[max(0, math.floor(n / 2 - spread))],
        ordered[min(n - 1, math.ceil(n / 2 + spread))],
    )
    middle = statistics.median(ordered)
    return (high - low) / 2 / middle if middle > 0 else math.inf


def kept_samples(
    take: Callable[[], tuple[T, bool]],
    rounds: int,
    max_seconds: float,
    progress: Callable[[int, int], None] | None = None,
    enough: Callable[[list[T]], bool] | None = None,
) -> tuple[list[T], int]:
    """Up to ``rounds`` results of ``take``, which also says whether the result cannot
    count (the scheduler switched a wall-clock measurement out, the machine changed speed
    during it): those are dropped and taken again. Stops after ``max_seconds`` once
    MIN_ROUNDS are kept, or once most of MIN_ROUNDS tries or more were dropped (a machine
    busy that long leaves too few, and the gate says so); after ``max(2 * rounds, 200)``
    tries; and when ``enough(kept)`` says so (asked every 10 kept, from EARLY_STOP on).
    Returns the kept results and how many were dropped."""
    kept: list[T] = []
    deadline = time.perf_counter() + max_seconds
    tries = 0
    while len(kept) < rounds and tries < max(2 * rounds, 10 * MIN_ROUNDS):
        if time.perf_counter() > deadline and _enough_past_time(len(kept), tries):
            break
        tries += 1
        result, dropped = take()
        if not dropped:
            kept.append(result)
            if progress is not None:
                progress(len(kept), rounds)
            if enough and len(kept) >= EARLY_STOP and len(kept) % 10 == 0 and enough(kept):
                break
    return kept, tries - len(kept)


def _enough_past_time(kept: int, tries: int) -> bool:
    """Past the time, a slow function stops at MIN_ROUNDS, a busy machine (most of
    MIN_ROUNDS tries or more dropped) as soon as that shows."""
    return kept >= MIN_ROUNDS or (tries >= MIN_ROUNDS and tries > 2 * kept)


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
    precision: float = 0.0,
) -> Intercepted:
    """One traced call (peak memory) and paired calibrated samples of the function, both
    outside pytest-benchmark's timing.

    tracemalloc slows Python code several times over, so it must stay off while
    pytest-benchmark times; pytest-benchmark has no hook for this, so the fixture's
    ``_raw`` and ``_raw_pedantic`` are wrapped on this one instance (when they exist).
    Sampling stops early once the median is known within ``precision`` (see
    ``paired_units``).
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
        seen.paired = paired_units(
            call, seen.plan, rounds, max_seconds, progress=progress, precision=precision
        )

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
