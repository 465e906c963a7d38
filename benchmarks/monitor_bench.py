"""Monitor overhead, measured in one run:
- the sampler's own CPU time per sample at 1 Hz, as a share of one core (goal: < 0.5%);
- a CPU-bound workload timed with and without the monitor sampling at 10 Hz, interleaved
  (A B A B ...), median ratio printed (goal: within 2%).

Usage: python benchmarks/monitor_bench.py [--pairs 10]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ops.monitor.run import MonitorRun
from ops.monitor.sampler import Sampler


def workload() -> float:
    start = time.perf_counter()
    digest = b"seed"
    for _ in range(400_000):
        digest = hashlib.sha256(digest).digest()
    return time.perf_counter() - start


CHILD = (
    "import hashlib, time\nstart = time.perf_counter()\ndigest = b'seed'\n"
    "for _ in range(400_000):\n    digest = hashlib.sha256(digest).digest()\n"
    "print(time.perf_counter() - start)\n"
)


def watched_ratio(pairs: int) -> float:
    """The workload in its own process, alone and under `ops monitor watch --interval 0.1`
    (the sampler in a process of its own, as when watching any command), interleaved."""
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(pairs):
            alone = subprocess.run(
                [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
            )
            watched = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ops",
                    "monitor",
                    "watch",
                    "--interval",
                    "0.1",
                    f"--reports-dir={folder}",
                    "--",
                    sys.executable,
                    "-c",
                    CHILD,
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=folder,
            )
            ratios.append(float(watched.stdout.split()[-1]) / float(alone.stdout.split()[-1]))
    return statistics.median(ratios)


def sampler_cost(seconds: float) -> float:
    """CPU seconds the sampling thread used per wall second at 1 Hz."""
    sampler = Sampler()
    with tempfile.TemporaryDirectory() as folder:
        run = MonitorRun(Path(folder), sampler, 1.0)
        before = time.process_time()
        with run:
            time.sleep(seconds)  # the main thread idles: process CPU time is the sampler's
        used = time.process_time() - before
    return used / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()
    share = sampler_cost(args.idle_s)
    print(
        f"sampler at 1 Hz: {share * 100:.3f}% of one core over {args.idle_s:g} s "
        f"(goal < 0.5% -> {'OK' if share < 0.005 else 'OVER'})"
    )
    workload()  # warm-up
    ratios, plain, watched = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.pairs):
            without = workload()
            with MonitorRun(Path(folder), Sampler(), 0.1):
                with_monitor = workload()
            plain.append(without)
            watched.append(with_monitor)
            ratios.append(with_monitor / without)
    ratio = statistics.median(ratios)
    outside = watched_ratio(args.pairs)
    print(
        f"CPU-bound workload in its own process under `ops monitor watch` at 10 Hz, "
        f"{args.pairs} interleaved pairs: median ratio {outside:.4f} "
        f"(goal within 1.02 -> {'OK' if outside <= 1.02 else 'OVER'})"
    )
    print(
        f"same workload with the sampler as a thread of its own process (pytest --monitor), "
        f"{args.pairs} interleaved pairs: "
        f"without {statistics.median(plain):.3f} s, "
        f"with a 10 Hz monitor {statistics.median(watched):.3f} s; median ratio {ratio:.4f} "
        f"(goal within 1.02 -> {'OK' if ratio <= 1.02 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
