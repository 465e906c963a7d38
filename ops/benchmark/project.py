"""The project's own benchmark files (``benchmark.paths``), run by the project's pytest in
the project's interpreter, with its own conventions (``python_files``, ``python_functions``,
conftest fixtures); ``project_plugin/`` samples each benchmark there and the harness judges.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def collection_errors(self) -> dict[str, str]:
        """Files (node ids) that failed to collect, with the reason."""
        return {
            node: entry["failed"]
            for node, entry in self.results.items()
            if node not in self.items and "failed" in entry
        }


def _watching(
    run: Callable[[], CommandResult], path: Path, progress: Callable[[int, int], None]
) -> CommandResult:
    """``run()`` in a thread while the worker's progress lines are read every second."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run)
        seen = (-1, -1)
        while True:
            try:
                return future.result(timeout=1.0)
            except FuturesTimeout:
                lines = path.read_text().splitlines() if path.exists() else []
                total = next((int(x.split()[1]) for x in lines if x.startswith("total ")), 0)
                done = sum(1 for line in lines if line.startswith("done "))
                if total and (done, total) != seen:
                    progress(done, total)
                    seen = (done, total)


def run_project_benchmarks(
    python: Interpreter,
    root: Path,
    paths: Sequence[str],
    *,
    import_roots: Sequence[Path] = (),
    collect_only: bool = False,
    plans: Mapping[str, dict[str, int]] | None = None,
    rounds: int = 100,
    max_seconds: float = 10.0,
    precision: float = 0.0,
    timeout_s: float = 3600,
    cache_dir: Path | None = None,
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    limits: Limits = NO_LIMITS,
    progress: Callable[[int, int], None] | None = None,
) -> ProjectRun:
    """Run (or only collect) the benchmark files under ``paths`` in ``python``;
    ``progress(done, total)`` hears of each benchmark as the project's pytest finishes it."""
    for module, distribution in NEEDED:
        missing = python.missing(module, "benchmark.paths", distribution)
        if missing:
            return ProjectRun(error=missing)
    with tempfile.TemporaryDirectory(prefix="proofyard-bench-") as folder:
        out = Path(folder, "results.json")
        request = Path(folder, "request.json")
        progress_file = Path(folder, "progress.txt")
        request.write_text(
            json.dumps(
                {
                    "plans": dict(plans or {}),
                    "rounds": rounds,
                    "max_seconds": max_seconds,
                    "precision": precision,
                    "out": str(out),
                    "progress": str(progress_file) if progress else "",
                }
            )
        )
        # node ids relative to the project's root, even when an ini file above it (a project
        # nested in another repository) would move pytest's rootdir up there
        argv = [python.path, "-m", "pytest", *paths, "-q", f"--rootdir={root}"]
        argv += ["-p", "proofyard_bench_worker"]
        argv += ["-p", "no:xdist", "-p", "no:randomly"]  # pytest-benchmark measures serially
        if cache_dir is not None:
            argv += ["-o", f"cache_dir={cache_dir}"]
        if collect_only:
            argv.append("--collect-only")
        run = functools.partial(
            run_command,
            argv,
            timeout_s=timeout_s,
            cwd=root,
            env={
                "PYTHONPATH": ":".join([str(PLUGIN_DIR), *map(str, import_roots)]),
                "PROOFYARD_BENCH_REQUEST": str(request),
                WORKER_FLAG: "1",
            },
            allow_hosts=allow_hosts,
            isolate=isolate,
            limits=limits,
        )
        result = _watching(run, progress_file, progress) if progress else run()
        if result.returncode not in USABLE_EXITS or not out.is_file():
            return ProjectRun(
                error=f"pytest in {python.path} on {', '.join(paths)}: {result.describe()}\n"
                f"{result.output.strip()[-3000:]}"
            )
        data = json.loads(out.read_text())
    return ProjectRun(data["items"], data["results"])
