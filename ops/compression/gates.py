"""Absolute thresholds of a measured case.

Regressions against the baseline use ``ops.baseline.compare``; throughput is compared
normalised by a reference codec timed paired with each case (``measure.timed``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float
    limit: float
    passed: bool
    detail: str


def absolute(name: str, value: float, minimum: float | None = None,
             maximum: float | None = None) -> list[GateCheck]:
    checks = []
    if minimum is not None:
        checks.append(GateCheck(name, value, minimum, value >= minimum,
                                f"{name} {value:.6g} >= {minimum:g}"))
    if maximum is not None:
        checks.append(GateCheck(name, value, maximum, value <= maximum,
                                f"{name} {value:.6g} <= {maximum:g}"))
    return checks
