"""What the benchmark scripts share: one suite run as a user runs it, timed (wall and CPU),
and two CPU-bound processes to run beside it."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Timed:
    wall: float
    cpu: float  # user + system of the command and every process it waited for
    result: subprocess.CompletedProcess[str]

    @property
    def last_line(self) -> str:
        out = self.result.stdout.strip()
        return out.splitlines()[-1] if out else "no output"


def timed(
    argv: Sequence[str],
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Timed:
    """Run ``argv``; its wall seconds and its CPU seconds, its children's included.

    Without ``PYTHONDONTWRITEBYTECODE``, as a user's shell has it: some machines set it, and
    then every run compiles again and pytest rewrites every plugin module's asserts again
    (1.4 s of a 7.9 s session, measured), which no user pays."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, result)


def run_suite(
    marker: str, reports_dir: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str], str]:
    """``pytest -m MARKER`` from the checkout: wall seconds, the result, its last line."""
    run = timed_suite(marker, reports_dir, *options, env=env)
    return run.wall, run.result, run.last_line


def timed_suite(
    marker: str, reports_dir: Path, *options: str, env: dict[str, str] | None = None
) -> Timed:
    return timed(
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
        env=env,
    )


def _burn() -> None:
    while True:
        pass


@contextlib.contextmanager
def two_cpu_hogs() -> Iterator[None]:
    """Two CPU-bound processes running for the length of the ``with`` block."""
    hogs = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(2)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()
