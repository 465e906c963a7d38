"""The project's own benchmark files (``benchmark.paths``), run by the project's pytest in
the project's interpreter, with its own conventions (``python_files``, ``python_functions``,
conftest fixtures); ``project_plugin/`` samples each benchmark there and the harness judges.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.interpreter import Interpreter
from ops.proc import NO_LIMITS, CommandResult, Limits, run_command

PLUGIN_DIR = Path(__file__).with_name("project_plugin")
WORKER_FLAG = "PROOFYARD_BENCH_WORKER"  # set in that pytest: the harness's conftest stays out
NEEDED = (("pytest", "pytest"), ("pytest_benchmark", "pytest-benchmark"))
USABLE_EXITS = (0, 1, 2, 5)  # passed, failed, interrupted by collection errors, none collected


@dataclass(frozen=True)
class ProjectRun:
    """What the project's pytest collected and measured, or why it could not."""

    items: list[str] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    expired: bool = False  # it waited for its nodes past WAIT_S, and measured nothing

    def collection_errors(self) -> dict[str, str]:
        """Files (node ids) that failed to collect, with the reason."""
        return {
            node: entry["failed"]
            for node, entry in self.results.items()
            if node not in self.items and "failed" in entry
        }


def _watching(
    future: Future[CommandResult], path: Path, progress: Callable[[int, int], None] | None
) -> CommandResult:
    """The run's result, while the worker's progress lines are read every second."""
    seen = (-1, -1)
    while True:
        try:
            return future.result(timeout=1.0)
        except FuturesTimeout:
            if progress is None:
                continue
            lines = path.read_text().splitlines() if path.exists() else []
            total = next((int(x.split()[1]) for x in lines if x.startswith("total ")), 0)
            done = sum(1 for line in lines if line.startswith("done "))
            if total and (done, total) != seen:
                progress(done, total)
                seen = (done, total)


@dataclass(frozen=True)
class Options:
    """How the project's pytest runs the benchmark files (the config's settings)."""

    import_roots: Sequence[Path] = ()
    rounds: int = 100
    max_seconds: float = 10.0
    precision: float = 0.0
    timeout_s: float = 3600
    cache_dir: Path | None = None
    allow_hosts: Sequence[str] = ()
    isolate: bool = True
    limits: Limits = NO_LIMITS


class _Launch:
    """One run of the project's pytest in a folder of its own (request, progress, results)."""

    def __init__(
        self,
        python: Interpreter,
        root: Path,
        paths: Sequence[str],
        options: Options,
        request: dict[str, Any],
        extra: Sequence[str] = (),
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="proofyard-bench-"))
        self.results = self.folder / "results.json"
        self.progress = self.folder / "progress.txt"
        self.pid: int | None = None
        self.what = f"pytest in {python.path} on {', '.join(paths)}"  # for its errors
        (self.folder / "request.json").write_text(
            json.dumps(
                {
                    "rounds": options.rounds,
                    "max_seconds": options.max_seconds,
                    "precision": options.precision,
                    "out": str(self.results),
                    "progress": str(self.progress),
                    **request,
                }
            )
        )
        # node ids relative to the project's root, even when an ini file above it (a project
        # nested in another repository) would move pytest's rootdir up there
        argv = [python.path, "-m", "pytest", *paths, "-q", f"--rootdir={root}"]
        argv += ["-p", "proofyard_bench_worker"]
        argv += ["-p", "no:xdist", "-p", "no:randomly"]  # pytest-benchmark measures serially
        if options.cache_dir is not None:
            argv += ["-o", f"cache_dir={options.cache_dir}"]
        argv += extra
        self._pool = ThreadPoolExecutor(1)
        self.future = self._pool.submit(
            run_command,
            argv,
            timeout_s=options.timeout_s,
            cwd=root,
            env={
                "PYTHONPATH": ":".join([str(PLUGIN_DIR), *map(str, options.import_roots)]),
                "PROOFYARD_BENCH_REQUEST": str(self.folder / "request.json"),
                WORKER_FLAG: "1",
            },
            allow_hosts=options.allow_hosts,
            isolate=options.isolate,
            limits=options.limits,
            on_start=self._started,
        )

    def _started(self, pid: int) -> None:
        self.pid = pid

    def ended(self, progress: Callable[[int, int], None] | None = None) -> ProjectRun:
        """Wait for the run to end; what it measured, or why it could not."""
        result = _watching(self.future, self.progress, progress)
        try:
            if result.returncode not in USABLE_EXITS or not self.results.is_file():
                return ProjectRun(
                    error=f"{self.what}: {result.describe()}\n{result.output.strip()[-3000:]}"
                )
            data = json.loads(self.results.read_text())
            return ProjectRun(data["items"], data["results"], expired=data.get("expired", False))
        finally:
            self.close()

    def stop(self) -> None:
        """End the run now (its process group), and wait for it."""
        if not self.future.done() and self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
        with contextlib.suppress(FuturesTimeout):
            self.future.result(timeout=30)
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _missing(python: Interpreter) -> str | None:
    for module, distribution in NEEDED:
        missing = python.missing(module, "benchmark.paths", distribution)
        if missing:
            return missing
    return None


