"""The coverage gate's data: line and branch percentages from coverage.py."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.proc import PYTHON_PLACEHOLDER, run_command, shell_argv


class CoverageError(Exception):
    """No coverage data could be produced or read."""


@dataclass(frozen=True)
class CoverageTotals:
    statements: int
    covered_lines: int
    branches: int
    covered_branches: int

    @property
    def line_percent(self) -> float:
        return 100.0 * self.covered_lines / self.statements if self.statements else 100.0

    @property
    def branch_percent(self) -> float | None:
        return 100.0 * self.covered_branches / self.branches if self.branches else None


def read_totals(data_file: Path) -> CoverageTotals:
    """Totals of an existing coverage data file (``coverage json`` semantics)."""
    import coverage

    if not data_file.is_file():
        raise CoverageError(f"{data_file}: no coverage data file")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "coverage.json"
        cov = coverage.Coverage(data_file=str(data_file))
        try:
            cov.load()
            cov.json_report(outfile=str(report))
        except coverage.CoverageException as exc:
            raise CoverageError(f"{data_file}: {exc}") from None
        totals = json.loads(report.read_text())["totals"]
    return CoverageTotals(
        totals["num_statements"],
        totals["covered_lines"],
        totals.get("num_branches", 0),
        totals.get("covered_branches", 0),
    )


def run_under_coverage(
    command: list[str],
    root: Path,
    timeout_s: float,
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    python: str = sys.executable,
) -> tuple[CoverageTotals, str]:
    """Run ``command`` under coverage: a Python program's argv after the interpreter
    (a leading ``{python}`` may name the interpreter, as in other commands). Failing tests
    fail the gate: their coverage does not measure the code that works."""
    if command[:1] == [PYTHON_PLACEHOLDER]:
        command = command[1:]
    command = shell_argv(command, False, python)
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / ".coverage"
        argv = [
            python,
            "-m",
            "coverage",
            "run",
            "--branch",
            f"--data-file={data_file}",
            *command,
        ]
        result = run_command(
            argv, timeout_s=timeout_s, cwd=root, allow_hosts=allow_hosts, isolate=isolate
        )
        if result.error or result.timed_out or result.returncode != 0 or not data_file.exists():
            raise CoverageError(
                f"coverage run {' '.join(command)}: {result.describe()}\n{result.output[-1500:]}"
            )
        return read_totals(data_file), result.describe()
