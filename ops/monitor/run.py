"""A monitoring run: a background sampler writing JSON lines, marks and alerts.

Write errors (a full disk, a removed folder) are reported once and sampling goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.monitor.alerts import AlertEngine, AlertEvent, Sinks
from ops.monitor.sampler import Sampler

log = logging.getLogger("proofyard.monitor")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def prune_runs(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` runs (a run is RUN.jsonl plus RUN.html)."""
    runs = sorted(folder.glob("*.jsonl"), key=lambda p: p.name)
    removed = []
    for path in runs[: max(0, len(runs) - keep)]:
        for companion in (path, path.with_suffix(".html")):
            companion.unlink(missing_ok=True)
        removed.append(path)
    return removed


class MonitorRun:
    def __init__(
        self,
        folder: Path,
        sampler: Sampler,
        interval_s: float,
        *,
        engine: AlertEngine | None = None,
        sinks: Sinks | None = None,
        keep_runs: int = 10,
        label: str = "",
        on_sample: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.folder = folder
        self.sampler = sampler
        self.interval_s = interval_s
        self.engine = engine
        self.sinks = sinks or Sinks(())
        self.keep_runs = keep_runs
        self.run_id = new_run_id()
        self.path = folder / f"{self.run_id}.jsonl"
        self.label = label
        self.on_sample = on_sample
        self.errors: list[str] = []
        self._error_kinds: set[str] = set()
        self.alerts: list[AlertEvent] = []
        self.samples = 0
        self.last_sample: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proofyard-monitor", daemon=True)

    def start(self) -> MonitorRun:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            prune_runs(self.folder, self.keep_runs - 1)
        except OSError as exc:
            self._error(f"monitor folder {self.folder}: {exc}")
        self._write(
            {
                "type": "run",
                "run_id": self.run_id,
                "time": time.time(),
                "label": self.label,
                "interval_s": self.interval_s,
            }
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, 2 * self.interval_s))
        self._write(
            {
                "type": "end",
                "time": time.time(),
                "samples": self.samples,
                "errors": self.errors + self.sampler.errors + self.sinks.errors,
            }
        )

    def __enter__(self) -> MonitorRun:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, kind: str, **fields: Any) -> None:
        """Any other line of the series (a KPI reading, say)."""
        self._write({"type": kind, "time": fields.pop("time", time.time()), **fields})

    def raise_alert(self, event: AlertEvent) -> None:
        self.alerts.append(event)
        self.sinks.deliver(event)
        self._write({"type": "alert", **event.__dict__})

    def mark(self, kind: str, name: str, **fields: Any) -> None:
        """A boundary (test or pipeline step start and end) drawn on the dashboard."""
        self._write(
            {
                "type": "mark",
                "time": fields.pop("time", time.time()),
                "kind": kind,
                "name": name,
                **fields,
            }
        )

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
            self._error(f"sampling failed: {exc!r}")
            return {}
        self.samples += 1
        self.last_sample = sample
        self._write({"type": "sample", **sample})
        if self.on_sample is not None:
            self.on_sample(sample)
        for event in self.engine.evaluate(sample) if self.engine else []:
            self.raise_alert(event)
        return sample

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as exc:
                self._error(f"cannot write {self.path}: {exc}", kind="write")

    def _error(self, message: str, kind: str | None = None) -> None:
        """Report an error once per kind (a failing write is one problem, whatever errno
        each attempt gets)."""
        kind = kind or message
        if kind not in self._error_kinds:
            self._error_kinds.add(kind)
            self.errors.append(message)
            log.error("monitor: %s", message)


def read_run(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash or a full disk
    return records
