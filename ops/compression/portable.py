"""What also runs in the project's interpreter (``worker.py`` loads this file by path):
timing of a codec's calls, paired with a reference, and payload sizes. Standard library
only, and duck-typed where numpy would be needed: the project's environment has its own
numpy, or none."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def payload_size(payload: Any) -> int:
    """Bytes of a payload: bytes-likes, numpy arrays, ``size_of()``, or containers of those."""
    if isinstance(payload, bytes | bytearray):
        return len(payload)
    if isinstance(payload, memoryview) or _is_array(payload):
        return int(payload.nbytes)
    size_of = getattr(payload, "size_of", None)
    if callable(size_of):
        return int(size_of())
    if isinstance(payload, Mapping):
        return sum(payload_size(value) for value in payload.values())
    if isinstance(payload, list | tuple):
        return sum(payload_size(value) for value in payload)
    raise TypeError(
        f"cannot measure a payload of type {type(payload).__name__}: return bytes, "
        "a numpy array, or an object with size_of()"
    )


def _is_array(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "nbytes")


MIN_SAMPLE_S = 0.02


def _loops_for(function: Callable[[], Any], clock: Callable[[], float], min_sample_s: float) -> int:
    start = clock()
    function()
    first = clock() - start
    return max(1, int(min_sample_s / first)) if first > 0 else 1


def _sample(
    function: Callable[[], Any], loops: int, clock: Callable[[], float]
) -> tuple[Any, float]:
    result = None
    start = clock()
    for _ in range(loops):
        result = function()
    return result, (clock() - start) / loops


@dataclass(frozen=True)
class Timing:
    seconds: float  # median seconds per call
    relative: float | None  # median of (seconds per call / reference seconds per call), paired
    ratios: tuple[float, ...] = ()  # every pair's ratio: the samples the throughput gate judges
    reference_s: float | None = None  # median seconds per reference call


def timed(
    function: Callable[[], Any],
    repeats: int,
    warmup: int,
    clock: Callable[[], float] = time.thread_time,
    reference: Callable[[], Any] | None = None,
    min_sample_s: float = MIN_SAMPLE_S,
) -> tuple[Any, Timing]:
    """Time ``function``: ``warmup`` untimed calls, then ``repeats`` samples; each sample runs
    it enough times to last ``min_sample_s`` (calibrated on one call), so sub-millisecond
    codecs are not timed at the clock's noise level.

    With a ``reference``, each sample of the function is paired with a sample of the
    reference taken just before it, and the per-pair time ratios are returned (their median
    too): both see the machine in the same state, so a uniformly slower machine cancels out.

    The clock is the thread's CPU time: a codec call (tens of milliseconds on a real tensor)
    is preempted again and again on a busy machine, and wall time then measures the other
    processes; CPU time barely moves (for the single-threaded codecs here).
    """
    for _ in range(warmup):
        function()
    loops = _loops_for(function, clock, min_sample_s)
    reference_loops = _loops_for(reference, clock, min_sample_s) if reference else 0
    times, ratios, references = [], [], []
    result = None
    for _ in range(max(1, repeats)):
        if reference is not None:
            _, reference_s = _sample(reference, reference_loops, clock)
            references.append(reference_s)
        result, seconds = _sample(function, loops, clock)
        times.append(seconds)
        if reference is not None and reference_s > 0:
            ratios.append(seconds / reference_s)
    relative = statistics.median(ratios) if ratios else None
    median_reference = statistics.median(references) if references else None
    return result, Timing(statistics.median(times), relative, tuple(ratios), median_reference)


def random_input(seed: int) -> bytes:
    """One input of the lossless property check, drawn from ``seed`` alone: random and
    low-entropy bytes, runs, repeated units and edge sizes (0, 1, block boundaries)."""
    rng = random.Random(seed)
    size = rng.choice((0, 1, 2, 7, 64, 255, 256, 1023, 1024, 4096, rng.randrange(1, 16384)))
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(size)
    if kind == 1:
        return bytes([rng.randrange(256)]) * size
    if kind == 2:
        unit = rng.randbytes(rng.randrange(1, 32))
        return (unit * (size // len(unit) + 1))[:size]
    return bytes(rng.choice(b"ACGT \n") for _ in range(size))


def counterexample(codec: Any, seed: int, count: int) -> tuple[int, int, str] | None:
    """The first of ``count`` random inputs (seeds ``seed``, ``seed + 1``, ...) the codec does
    not restore exactly, as (seed, size, what happened); None when it restores them all."""
    for index in range(count):
        data = random_input(seed + index)
        try:
            restored = codec.decompress(codec.compress(data))
        except Exception as exc:  # the codec's own failure on this input is the finding
            return seed + index, len(data), f"raised {exc!r}"
        if bytes(restored) != data:
            return seed + index, len(data), "restored bytes differ"
    return None
