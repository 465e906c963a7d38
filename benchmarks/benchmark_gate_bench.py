"""Acceptance of the benchmark gate on this noisy machine, with pytest-benchmark's own
`--benchmark-compare-fail=median:10%` scored on the same data:
- 40 A/A comparisons: identical code measured in separate pytest sessions;
- 40 comparisons against a variant doing 10% more real work (more iterations, no sleep).

Each session runs `pytest -m benchmark` on a small generated target (its benchmark folder
collected through `benchmark.paths`); each pair's first session stores the baseline
(`--update-baselines`), and the verdicts are the suite's own, read from `summary.json`.
pytest-benchmark then runs alone on the same file, right after each session, for its own
median; both sessions are timed (whole process, wall). ``--hogs`` runs two CPU-bound
processes beside it the whole time (a busy 2-core runner).

Usage: python benchmarks/benchmark_gate_bench.py [--pairs 40] [--hogs] [--save sessions.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

from suite_run import timed, timed_suite, two_cpu_hogs

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


def session(root: Path, work: int, label: str, *, baseline: bool) -> dict:
    """One pytest session: the suite's row for the benchmark (its verdict against the
    stored baseline), its calibrated samples and pytest-benchmark's median."""
    out = root / f"out-{label}"
    ours = timed_suite(
        "benchmark",
        out,
        "-k",
        "test_workload",
        f"--proofyard-config={root / 'proofyard.yaml'}",
        *(["--update-baselines"] if baseline else []),
        env={**os.environ, "BENCH_WORK": str(work)},
    )
    # pytest-benchmark alone on the same benchmark file, right after: what its
    # --benchmark-compare-fail=median:10% would judge (the suite runs the file in the
    # project's own pytest, whose JSON it does not keep)
    theirs = timed(
        [sys.executable, "-m", "pytest", "benches", "-q", "-p", "no:cacheprovider",
         "-p", "no:proofyard-options", f"--benchmark-json={out / 'pb.json'}"],
        cwd=root, env={**os.environ, "BENCH_WORK": str(work)},
    )  # fmt: skip
    suite = json.loads((out / "summary.json").read_text())["suites"]["benchmark"]
    row = next(r for r in suite["tables"]["benchmarks"] if r["benchmark"].endswith("test_workload"))
    # why, for an inconclusive verdict or a regression (the outcome's message)
    row["message"] = next((t["message"] for t in suite["tests"] if t["nodeid"] == row["test"]), "")
    history = json.loads(next((root / "store").glob("*.json")).read_text())[row["benchmark"]]
    row["median_units"] = history["history"][-1]["median_units"]
    row["pb_median_s"] = json.loads((out / "pb.json").read_text())["benchmarks"][0]["stats"][
        "median"
    ]
    row.update(label=label, session_s=ours.wall, pb_session_s=theirs.wall)
    return row


def described(row: dict) -> str:
    return (
        f"{row['verdict']} {row.get('ratio', float('nan')):.3f} "
        f"({row.get('low', float('nan')):.3f}-{row.get('high', float('nan')):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--hogs", action="store_true", help="two CPU-bound processes beside")
    parser.add_argument("--save", type=Path, help="write every session's figures here (JSON)")
    args = parser.parse_args()
    busy = two_cpu_hogs() if args.hogs else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as folder, busy:
        root = Path(folder)
        (root / "benches").mkdir()
        (root / "benches" / "test_work.py").write_text(BENCH)
        (root / "proofyard.yaml").write_text(
            "target: {root: .}\nbenchmark:\n  paths: [benches]\n  store: store\n"
            "kpi: {record: false}\n"
        )
        ours, theirs = {"aa": Counter(), "slow": Counter()}, {"aa": Counter(), "slow": Counter()}
        sessions: list[dict] = []
        for pair in range(args.pairs):
            base = session(root, 100_000, f"{pair}-a", baseline=True)
            same = session(root, 100_000, f"{pair}-b", baseline=False)
            slow = session(root, 110_000, f"{pair}-c", baseline=False)
            sessions += [base, same, slow]
            ours["aa"][same["verdict"]] += 1
            ours["slow"][slow["verdict"]] += 1
            limit = 1.10 * base["pb_median_s"]
            theirs["aa"]["regression" if same["pb_median_s"] > limit else "pass"] += 1
            theirs["slow"]["regression" if slow["pb_median_s"] > limit else "pass"] += 1
            print(
                f"pair {pair + 1}: A/A {described(same)}; +10% {described(slow)}; "
                "sessions (median units, slice ms, preempted/rounds, wall s ours/theirs): "
                + ", ".join(
                    f"{s['median_units']:.3f} {s['calibration_s'] * 1e3:.2f} "
                    f"{s['preempted']}/{s['rounds']} {s['session_s']:.1f}/{s['pb_session_s']:.1f}"
                    for s in (base, same, slow)
                ),
                flush=True,
            )
            if args.save:
                args.save.write_text(json.dumps(sessions, indent=1))
        n = args.pairs
        aa_ok = ours["aa"]["regression"] == 0 and ours["aa"]["inconclusive"] <= 0.1 * n
        slow_ok = ours["slow"]["regression"] >= 0.9 * n and ours["slow"]["inconclusive"] <= 0.1 * n
        print(
            f"proofyard gate, A/A ({n}): {dict(ours['aa'])} -> "
            f"{'OK' if aa_ok else 'FAIL'} (0 regressions, inconclusive <= 10%)"
        )
        print(
            f"proofyard gate, +10% work ({n}): {dict(ours['slow'])} -> "
            f"{'OK' if slow_ok else 'FAIL'} (>= {0.9 * n:.0f} regressions, inconclusive "
            "<= 10%; 39 of 40 on a quiet machine)"
        )
        print(
            f"pytest-benchmark median:10%, A/A: {dict(theirs['aa'])}; "
            f"+10% work: {dict(theirs['slow'])}"
        )
        ours_s = statistics.median(s["session_s"] for s in sessions)
        theirs_s = statistics.median(s["pb_session_s"] for s in sessions)
        print(
            f"session wall time, median: proofyard {ours_s:.2f} s, pytest-benchmark alone "
            f"{theirs_s:.2f} s -> {ours_s / theirs_s:.2f}x (goal <= 2x)"
        )
        print(f"judged in: {dict(Counter(s.get('measure', '-') for s in sessions))}")
        aa_ratios = [s["ratio"] for s in sessions[1::3] if math.isfinite(s.get("ratio", math.nan))]
        if len(aa_ratios) > 1:
            print(
                f"A/A ratios between sessions (calibrated medians): sd "
                f"{statistics.stdev(aa_ratios):.4f}, "
                f"range {min(aa_ratios):.3f}-{max(aa_ratios):.3f}"
            )


if __name__ == "__main__":
    main()
