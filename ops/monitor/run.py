"""A monitoring run: a series of JSON lines (samples, marks, alerts) and the sampling loop.

Write errors (a full disk, a removed folder) are reported once and sampling goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ops.config.observe import MonitorConfig
from ops.monitor.alerts import AlertEngine, AlertEvent, Sinks
from ops.monitor.sampler import Sampler

log = logging.getLogger("proofyard.monitor")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def prune_runs(
    folder: Path, keep: int, max_age_days: float | None = None, now: float | None = None
) -> list[Path]:
    """Delete all but the newest ``keep`` runs, and any run last written more than
    ``max_age_days`` ago (a run is RUN.jsonl, RUN.html and RUN.summary.json)."""
    runs = sorted(folder.glob("*.jsonl"), key=lambda p: p.name)
    doomed = runs[: max(0, len(runs) - keep)]
    if max_age_days is not None:
        cutoff = (time.time() if now is None else now) - max_age_days * 86400
        doomed += [path for path in runs if path not in doomed and _mtime(path) < cutoff]
    for path in doomed:
        for companion in (path, path.with_suffix(".html"), path.with_suffix(".summary.json")):
            companion.unlink(missing_ok=True)
    return doomed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone already: nothing to remove


class SeriesFile:
    """A run's JSON-lines file. Each record is one ``write`` on an ``O_APPEND`` descriptor,
    so a sampler process and the process it watches can append to the same file without
    interleaving. Write errors (a full disk, a removed folder) are reported once per kind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[str] = []
        self._error_kinds: set[str] = set()
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                self.error(f"cannot write {self.path}: {exc}", kind="write")

    def error(self, message: str, kind: str | None = None) -> None:
        """Report an error once per kind (a failing write is one problem, whatever errno
        each attempt gets)."""
        kind = kind or message
        if kind not in self._error_kinds:
            self._error_kinds.add(kind)
            self.errors.append(message)
            log.error("monitor: %s", message)


def open_series(
    folder: Path, keep_runs: int, header: dict[str, Any], max_age_days: float | None = None
) -> SeriesFile:
    """A new run's file under ``folder`` (older runs pruned), its first line ``header``."""
    run_id = new_run_id()
    series = SeriesFile(folder / f"{run_id}.jsonl")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prune_runs(folder, keep_runs - 1, max_age_days)
    except OSError as exc:
        series.error(f"monitor folder {folder}: {exc}")
    series.write({"type": "run", "run_id": run_id, "time": time.time(), **header})
    return series


class MonitorRun:
    """Samples in a background thread of this process into a series. Used where this
    process does little else (``ops monitor watch``, the detached session monitor); a busy
    process should watch itself from another one (``ops.monitor.detached``)."""

    def __init__(
        self,
        series: SeriesFile,
        sampler: Sampler,
        interval_s: float,
        *,
        engine: AlertEngine | None = None,
        sinks: Sinks | None = None,
        on_sample: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.series = series
        self.path = series.path
        self.sampler = sampler
        self.interval_s = interval_s
        self.engine = engine
        self.sinks = sinks or Sinks(())
        self.on_sample = on_sample
        self.alerts: list[AlertEvent] = []
        self.samples = 0
        self.last_sample: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proofyard-monitor", daemon=True)

    @property
    def errors(self) -> list[str]:
        return self.series.errors + self.sampler.errors + self.sinks.errors

    def start(self) -> MonitorRun:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, 2 * self.interval_s))
        self.series.write(
            {"type": "end", "time": time.time(), "samples": self.samples, "errors": self.errors}
        )

    def __enter__(self) -> MonitorRun:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, kind: str, **fields: Any) -> None:
        """Any other line of the series (a KPI reading, say)."""
        self.series.write({"type": kind, "time": fields.pop("time", time.time()), **fields})

    def raise_alert(self, event: AlertEvent) -> None:
        self.alerts.append(event)
        self.sinks.deliver(event)
        self.series.write({"type": "alert", **event.__dict__})

    def mark(self, kind: str, name: str, **fields: Any) -> None:
        """A boundary (test or pipeline step start and end) drawn on the dashboard."""
        self.series.write(mark_record(kind, name, **fields))

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self) -> dict[str, Any]:
        try:
            sample = self.sampler.sample()
        except Exception as exc:  # psutil on an exotic platform: report once, keep going
            self.series.error(f"sampling failed: {exc!r}")
            return {}
        self.samples += 1
        self.last_sample = sample
        self.series.write({"type": "sample", **sample})
        if self.on_sample is not None:
            self.on_sample(sample)
        for event in self.engine.evaluate(sample) if self.engine else []:
            self.raise_alert(event)
        return sample


def mark_record(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "mark",
        "time": fields.pop("time", time.time()),
        "kind": kind,
        "name": name,
        **fields,
    }


def exit_record(status: int | None) -> dict[str, Any]:
    return {"type": "exit", "time": time.time(), "exit_status": status}


def read_run(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash or a full disk
    return records


def configured_run(
    series: SeriesFile,
    section: MonitorConfig,
    allow_hosts: Sequence[str],
    pid: int | None,
    interval_s: float,
    *,
    exclude_pids: Sequence[int] = (),
    on_sample: Callable[[dict[str, Any]], None] | None = None,
    host: bool = False,
) -> MonitorRun:
    """A run sampling ``pid``'s tree (or, with ``host``, the machine only) as the config's
    monitor section says."""
    sampler = Sampler(
        pid,
        section.disk_paths,
        section.gpu,
        exclude_pids=exclude_pids,
        host=host,
        top=section.top_processes,
    )
    return MonitorRun(
        series,
        sampler,
        interval_s,
        engine=AlertEngine(section.alerts),
        sinks=Sinks(section.sinks, section.webhook, allow_hosts),
        on_sample=on_sample,
    )