def run_project_benchmarks(
    python: Interpreter,
    root: Path,
    paths: Sequence[str],
    options: Options,
    *,
    collect_only: bool = False,
    plans: Mapping[str, dict[str, int]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProjectRun:
    """Run (or only collect) the benchmark files under ``paths`` in ``python``;
    ``progress(done, total)`` hears of each benchmark as the project's pytest finishes it."""
    missing = _missing(python)
    if missing:
        return ProjectRun(error=missing)
    run = _Launch(
        python,
        root,
        paths,
        options,
        {"plans": dict(plans or {})},
        ["--collect-only"] if collect_only else [],
    )
    return run.ended(progress)


# how long the project's pytest waits to be told what to measure before it gives up (the
# harness then measures in a run of its own)
WAIT_S = 900


class ProjectBenchmarks:
    """One run of the project's pytest over its benchmark files: it collects them, says
    what it found, and waits to be told which to measure, with which plans. One start of
    the project's interpreter, pytest, plugins and imports instead of two: the separate
    collect-only run took ~1.5 s of a ~12 s benchmark session here."""

    def __init__(
        self, python: Interpreter, root: Path, paths: Sequence[str], options: Options
    ) -> None:
        self.python, self.root, self.options = python, root, options
        self._run: _Launch | None = None
        self._error = _missing(python)
        if self._error:
            return
        self._run = _Launch(
            python,
            root,
            paths,
            options,
            {"wait_s": WAIT_S},
            # a file that fails to collect is reported, and the others are still measured
            ["--continue-on-collection-errors"],
        )
        self._collected = self._run.folder / "collected.json"
        self._go = self._run.folder / "go.json"

    def collected(self) -> ProjectRun:
        """What the project's pytest collected: its items, and the files that failed."""
        if self._run is None:
            return ProjectRun(error=self._error)
        while not self._collected.is_file():
            if self._run.future.done():  # it ended before collecting: say why
                ended = self._run.ended()
                self._run = None
                self._error = ended.error or "the project's pytest ended before collecting"
                return ProjectRun(error=self._error)
            time.sleep(0.01)
        data = json.loads(self._collected.read_text())
        return ProjectRun(data["items"], data["results"])

    def measure(
        self,
        nodes: Sequence[str],
        plans: Mapping[str, dict[str, int]],
        progress: Callable[[int, int], None] | None = None,
    ) -> ProjectRun:
        """Measure ``nodes`` (each with its plan, if any) in the waiting run; in a run of
        their own if it gave up waiting."""
        if self._run is None:
            return ProjectRun(error=self._error)
        run, self._run = self._run, None
        go = json.dumps({"nodes": list(nodes), "plans": dict(plans)})
        write_atomic(self._go, go, durable=False)
        measured = run.ended(progress)
        if measured.error is None and measured.expired:
            return run_project_benchmarks(
                self.python, self.root, list(nodes), self.options, plans=plans, progress=progress
            )
        return measured

    def close(self) -> None:
        """Stop the run if nothing was asked of it (a deselected or interrupted session)."""
        if self._run is not None:
            self._run.stop()
            self._run = None
