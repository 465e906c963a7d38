"""Gates of a measured case: absolute thresholds, and what to compare with the baseline.

Ratio and error regressions against the baseline use ``ops.baseline.compare``; throughput
is judged like a benchmark, by ``throughput.judge``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.compression.measure import CaseResult
from ops.config.schema import CompressionCodec, CompressionConfig


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float
    limit: float
    passed: bool
    detail: str


@dataclass(frozen=True)
class Tracked:
    """A deterministic value compared with its baseline."""

    name: str
    value: float
    higher_is_better: bool
    tolerance: float


def absolute(
    name: str, value: float, minimum: float | None = None, maximum: float | None = None
) -> list[GateCheck]:
    checks = []
    if minimum is not None:
        checks.append(
            GateCheck(name, value, minimum, value >= minimum, f"{name} {value:.6g} >= {minimum:g}")
        )
    if maximum is not None:
        checks.append(
            GateCheck(name, value, maximum, value <= maximum, f"{name} {value:.6g} <= {maximum:g}")
        )
    return checks


def absolute_failures(spec: CompressionCodec, result: CaseResult, lossless: bool) -> list[str]:
    """Sentences for every absolute gate the case fails (exact round trip included)."""
    failures = ["lossless round trip is not exact"] if lossless and not result.exact else []
    checks = absolute("ratio", result.ratio, minimum=spec.min_ratio)
    if result.fidelity:
        scores = result.fidelity
        checks += absolute("rel_frobenius", scores["rel_frobenius"], maximum=spec.max_rel_error)
        checks += absolute("max_abs_error", scores["max_abs_error"], maximum=spec.max_abs_error)
        checks += absolute("snr_db", scores["snr_db"], minimum=spec.min_snr_db)
        checks += absolute("cosine", scores["cosine"], minimum=spec.min_cosine)
    return failures + [check.detail + " failed" for check in checks if not check.passed]


def tracked_values(
    spec: CompressionCodec, section: CompressionConfig, result: CaseResult
) -> list[Tracked]:
    """The values gated against the baseline, each with its tolerance (per codec or default)."""

    def pick(own: float | None, default: float) -> float:
        return own if own is not None else default

    tracked = [
        Tracked("ratio", result.ratio, True, pick(spec.ratio_regression, section.ratio_regression))
    ]
    error = result.fidelity.get("rel_frobenius")
    if error is not None:
        tracked.append(
            Tracked(
                "rel_frobenius", error, False, pick(spec.error_regression, section.error_regression)
            )
        )
    return tracked
