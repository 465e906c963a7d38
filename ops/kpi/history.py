"""The metric history: one JSON file per run (written atomically), pruned by count and age."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.atomic import move_aside, write_atomic


def metric_key(name: str, tags: dict[str, str] | None = None) -> str:
    """``name{k=v,...}`` with tags sorted, or the bare name."""
    if not tags:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(tags.items())) + "}"


@dataclass
class RunRecord:
    """One run's metrics. ``job`` names a repeated job (a watched command): each of its
    runs is expected to report the same metrics. ``exit_status`` is None while unknown."""

    run_id: str
    time: float
    source: str
    commit: str | None = None
    machine: str = ""
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    job: str = ""
    exit_status: int | None = None

    @property
    def crashed(self) -> bool:
        return self.exit_status not in (0, None)

    def add(
        self,
        name: str,
        value: float,
        step: float | None = None,
        tags: dict[str, str] | None = None,
        unit: str = "",
    ) -> None:
        """The run's value of a metric is its last one; steps keep the series."""
        entry = self.metrics.setdefault(
            metric_key(name, tags), {"value": value, "unit": unit, "series": []}
        )
        entry["value"] = float(value)
        if step is not None:
            entry["series"].append([float(step), float(value)])


def new_run(source: str, root: Path | None = None, job: str = "") -> RunRecord:
    return RunRecord(
        time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        time.time(),
        source,
        git_commit(root) if root else None,
        machine_fingerprint(),
        job=job,
    )


def git_commit(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def machine_fingerprint() -> str:
    """A short hash of what makes timings comparable: CPU model and count, memory, OS."""
    model = platform.processor()
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            model,
        )
    except OSError:
        pass
    memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    text = f"{platform.machine()}|{model}|{os.cpu_count()}|{memory_gb}|{platform.system()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read(path: Path) -> RunRecord | None:
    try:
        return RunRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


class History:
    def __init__(self, folder: Path, keep_runs: int = 200, max_age_days: float = 90.0) -> None:
        self.folder = folder
        self.keep_runs = keep_runs
        self.max_age_days = max_age_days

    def append(self, record: RunRecord) -> Path:
        path = self.folder / f"{record.run_id}.json"
        write_atomic(path, json.dumps(asdict(record), separators=(",", ":")))
        self.prune(now=record.time)
        return path

    def runs(self) -> list[RunRecord]:
        """Every readable run, oldest first (unreadable files are skipped: see ``corrupt``)."""
        records = [record for path in self.folder.glob("*.json") if (record := _read(path))]
        return sorted(records, key=lambda r: (r.time, r.run_id))

    def corrupt(self) -> list[Path]:
        """The run files that cannot be read as runs, sorted."""
        return sorted(path for path in self.folder.glob("*.json") if _read(path) is None)

    def quarantine(self, path: Path) -> Path | None:
        """Move a corrupt run file aside (``NAME.corrupt-TIME``), once."""
        return move_aside(path, lambda: _read(path) is None)

    def prune(self, now: float | None = None) -> int:
        now = now if now is not None else time.time()
        runs = self.runs()
        too_old = [r for r in runs if now - r.time > self.max_age_days * 86400]
        keep = [r for r in runs if r not in too_old]
        surplus = keep[: max(0, len(keep) - self.keep_runs)]
        for record in [*too_old, *surplus]:
            (self.folder / f"{record.run_id}.json").unlink(missing_ok=True)
        return len(too_old) + len(surplus)
