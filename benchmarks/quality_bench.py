"""Quality suite speed on the CPython standard library of the running interpreter.

Measured in one run and printed side by side (wall and CPU seconds, CPU including every
worker process and ruff):
- a cold ``pytest -m quality`` (every gate but coverage, ruff included) with an empty cache,
  then a warm re-run with nothing changed (goal: warm CPU <= 10% of cold);
- ruff, radon cc and interrogate run one after the other on the same tree (goal: cold CPU
  <= 1.0x their sum);
- the same cold run with two CPU-bound processes beside it: the findings must be the same
  (the per-file limit counts CPU time, so load cannot stop an analysis);
- parse health: every file that ``compile()`` rejects must appear as a parse-health finding.

``--with-mi`` adds radon mi to the tools (it took 495 s of CPU on the stdlib).

Usage: python benchmarks/quality_bench.py [--limit-s 900] [--with-mi]
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from suite_run import timed, timed_suite, two_cpu_hogs

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TOOLS = {
    "ruff": [sys.executable, "-m", "ruff", "check", "--no-cache", "--exit-zero", "--quiet", "."],
    "radon cc": [sys.executable, "-m", "radon", "cc", "-s", "--exclude", "site-packages/*", "."],
    "interrogate": [sys.executable, "-m", "interrogate", "-e", "site-packages", "."],
}
MI = [sys.executable, "-m", "radon", "mi", "--exclude", "site-packages/*", "."]


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


def findings(reports: Path) -> set[tuple]:
    sarif = json.loads((reports / "findings.sarif").read_text())
    return {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"),
            r["message"]["text"],
        )
        for r in sarif["runs"][0]["results"]
    }


def write_config(work: Path, name: str) -> Path:
    config = work / f"{name}.yaml"
    config.write_text(
        f"target:\n  root: {STDLIB}\n  exclude: ['site-packages/']\n  use_gitignore: false\n"
        f"baselines:\n  dir: {work / name / 'baselines'}\n"
        f"quality:\n  cache: {work / name / 'quality-cache.json'}\n",
        encoding="utf-8",
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-s", type=float, default=900.0)
    parser.add_argument("--with-mi", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        quiet = write_config(work, "quiet")
        cold = timed_suite("quality", work / "cold", f"--proofyard-config={quiet}")
        warm = timed_suite("quality", work / "warm", f"--proofyard-config={quiet}")
        with two_cpu_hogs():
            busy = timed_suite(
                "quality", work / "busy", f"--proofyard-config={write_config(work, 'busy')}"
            )
        summary = json.loads((work / "cold" / "summary.json").read_text())
        files = summary["suites"]["quality"]["inspected"].get("files", "?")
        print(f"corpus: {STDLIB} ({files} Python files); pytest said: {cold.last_line}")
        print(f"{'':34} {'wall s':>8} {'CPU s':>8}")
        print(f"{'proofyard quality, cold':34} {cold.wall:8.1f} {cold.cpu:8.1f}")
        print(f"{'proofyard quality, warm':34} {warm.wall:8.1f} {warm.cpu:8.1f}")
        print(f"{'proofyard quality, cold, 2 hogs':34} {busy.wall:8.1f} {busy.cpu:8.1f}")
        wall_sum = cpu_sum = 0.0
        tools = {**TOOLS, **({"radon mi": MI} if args.with_mi else {})}
        for name, argv in tools.items():
            run = timed(argv, cwd=STDLIB, timeout=args.limit_s)
            wall_sum, cpu_sum = wall_sum + run.wall, cpu_sum + run.cpu
            crashed = "Traceback" in run.result.stderr
            note = f"exit {run.result.returncode}" + (", crashed part-way" if crashed else "")
            print(f"  {name:32} {run.wall:8.1f} {run.cpu:8.1f}  ({note})")
        print(f"{'  the tools, one after the other':34} {wall_sum:8.1f} {cpu_sum:8.1f}")
        print(
            f"cold / tools: CPU {cold.cpu / cpu_sum:.2f}x (goal <= 1.0: "
            f"{'OK' if cold.cpu <= cpu_sum else 'OVER'}), wall {cold.wall / wall_sum:.2f}x"
        )
        print(
            f"warm / cold CPU: {warm.cpu / cold.cpu:.3f} (goal <= 0.10: "
            f"{'OK' if warm.cpu <= 0.10 * cold.cpu else 'OVER'})"
        )
        quiet_found, busy_found = findings(work / "cold"), findings(work / "busy")
        print(
            f"findings quiet {len(quiet_found)}, beside two hogs {len(busy_found)}: "
            f"{'the same' if quiet_found == busy_found else 'DIFFERENT'} "
            f"({len(quiet_found - busy_found)} only quiet, {len(busy_found - quiet_found)} "
            "only busy)"
        )
        reported = {uri for rule, uri, _, _ in quiet_found if rule == "quality.parse-error"}
        expected = unparsable_files()
        print(
            f"parse health: compile() rejects {len(expected)} files; "
            f"{len(expected & reported)} reported as parse errors, "
            f"{len(expected - reported)} missed -> {'OK' if expected <= reported else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
