"""Quality suite speed on the CPython standard library of the running interpreter.

Measured in one run and printed side by side:
- a cold `pytest -m quality` (every gate but coverage, ruff included) with an empty cache,
  then a warm re-run with nothing changed (goal: warm <= 10% of cold);
- ruff, radon cc, radon mi and interrogate run one after the other on the same tree, each
  stopped after 10 minutes and then counted as 10 minutes (goal: cold <= 0.25x their sum);
- parse health: every file that `compile()` rejects must appear as a parse-health finding.

Usage: python benchmarks/quality_bench.py [--limit-s 600]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

from suite_run import run_suite

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TOOLS = {
    "ruff": [sys.executable, "-m", "ruff", "check", "--no-cache", "--exit-zero", "--quiet", "."],
    "radon cc": [sys.executable, "-m", "radon", "cc", "-s", "--exclude", "site-packages/*", "."],
    "radon mi": [sys.executable, "-m", "radon", "mi", "--exclude", "site-packages/*", "."],
    "interrogate": [sys.executable, "-m", "interrogate", "-e", "site-packages", "."],
}


def timed_tool(argv: list[str], limit_s: float) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        result = subprocess.run(
            argv, cwd=STDLIB, capture_output=True, text=True, timeout=limit_s, check=False
        )
    except subprocess.TimeoutExpired:
        return limit_s, f"stopped after {limit_s:.0f} s, counted as {limit_s:.0f} s"
    seconds = time.perf_counter() - start
    tail = (result.stderr.strip().splitlines() or [""])[-1][:100]
    crashed = "Traceback" in result.stderr
    return seconds, f"exit {result.returncode}" + (f", crashed: {tail}" if crashed else "")


def run_quality(config: Path, reports: Path) -> tuple[float, dict]:
    wall, _, _ = run_suite("quality", reports, f"--proofyard-config={config}")
    return wall, json.loads((reports / "summary.json").read_text())


def unparsable_files() -> set[str]:
    bad = set()
    for path in STDLIB.rglob("*.py"):
        if "site-packages" in path.parts:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            bad.add(path.relative_to(STDLIB).as_posix())
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-s", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = work / "proofyard.yaml"
        config.write_text(
            f"target:\n  root: {STDLIB}\n  exclude: ['site-packages/']\n  use_gitignore: false\n"
            f"baselines:\n  dir: {work / 'baselines'}\n"
            f"quality:\n  cache: {work / 'quality-cache.json'}\n",
            encoding="utf-8",
        )
        cold, summary = run_quality(config, work / "cold")
        warm, _ = run_quality(config, work / "warm")
        health = next(
            t
            for t in summary["suites"]["quality"]["tests"]
            if t["nodeid"].endswith("[parse_health]")
        )
        print(f"corpus: {STDLIB} ({health['inspected']['files']} Python files)")
        print(
            f"proofyard quality, cold: {cold:.1f} s; warm: {warm:.1f} s "
            f"(warm/cold {warm / cold:.3f}, goal <= 0.10 -> "
            f"{'OK' if warm <= 0.10 * cold else 'OVER'})"
        )
        total = 0.0
        for name, argv in TOOLS.items():
            seconds, note = timed_tool(argv, args.limit_s)
            total += seconds
            print(f"  {name:<12} {seconds:8.1f} s  ({note})")
        print(f"ruff + radon cc + radon mi + interrogate, one after the other: {total:.1f} s")
        print(
            f"cold proofyard / tools = {cold / total:.3f} (goal <= 0.25 -> "
            f"{'OK' if cold <= 0.25 * total else 'OVER'})"
        )
        sarif = json.loads((work / "cold" / "findings.sarif").read_text())
        reported = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]
            if r["ruleId"] == "quality.parse-error"
        }
        expected = unparsable_files()
        print(
            f"parse health: compile() rejects {len(expected)} files; "
            f"{len(expected & reported)} reported as parse errors, "
            f"{len(expected - reported)} missed -> {'OK' if expected <= reported else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
