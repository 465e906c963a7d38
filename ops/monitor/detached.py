"""A monitor in a process of its own, watching the process that started it.

Sampling from a thread of a busy Python process shares its GIL: at 10 Hz it slowed a
CPU-bound workload by 5-11% (``benchmarks/monitor_bench.py``). Here the parent writes the
run's header and its marks, and a child process (``python -m ops.monitor.detached``)
appends samples and alerts to the same JSON-lines file. The child stops when its stdin
closes or its parent is gone, so it never outlives the run.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ops.config.observe import MonitorConfig
from ops.lazy import lazy_module
from ops.logs import configure_logging
from ops.monitor.alerts import AlertEvent
from ops.monitor.run import (
    SeriesFile,
    configured_run,
    exit_record,
    mark_record,
    open_series,
    read_run,
)

psutil = lazy_module("psutil")

log = logging.getLogger("proofyard.monitor")

READY = "ready"


@dataclass
class Outcome:
    """What the child left in the series: samples taken, alerts raised, errors met."""

    samples: int = 0
    alerts: list[AlertEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class DetachedMonitor:
    """``start()`` returns once the child has taken its first sample; ``stop()`` collects
    its outcome. The parent's side costs nothing between marks."""

    def __init__(
        self,
        folder: Path,
        section: MonitorConfig,
        allow_hosts: list[str],
        label: str,
        interval_s: float | None = None,
    ) -> None:
        self.interval_s = interval_s or section.interval_s
        self.series = open_series(
            folder,
            section.keep_runs,
            {"label": label, "interval_s": self.interval_s},
            section.max_age_days,
        )
        self.path = self.series.path
        self._spec = {
            "path": str(self.path),
            "root_pid": os.getpid(),
            "interval_s": self.interval_s,
            "monitor": section.model_dump(mode="json"),
            "allow_hosts": list(allow_hosts),
            "log_level": logging.getLevelName(log.getEffectiveLevel()),
        }
        self._process: subprocess.Popen[str] | None = None
        self.outcome = Outcome()

    def start(self, timeout_s: float = 30.0) -> DetachedMonitor:
        """Start the sampler; a child that dies or stalls at start is an error of the run
        (reported once), not of the caller."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ops.monitor.detached"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": _import_path()},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(self._spec) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline().strip() if ready else ""
        if line != READY:
            self._process.kill()
            code = self._process.wait()
            self.series.error(f"the monitor process did not start (exit code {code})")
        return self

    def mark(self, kind: str, name: str, **fields: Any) -> None:
        self.series.write(mark_record(kind, name, **fields))

    def exited(self, status: int) -> None:
        """The watched work's exit status, for the run's summary."""
        self.series.write(exit_record(status))

    def stop(self, timeout_s: float = 10.0) -> Outcome:
        process = self._process
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=max(timeout_s, 2 * self.interval_s))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.series.error("the monitor process did not stop in time; killed")
        self.outcome = _outcome(read_run(self.path), self.series.errors)
        return self.outcome


def _import_path() -> str:
    """The child imports ``ops`` from where this process did (a checkout or site-packages)."""
    root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))


def _outcome(records: list[dict[str, Any]], parent_errors: list[str]) -> Outcome:
    outcome = Outcome(errors=list(parent_errors))
    names = [f.name for f in fields(AlertEvent)]
    for record in records:
        if record["type"] == "alert":
            outcome.alerts.append(AlertEvent(**{name: record[name] for name in names}))
        elif record["type"] == "end":
            outcome.samples = record["samples"]
            outcome.errors += record["errors"]
    if not any(r["type"] == "end" for r in records) and not parent_errors:
        outcome.errors.append("the monitor process ended without closing its series")
    return outcome


def _serve(spec: dict[str, Any]) -> None:
    """The child: sample the parent's tree until stdin closes or the parent is gone."""
    root_pid = spec["root_pid"]
    run = configured_run(
        SeriesFile(Path(spec["path"])),
        MonitorConfig.model_validate(spec["monitor"]),
        spec["allow_hosts"],
        root_pid,
        spec["interval_s"],
        exclude_pids=[os.getpid()],
    )
    run.sample_once()
    sys.stdout.write(READY + "\n")  # the protocol's one line to the parent
    sys.stdout.flush()
    with run:
        # the parent's death closes the pipe too, unless a forked grandchild holds it open
        while psutil.pid_exists(root_pid):
            readable, _, _ = select.select([sys.stdin], [], [], 1.0)
            if readable and not sys.stdin.readline():
                break


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    configure_logging(spec["log_level"])
    _serve(spec)


if __name__ == "__main__":
    main()
