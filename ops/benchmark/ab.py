"""Same-job A/B of a ``module:function``: the baseline from a git worktree of REF and the
current code, each in an interpreter of its own, timed in alternation and gated on the
paired ratios; and
instruction counts under valgrind's cachegrind (deterministic, about 65x slower).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ops.benchmark.calibration import kept_samples
from ops.benchmark.stats import Comparison, compare_paired
from ops.proc import supervised_argv

# Times ``rounds`` calls (after one warm-up) and prints the seconds of each as JSON; with
# rounds -1 it serves instead: each line read gives the calls to time, and it answers with
# the seconds per call and whether the scheduler switched it out meanwhile.
RUNNER = """
import importlib, json, os, resource, sys, time
answers = os.fdopen(os.dup(1), "w")  # what the function prints goes to stderr instead
os.dup2(2, 1)
sys.path[:0] = json.loads(sys.argv[1])
module, _, attr = sys.argv[2].partition(":")
function = importlib.import_module(module)
for part in attr.split("."):
    function = getattr(function, part)
args, kwargs, rounds = json.loads(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5])
function(*args, **kwargs)
if rounds < 0:
    print("ready", file=answers, flush=True)
    for line in sys.stdin:
        calls = int(line)
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
        start = time.perf_counter()
        for _ in range(calls):
            function(*args, **kwargs)
        seconds = (time.perf_counter() - start) / calls
        preempted = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw != switches
        print(json.dumps([seconds, preempted]), file=answers, flush=True)
    sys.exit(0)
times = []
for _ in range(rounds):
    start = time.perf_counter()
    function(*args, **kwargs)
    times.append(time.perf_counter() - start)
print(json.dumps(times), file=answers, flush=True)
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


class Runner:
    """A fresh interpreter holding ``spec`` imported from ``roots``, timing calls on request."""

    def __init__(
        self, roots: Sequence[Path], spec: str, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> None:
        self.spec = spec
        self._errors = tempfile.TemporaryFile("w+")  # a pipe could fill up and block it
        self.process = subprocess.Popen(
            supervised_argv(runner_argv(roots, spec, args, kwargs, -1)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self._answer(SAMPLE_TIMEOUT_S)  # "ready": imported and called once

    def time(self, calls: int) -> tuple[float, bool]:
        """Seconds per call over ``calls`` calls, and whether it was preempted meanwhile."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{calls}\n")
        self.process.stdin.flush()
        seconds, preempted = json.loads(self._answer(SAMPLE_TIMEOUT_S))
        return seconds, preempted

    def _answer(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            if ready:  # it exited: its stderr says why
                self.process.wait()
            why = self._stderr() if ready else f"no answer in {timeout_s:g} s"
            self.close()
            raise ABError(f"measuring {self.spec} failed: {why}")
        return line

    def _stderr(self) -> str:
        self._errors.seek(0)
        return self._errors.read().strip()[-800:] or f"exit {self.process.poll()}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the reaper ends whatever the code under test started
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self._errors):
            if stream is not None:
                stream.close()


SAMPLE_TIMEOUT_S = 600


def ab_compare(
    current: Sequence[Path],
    baseline: Sequence[Path],
    spec: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    pairs: int = 200,
    processes: int = 4,
    max_seconds: float = 10.0,
    min_sample_s: float = 0.002,
    min_effect: float = 0.05,
) -> Comparison:
    """The baseline and the current code, each imported in an interpreter of its own, timed
    in alternation sample by sample, so that the machine's slow phases hit both halves of a
    pair; a pair during which either was preempted is taken again. ``processes`` such pairs
    of interpreters, one after another, share the ``pairs`` and ``max_seconds``, and the
    verdict accounts for their differences (``compare_paired``). (A fresh pair of
    interpreters for every pair, 5 calls each, was tried first: under a parallel test run
    one pair in ten came out inverted and a threefold slowdown read as inconclusive; one
    long-lived pair read identical code as 17% slower.)"""
    groups: list[list[float]] = []
    base_times: list[float] = []
    calls = 0
    for _ in range(processes):
        runners = [Runner(baseline, spec, args, kwargs or {})]
        try:
            runners.append(Runner(current, spec, args, kwargs or {}))
            if not calls:
                call_s, _ = runners[0].time(1)
                calls = max(1, int(min_sample_s / call_s)) if call_s > 0 else 1
            ratios, times = _paired_ratios(
                runners[0], runners[1], calls, -(-pairs // processes), max_seconds / processes
            )
        finally:
            for runner in runners:
                runner.close()
        groups.append(ratios)
        base_times += times
    if not base_times:
        raise ABError("every pair was preempted: the machine is too busy to compare")
    return compare_paired(groups, min_effect=min_effect, baseline_s=statistics.median(base_times))


def _paired_ratios(
    baseline: Runner, current: Runner, calls: int, pairs: int, max_seconds: float
) -> tuple[list[float], list[float]]:
    """Ratios current/baseline of pairs no preemption touched, and the baseline's times."""
    orders = itertools.cycle([(baseline, current), (current, baseline)])

    def take() -> tuple[tuple[float, float], bool]:
        first, second = next(orders)
        first_s, first_preempted = first.time(calls)
        second_s, second_preempted = second.time(calls)
        base_s, current_s = (first_s, second_s) if first is baseline else (second_s, first_s)
        return (current_s / base_s, base_s), first_preempted or second_preempted

    kept, _ = kept_samples(take, pairs, max_seconds)
    return [ratio for ratio, _ in kept], [base_s for _, base_s in kept]


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
