"""What the benchmark scripts share: one suite run as a user runs it, timed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suite(
    marker: str, reports_dir: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str], str]:
    """``pytest -m MARKER`` from the checkout: wall seconds, the result, its last line."""
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            marker,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--reports-dir={reports_dir}",
            *options,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "no output"
    return wall, result, last
