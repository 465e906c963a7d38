"""Measure one (codec, dataset) case: ratio, bits per value, throughput, fidelity."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.compression.datasets import nbytes
from ops.compression.portable import Timing, payload_size, timed
from ops.lazy import lazy_module

np = lazy_module("numpy")


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
    lossless: bool = False  # judged as a lossless codec (exact round trip required)
    # time ratios to the reference, one per pair: what the throughput gate compares
    compress_samples: tuple[float, ...] = ()
    decompress_samples: tuple[float, ...] = ()
    reference_s: float | None = None  # median CPU seconds of one reference compress call

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
        row = asdict(self)
        for samples in ("compress_samples", "decompress_samples"):
            row.pop(samples)
        return {
            **row,
            "ratio": self.ratio,
            "bits_per_value": self.bits_per_value,
            "compress_mb_s": self.compress_mb_s,
            "decompress_mb_s": self.decompress_mb_s,
        }


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
    clock: Callable[[], float] = time.thread_time,
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
    return case_result(
        data,
        payload_size(payload),
        restored,
        compress,
        decompress,
        lossless=lossless,
        reference_size=reference.size if reference is not None else None,
    )


def case_result(
    data: Any,
    payload_bytes: int,
    restored: Any,
    compress: Timing,
    decompress: Timing,
    *,
    lossless: bool,
    reference_size: int | None,
) -> CaseResult:
    """The figures of a case from what was measured (here, or in the project's interpreter)."""
    values = int(data.size) if isinstance(data, np.ndarray) else len(data)
    exact = same(data, restored)
    scores = {} if lossless or not isinstance(data, np.ndarray) else fidelity(data, restored)

    def norm(timing: Timing) -> float | None:
        # (bytes / t) / (reference bytes / reference t) = bytes / reference bytes / (t / ref t)
        if reference_size is None or not timing.relative:
            return None
        return nbytes(data) / reference_size / timing.relative

    return CaseResult(
        nbytes(data),
        payload_bytes,
        values,
        compress.seconds,
        decompress.seconds,
        exact,
        scores,
        norm(compress),
        norm(decompress),
        lossless,
        compress.ratios,
        decompress.ratios,
        compress.reference_s,
    )
