"""Same-job A/B of a ``module:function``: the baseline from a git worktree of REF and the
current code, measured in alternating fresh interpreters, gated on the paired ratios; and
instruction counts under valgrind's cachegrind (deterministic, about 65x slower).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ops.benchmark.stats import Comparison, compare

# Times ``rounds`` calls (after one warm-up) and prints the seconds of each as JSON.
RUNNER = """
import importlib, json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
module, _, attr = sys.argv[2].partition(":")
function = importlib.import_module(module)
for part in attr.split("."):
    function = getattr(function, part)
args, kwargs, rounds = json.loads(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5])
function(*args, **kwargs)
times = []
for _ in range(rounds):
    start = time.perf_counter()
    function(*args, **kwargs)
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""
INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


class ABError(Exception):
    """git, the worktree or a measuring process failed."""


@contextlib.contextmanager
def worktree(target_root: Path, ref: str) -> Iterator[Path]:
    """The target as it is at ``ref``, in a temporary git worktree (removed afterwards)."""
    top = _git(target_root, "rev-parse", "--show-toplevel").strip()
    folder = Path(tempfile.mkdtemp(prefix="proofyard-ab-"))
    checkout = folder / "tree"
    _git(Path(top), "worktree", "add", "--detach", str(checkout), ref)
    try:
        yield checkout / target_root.resolve().relative_to(Path(top).resolve())
    finally:
        _git(Path(top), "worktree", "remove", "--force", str(checkout))
        shutil.rmtree(folder, ignore_errors=True)


def _git(cwd: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ABError(f"git {' '.join(args)}: {exc}") from None
    if result.returncode != 0:
        raise ABError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def runner_argv(
    roots: Sequence[Path], spec: str, args: Sequence[Any], kwargs: dict[str, Any], rounds: int
) -> list[str]:
    """A fresh interpreter that times ``rounds`` calls of ``spec`` with the target importable."""
    return [
        sys.executable,
        "-c",
        RUNNER,
        json.dumps([str(r) for r in roots]),
        spec,
        json.dumps(list(args)),
        json.dumps(kwargs),
        str(rounds),
    ]


def measure(
    roots: Sequence[Path],
    spec: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    rounds: int,
) -> list[float]:
    argv = runner_argv(roots, spec, args, kwargs, rounds)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise ABError(f"measuring {spec} failed: {result.stderr.strip()[-800:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ab_compare(
    current: Sequence[Path],
    baseline: Sequence[Path],
    spec: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    pairs: int = 10,
    rounds: int = 5,
    min_effect: float = 0.05,
) -> Comparison:
    """Alternate baseline and current runs; each pair gives one ratio of medians, so slow
    phases of the machine hit both sides. The verdict is on the paired ratios."""
    ratios, base_medians = [], []
    for index in range(pairs):
        order = (baseline, current) if index % 2 == 0 else (current, baseline)
        first = measure(order[0], spec, args, kwargs or {}, rounds)
        second = measure(order[1], spec, args, kwargs or {}, rounds)
        base, cur = (first, second) if order[0] is baseline else (second, first)
        ratios.append(statistics.median(cur) / statistics.median(base))
        base_medians.append(statistics.median(base))
    # compare() judges a ratio of medians: against a baseline of ones it is the paired ratio
    return compare(
        ratios,
        [1.0] * len(ratios),
        min_effect=min_effect,
        baseline_scale=statistics.median(base_medians),
    )


def instruction_count(
    roots: Sequence[Path],
    spec: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    calls: int = 5,
) -> float:
    """Instructions per call under cachegrind: a run with ``calls`` calls minus a run with
    none (interpreter start, imports and the warm-up cancel out). Deterministic."""
    counts = [_cachegrind(roots, spec, args, kwargs or {}, rounds) for rounds in (0, calls)]
    return (counts[1] - counts[0]) / calls


def _cachegrind(
    roots: Sequence[Path], spec: str, args: Sequence[Any], kwargs: dict[str, Any], rounds: int
) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise FileNotFoundError("valgrind is not installed (Debian package valgrind)")
    with tempfile.TemporaryDirectory() as folder:
        prefix = [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={folder}/out",
        ]
        argv = [*prefix, *runner_argv(roots, spec, args, kwargs, rounds)]
        # a fixed hash seed: string hashing otherwise changes dict layouts from run to run
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=1800, check=False, env=env
        )
    match = INSTRUCTIONS.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise ABError(f"cachegrind on {spec} failed: {result.stderr.strip()[-800:]}")
    return int(match.group(1).replace(",", ""))
