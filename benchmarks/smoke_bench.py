"""Smoke suite speed: per-import isolation overhead and the whole suite on the self-target.

Prints, measured in this run:
- for every top-level standard-library module, the module's own import time (in the child)
  and the wall time the harness waits for it; the difference is the isolation overhead
  (goal: at most 20 ms), with a fresh interpreter per module measured side by side;
- the wall time of ``pytest -m smoke`` on the embedded default config, median and worst of
  a few runs (goal: at most 10 s).

Usage: python benchmarks/smoke_bench.py [--modules N] [--suite-runs 3]
"""

from __future__ import annotations

import argparse
import pkgutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from suite_run import run_suite

from ops.smoke.imports import ImportRunner

REPO = Path(__file__).resolve().parents[1]
SKIP = {
    "antigravity",
    "this",
    "idlelib",
    "turtledemo",
    "tkinter",
    "turtle",
    "__hello__",
    "__phello__",
    "pydoc_data",
    "test",
    "lib2to3",
    "ensurepip",
    "venv",
    "site",
}


def stdlib_top_level() -> list[str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    names = {info.name for info in pkgutil.iter_modules([stdlib])}
    return sorted(name for name in names if not name.startswith("_") and name not in SKIP)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_fork_server(modules: list[str]) -> list[tuple[str, float, float]]:
    rows = []
    with ImportRunner([], REPO) as runner:
        for name in modules:
            start = time.perf_counter()
            answer = runner.run(name, 30)
            wall = time.perf_counter() - start
            rows.append((name, float(answer.get("seconds", 0.0)), wall))
    return rows


def measure_fresh_interpreter(modules: list[str]) -> list[float]:
    walls = []
    for name in modules:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-I", "-c", f"import {name}"], capture_output=True, check=False
        )
        walls.append(time.perf_counter() - start)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=0, help="limit the module count")
    parser.add_argument("--suite-runs", type=int, default=3, help="times to run the suite")
    args = parser.parse_args()
    modules = stdlib_top_level()
    if args.modules:
        modules = modules[: args.modules]
    rows = measure_fork_server(modules)
    overheads = [(wall - own) * 1000 for _, own, wall in rows]
    fresh = measure_fresh_interpreter(modules)
    fresh_overheads = [(wall - own) * 1000 for wall, (_, own, _) in zip(fresh, rows, strict=True)]
    print(f"standard-library top-level modules imported: {len(rows)}")
    print(
        f"isolation overhead, forked child : median {statistics.median(overheads):6.2f} ms, "
        f"p95 {percentile(overheads, 0.95):6.2f} ms, max {max(overheads):6.2f} ms "
        f"(goal <= 20 ms) -> {'OK' if percentile(overheads, 0.95) <= 20 else 'OVER'}"
    )
    print(
        f"isolation overhead, fresh python : median {statistics.median(fresh_overheads):6.2f} ms, "
        f"p95 {percentile(fresh_overheads, 0.95):6.2f} ms"
    )
    print(
        f"ratio fresh/forked (median overhead): "
        f"{statistics.median(fresh_overheads) / max(statistics.median(overheads), 1e-9):.1f}x"
    )
    runs = [run_suite("smoke", REPO / "reports" / "bench") for _ in range(args.suite_runs)]
    walls = [wall for wall, _, _ in runs]
    wall = statistics.median(walls)
    _, result, last = runs[-1]
    print(
        f"pytest -m smoke on the self-target, {len(walls)} runs: median {wall:.2f} s wall, "
        f"max {max(walls):.2f} s (goal <= 10 s) -> {'OK' if max(walls) <= 10 else 'OVER'}; "
        f"exit {result.returncode}; {last}"
    )


if __name__ == "__main__":
    main()
