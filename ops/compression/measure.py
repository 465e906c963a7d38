"""Measure one (codec, dataset) case: ratio, bits per value, throughput, fidelity."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ops.compression.codecs import payload_size
from ops.compression.datasets import nbytes


@dataclass(frozen=True)
class CaseResult:
    original_bytes: int
    payload_bytes: int
    values: int
    compress_s: float  # median of repeats
    decompress_s: float
    exact: bool
    fidelity: dict[str, float] = field(default_factory=dict)
    compress_norm: float | None = None  # throughput as a multiple of the reference codec's
    decompress_norm: float | None = None

    @property
    def ratio(self) -> float:
        return self.original_bytes / self.payload_bytes if self.payload_bytes else float("inf")

    @property
    def bits_per_value(self) -> float:
        return 8 * self.payload_bytes / self.values

    @property
    def compress_mb_s(self) -> float:
        return self.original_bytes / 1e6 / self.compress_s if self.compress_s else float("inf")

    @property
    def decompress_mb_s(self) -> float:
        return self.original_bytes / 1e6 / self.decompress_s if self.decompress_s else float("inf")

    def metrics(self) -> list[tuple[str, float, str]]:
        """(name, value, unit) of every figure measured."""
        return [
            ("ratio", self.ratio, "x"),
            ("bits_per_value", self.bits_per_value, "bit"),
            ("compress_mb_s", self.compress_mb_s, "MB/s"),
            ("decompress_mb_s", self.decompress_mb_s, "MB/s"),
            *((key, value, "") for key, value in self.fidelity.items()),
        ]

    def as_row(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ratio": self.ratio,
            "bits_per_value": self.bits_per_value,
            "compress_mb_s": self.compress_mb_s,
            "decompress_mb_s": self.decompress_mb_s,
        }


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


def timed(
    function: Callable[[], Any],
    repeats: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
    reference: Callable[[], Any] | None = None,
    min_sample_s: float = MIN_SAMPLE_S,
) -> tuple[Any, Timing]:
    """Time ``function``: ``warmup`` untimed calls, then ``repeats`` samples; each sample runs
    it enough times to last ``min_sample_s`` (calibrated on one call), so sub-millisecond
    codecs are not timed at the clock's noise level.

    With a ``reference``, each sample of the function is paired with a sample of the
    reference taken just before it, and the median of the per-pair time ratios is returned:
    both see the machine in the same state, so a uniformly slower machine cancels out.
    """
    for _ in range(warmup):
        function()
    loops = _loops_for(function, clock, min_sample_s)
    reference_loops = _loops_for(reference, clock, min_sample_s) if reference else 0
    times, ratios = [], []
    result = None
    for _ in range(max(1, repeats)):
        if reference is not None:
            _, reference_s = _sample(reference, reference_loops, clock)
        result, seconds = _sample(function, loops, clock)
        times.append(seconds)
        if reference is not None and reference_s > 0:
            ratios.append(seconds / reference_s)
    relative = statistics.median(ratios) if ratios else None
    return result, Timing(statistics.median(times), relative)


def fidelity(original: np.ndarray, restored: np.ndarray) -> dict[str, float]:
    """Error measures of a lossy round trip."""
    a = np.asarray(original, dtype=np.float64).ravel()
    b = np.asarray(restored, dtype=np.float64).ravel()
    error = a - b
    signal = float(np.dot(a, a))
    noise = float(np.dot(error, error))
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return {
        "mse": noise / a.size,
        "max_abs_error": float(np.abs(error).max()) if a.size else 0.0,
        "rel_frobenius": (noise**0.5) / (signal**0.5) if signal else 0.0,
        "cosine": float(np.dot(a, b)) / norms if norms else 1.0,
        "snr_db": 10 * np.log10(signal / noise) if noise else float("inf"),
    }


def same(original: Any, restored: Any) -> bool:
    if isinstance(original, np.ndarray):
        return (
            isinstance(restored, np.ndarray)
            and restored.dtype == original.dtype
            and restored.shape == original.shape
            and np.array_equal(original, restored)
        )
    return (
        bytes(original) == bytes(restored)
        if isinstance(restored, bytes | bytearray | memoryview)
        else False
    )


@dataclass(frozen=True)
class Reference:
    """A reference codec and its input: throughput is normalised by its throughput."""

    codec: Any
    data: Any

    @property
    def size(self) -> int:
        return nbytes(self.data)


def measure(
    codec: Any,
    data: Any,
    *,
    lossless: bool,
    repeats: int = 5,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    reference: Reference | None = None,
) -> CaseResult:
    """Ratio, throughput (median of repeats after warm-up) and fidelity of one case."""
    ref_compress = ref_decompress = None
    if reference is not None:
        ref_payload = reference.codec.compress(reference.data)
        ref_compress = lambda: reference.codec.compress(reference.data)  # noqa: E731
        ref_decompress = lambda: reference.codec.decompress(ref_payload)  # noqa: E731
    payload, compress = timed(lambda: codec.compress(data), repeats, warmup, clock, ref_compress)
    restored, decompress = timed(
        lambda: codec.decompress(payload), repeats, warmup, clock, ref_decompress
    )
    values = int(data.size) if isinstance(data, np.ndarray) else len(data)
    exact = same(data, restored)
    scores = {} if lossless or not isinstance(data, np.ndarray) else fidelity(data, restored)

    def norm(timing: Timing) -> float | None:
        # (bytes / t) / (reference bytes / reference t) = bytes / reference bytes / (t / ref t)
        if reference is None or not timing.relative:
            return None
        return nbytes(data) / reference.size / timing.relative

    return CaseResult(
        nbytes(data),
        payload_size(payload),
        values,
        compress.seconds,
        decompress.seconds,
        exact,
        scores,
        norm(compress),
        norm(decompress),
    )
