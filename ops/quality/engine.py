"""Run the per-file analysis over a tree: content-hash cache, worker processes, time limits."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.atomic import locked, write_atomic
from ops.heap import no_cycle_collection
from ops.proc import worker_pool
from ops.quality.analysis import FileResult, analyse, content_hash

log = logging.getLogger("proofyard.quality")

ANALYSIS_VERSION = "5"
CHUNK_FILES = 16


@dataclass
class Settings:
    oldest: tuple[int, int] | None = None
    max_bytes: int = 2_000_000
    time_limit_s: float = 20.0

    def key(self) -> str:
        return f"v{ANALYSIS_VERSION}|{self.oldest}|{self.max_bytes}"


@dataclass
class QualityRun:
    results: dict[str, FileResult] = field(default_factory=dict)
    cached: int = 0
    analysed: int = 0
    seconds: float = 0.0


class _FileTimeout(Exception):
    pass


def _analyse_chunk(items: list[tuple[str, str]], settings: Settings) -> list[dict]:
    """In a worker process: analyse each (relative, absolute) path under a per-file limit of
    CPU time (``ITIMER_PROF``: the process's own CPU, so a loaded machine stops no file that
    a quiet one analyses; a wall-clock limit stopped a valid 757 kB stdlib file in one loaded
    run and not in another).

    The alarm can land inside the parser's C code, which then reports a SystemError instead
    of our exception; whether the alarm fired tells the two apart. It can also land in a
    weakref or GC callback, where Python prints the exception and drops it: so the alarm
    repeats every 50 ms until the file is done.

    The cycle collector is off meanwhile: trees and tokens hold no cycles, and its passes
    over the young objects of every parse cost a quarter of the parse time.
    """
    fired: list[bool] = []

    def alarm(_signum, _frame):
        fired.append(True)
        raise _FileTimeout

    signal.signal(signal.SIGPROF, alarm)
    with no_cycle_collection():
        return [_analyse_one(relative, absolute, settings, fired) for relative, absolute in items]


def _analyse_one(relative: str, absolute: str, settings: Settings, fired: list[bool]) -> dict:
    try:
        raw = Path(absolute).read_bytes()
    except OSError as exc:
        return FileResult(relative, parse_error=f"cannot read: {exc}").to_dict()
    fired.clear()
    signal.setitimer(signal.ITIMER_PROF, settings.time_limit_s, 0.05)
    try:
        try:
            result = analyse(relative, raw, oldest=settings.oldest, max_bytes=settings.max_bytes)
        except SystemError:
            if not fired:
                raise
            raise _FileTimeout from None
    except _FileTimeout:
        signal.setitimer(signal.ITIMER_PROF, 0)  # before a repeat can land here
        result = FileResult(
            relative,
            size=len(raw),
            lines=raw.count(b"\n"),
            summarised=f"analysis stopped after {settings.time_limit_s:g} s of CPU time",
        )
    except RecursionError:
        result = FileResult(relative, size=len(raw), parse_error="too deeply nested to analyse")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return result.to_dict()


def _load_cache(path: Path) -> dict[str, dict]:
    """The per-file cache; an unreadable one is rebuilt, with a note in the log."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.info("quality cache %s is unreadable (%s): rebuilding it", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def run_analysis(
    root: Path,
    files: Sequence[Path],
    *,
    settings: Settings,
    cache_file: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> QualityRun:
    """Analyse ``files`` (under ``root``), reusing cached results for unchanged contents;
    ``progress(done, total)`` hears of each chunk of files analysed.

    Concurrent runs (xdist workers) serialise on the cache lock, so the second one finds the
    first one's results instead of doing the work again.
    """
    start = time.perf_counter()
    with no_cycle_collection():  # the results: millions of acyclic dicts and lists
        if cache_file is None:
            return _run(root, files, settings, {}, workers, start, progress)[0]
        with locked(cache_file):
            cache = _load_cache(cache_file)
            run, fresh = _run(root, files, settings, cache, workers, start, progress)
            if run.analysed:
                write_atomic(cache_file, json.dumps(fresh, separators=(",", ":")))
    run.seconds = time.perf_counter() - start
    return run


def _run(
    root: Path,
    files: Sequence[Path],
    settings: Settings,
    cache: dict[str, dict],
    workers: int | None,
    start: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[QualityRun, dict[str, dict]]:
    run = QualityRun()
    fresh: dict[str, dict] = {}
    todo: list[tuple[str, str]] = []
    keys: dict[str, str] = {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            run.results[relative] = FileResult(relative, parse_error=f"cannot read: {exc}")
            continue
        key = content_hash(raw, f"{settings.key()}|{relative}")
        keys[relative] = key
        hit = cache.get(key)
        if hit is not None:
            run.results[relative] = FileResult.from_dict(hit)
            fresh[key] = hit
            run.cached += 1
        else:
            todo.append((relative, str(path)))
    for data in _analyse_all(todo, settings, workers):
        result = FileResult.from_dict(data)
        run.results[result.path] = result
        fresh[keys[result.path]] = data
        run.analysed += 1
        if progress is not None and run.analysed % CHUNK_FILES == 0:
            progress(run.analysed, len(todo))
    if progress is not None and todo:
        progress(run.analysed, len(todo))
    run.results = dict(sorted(run.results.items()))
    run.seconds = time.perf_counter() - start
    return run, fresh


def _analyse_all(
    todo: list[tuple[str, str]], settings: Settings, workers: int | None
) -> Iterator[dict]:
    workers = workers if workers is not None else len(os.sched_getaffinity(0))
    chunks = [todo[i : i + CHUNK_FILES] for i in range(0, len(todo), CHUNK_FILES)]
    if not chunks:
        return
    # always in worker processes, one at least: the time limit's signal must never land in
    # the calling process (pytest's, whose own handlers it would interrupt)
    workers = max(1, min(workers, len(chunks)))
    with worker_pool(workers, "fork") as pool:  # results as the chunks finish, in order
        yield from (
            item
            for part in pool.map(_analyse_chunk, chunks, [settings] * len(chunks))
            for item in part
        )
