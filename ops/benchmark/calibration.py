"""A fixed calibration workload, timed around each benchmark so that samples can be
expressed in calibration units: a uniformly slower machine (or session) cancels out."""

from __future__ import annotations

import statistics
import time

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
