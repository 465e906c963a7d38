"""Monitor overhead, measured in one run:
- the sampler's CPU time at 1 Hz, as a share of one core (goal: < 0.5%), in the process
  that samples (the session monitor runs in a process of its own);
- a CPU-bound workload timed with and without the monitor sampling at 10 Hz (goal: within
  2%), as pytest --monitor runs it (sampler in a separate process) and under
  `ops monitor watch`; for comparison, with the sampler as a thread of the busy process.

Each pair runs both variants back to back in a random order; the median of the per-pair
ratios is printed (this VM's speed drifts by tens of percent between minutes, so only
ratios taken side by side mean anything). The workload starts once sampling is under way:
what is measured is the steady cost of sampling, not the monitor's start-up.

Usage: python benchmarks/monitor_bench.py [--pairs 15] [--idle-s 20]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ops.config.schema import MonitorConfig
from ops.monitor.detached import DetachedMonitor
from ops.monitor.run import MonitorRun, open_series
from ops.monitor.sampler import Sampler

ROUNDS = 1_200_000


def workload() -> float:
    start = time.perf_counter()
    digest = b"seed"
    for _ in range(ROUNDS):
        digest = hashlib.sha256(digest).digest()
    return time.perf_counter() - start


CHILD = (
    "import hashlib, time\ntime.sleep(1.0)\nstart = time.perf_counter()\ndigest = b'seed'\n"
    f"for _ in range({ROUNDS}):\n    digest = hashlib.sha256(digest).digest()\n"
    "print(time.perf_counter() - start)\n"
)


def paired_ratio(pairs: int, alone: Callable[[], float], monitored: Callable[[], float]) -> float:
    """Median of monitored/alone over pairs run back to back in a random order."""
    ratios = []
    for _ in range(pairs):
        if random.random() < 0.5:
            first = alone()
            ratios.append(monitored() / first)
        else:
            second = monitored()
            ratios.append(second / alone())
    return statistics.median(ratios)


def in_process(folder: Path, monitor: str) -> Callable[[], float]:
    """The workload in this process while a 10 Hz monitor watches it."""
    section = MonitorConfig(gpu=False)

    def run() -> float:
        if monitor == "detached":
            watcher = DetachedMonitor(folder, section, [], "bench", interval_s=0.1).start()
            try:
                return workload()
            finally:
                watcher.stop()
        thread = MonitorRun(open_series(folder, 10, {}), Sampler(gpu=False), 0.1)
        with thread:
            return workload()

    return run


def child_process(folder: Path, watched: bool) -> Callable[[], float]:
    """The workload in a process of its own, alone or under `ops monitor watch`."""
    watch = [
        sys.executable,
        "-m",
        "ops",
        "monitor",
        "watch",
        "--interval",
        "0.1",
        f"--reports-dir={folder}",
        "--",
    ]

    def run() -> float:
        command = [*(watch if watched else []), sys.executable, "-c", CHILD]
        result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder)
        return float(result.stdout.split()[-1])

    return run


def sampler_share(folder: Path, seconds: float) -> float:
    """CPU seconds the detached sampler process used per wall second at 1 Hz."""
    section = MonitorConfig(gpu=False, interval_s=1.0)
    monitor = DetachedMonitor(folder, section, [], "bench").start()
    (sampler,) = [p for p in psutil.Process().children() if "ops.monitor.detached" in p.cmdline()]
    before = sum(sampler.cpu_times()[:2])
    time.sleep(seconds)
    used = sum(sampler.cpu_times()[:2]) - before
    monitor.stop()
    return used / seconds


def verdict(value: float, goal: float) -> str:
    return "OK" if value <= goal else "OVER"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        share = sampler_share(folder, args.idle_s)
        print(
            f"sampler at 1 Hz: {share * 100:.3f}% of one core over {args.idle_s:g} s "
            f"(goal < 0.5% -> {verdict(share, 0.005 - 1e-12)})"
        )
        workload()  # warm-up
        alone = workload
        figures = {
            "pytest --monitor (sampler in its own process)": paired_ratio(
                args.pairs, alone, in_process(folder, "detached")
            ),
            "`ops monitor watch -- COMMAND`": paired_ratio(
                args.pairs, child_process(folder, False), child_process(folder, True)
            ),
        }
        thread = paired_ratio(args.pairs, alone, in_process(folder, "thread"))
    for label, ratio in figures.items():
        print(
            f"CPU-bound workload (~{ROUNDS // 1000}k SHA-256 rounds) at 10 Hz, {label}, "
            f"{args.pairs} pairs: median ratio {ratio:.4f} (goal within 1.02 -> "
            f"{verdict(ratio, 1.02)})"
        )
    print(
        f"for comparison, the sampler as a thread of the busy process (shares its GIL): "
        f"median ratio {thread:.4f}"
    )


if __name__ == "__main__":
    main()
