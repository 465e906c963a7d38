"""Acceptance of the benchmark gate on this noisy machine, with pytest-benchmark's own
`--benchmark-compare-fail=median:10%` scored on the same data:
- 40 A/A comparisons: identical code measured in separate pytest sessions;
- 40 comparisons against a variant doing 10% more real work (more iterations, no sleep).

Each session runs `pytest -m benchmark` on a small generated target (its benchmark folder
collected through `benchmark.paths`), so the samples and calibration come from the real
suite; verdicts use the suite's own `ops.benchmark.stats.compare` on the stored samples.

Usage: python benchmarks/benchmark_gate_bench.py [--pairs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ops.benchmark.stats import compare

REPO = Path(__file__).resolve().parents[1]
BENCH = """
import os

WORK = int(os.environ.get("BENCH_WORK", "100000"))


def workload():
    total = 0
    for index in range(WORK):
        total += index * index % 11
    return total


def test_workload(benchmark):
    benchmark.pedantic(workload, rounds=25, iterations=1, warmup_rounds=2)
"""


def session(root: Path, work: int, label: str) -> tuple[list[float], float]:
    """One pytest session; returns calibrated samples and pytest-benchmark's median."""
    out = root / f"out-{label}"
    env = {**os.environ, "BENCH_WORK": str(work)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "benchmark",
            "-q",
            "-k",
            "test_workload",
            "-p",
            "no:cacheprovider",
            f"--proofyard-config={root / 'proofyard.yaml'}",
            f"--reports-dir={out}",
            "--update-baselines",
            f"--benchmark-json={out / 'pb.json'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    rows = json.loads((out / "summary.json").read_text())["suites"]["benchmark"]["tables"]
    row = next(r for r in rows["benchmarks"] if r["benchmark"].endswith("test_workload"))
    store = json.loads(next((root / "store").glob("*.json")).read_text())
    samples = store[row["benchmark"]]["samples"]
    pb = json.loads((out / "pb.json").read_text())["benchmarks"][0]["stats"]["median"]
    return samples, pb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "benches").mkdir()
        (root / "benches" / "test_work.py").write_text(BENCH)
        (root / "proofyard.yaml").write_text(
            "target: {root: .}\nbenchmark:\n  paths: [benches]\n  store: store\n"
            "kpi: {record: false}\n"
        )
        ours, theirs = {"aa": Counter(), "slow": Counter()}, {"aa": Counter(), "slow": Counter()}
        aa_ratios: list[float] = []
        for pair in range(args.pairs):
            base, base_pb = session(root, 100_000, f"{pair}-a")
            same, same_pb = session(root, 100_000, f"{pair}-b")
            slow, slow_pb = session(root, 110_000, f"{pair}-c")
            ours["aa"][compare(same, base).verdict] += 1
            ours["slow"][compare(slow, base).verdict] += 1
            aa_ratios.append(compare(same, base).ratio)
            theirs["aa"]["regression" if same_pb > 1.10 * base_pb else "pass"] += 1
            theirs["slow"]["regression" if slow_pb > 1.10 * base_pb else "pass"] += 1
            print(
                f"pair {pair + 1}: A/A {compare(same, base).detail}; "
                f"+10% {compare(slow, base).detail}",
                flush=True,
            )
        n = args.pairs
        aa_ok = ours["aa"]["regression"] == 0 and ours["aa"]["inconclusive"] <= 0.1 * n
        slow_ok = ours["slow"]["regression"] >= 0.95 * n
        print(
            f"proofyard gate, A/A ({n}): {dict(ours['aa'])} -> "
            f"{'OK' if aa_ok else 'FAIL'} (0 regressions, inconclusive <= 10%)"
        )
        print(
            f"proofyard gate, +10% work ({n}): {dict(ours['slow'])} -> "
            f"{'OK' if slow_ok else 'FAIL'} (>= {0.95 * n:.0f} regressions)"
        )
        print(
            f"pytest-benchmark median:10%, A/A: {dict(theirs['aa'])}; "
            f"+10% work: {dict(theirs['slow'])}"
        )
        print(
            f"A/A ratios between sessions (calibrated medians): "
            f"sd {statistics.stdev(aa_ratios):.4f}, range {min(aa_ratios):.3f}-{max(aa_ratios):.3f}"
        )


if __name__ == "__main__":
    main()
