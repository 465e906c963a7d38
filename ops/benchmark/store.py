"""Benchmark baselines and history, one JSON file per machine fingerprint, written
atomically under a lock: samples in calibration units, raw medians, and a bounded history."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.atomic import locked, write_atomic


@dataclass(frozen=True)
class Saved:
    machine: str
    samples: list[float]  # calibration units
    calibration_s: float
    median_s: float
    plan: dict[str, int] | None = None  # the SamplingPlan its samples were taken with
    method: str | None = None  # how the samples were taken; only like is compared with like


def _saved(machine: str, entry: dict[str, Any]) -> Saved:
    return Saved(
        machine,
        entry["samples"],
        entry["calibration_s"],
        entry["median_s"],
        entry.get("plan"),
        entry.get("method"),
    )


class BenchmarkStore:
    def __init__(self, folder: Path, history: int = 50) -> None:
        self.folder = folder
        self.history = history

    def _path(self, machine: str) -> Path:
        return self.folder / f"{machine}.json"

    def _load(self, machine: str) -> dict[str, Any]:
        try:
            return json.loads(self._path(machine).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{self._path(machine)}: corrupt benchmark store: {exc}") from None

    def baseline(self, name: str, machine: str) -> tuple[Saved | None, bool]:
        """This machine's baseline; else another machine's, compared in calibrated units
        (the flag says it came from another machine)."""
        entry = self._load(machine).get(name)
        if entry and "samples" in entry:
            return _saved(machine, entry), False
        for path in sorted(self.folder.glob("*.json")):
            other = path.stem
            if other != machine:
                entry = self._load(other).get(name)
                if entry and "samples" in entry:
                    return _saved(other, entry), True
        return None, False

    def save(
        self,
        name: str,
        machine: str,
        samples: list[float],
        calibration_s: float,
        commit: str | None,
        update_baseline: bool,
        plan: dict[str, int] | None = None,
        method: str | None = None,
    ) -> None:
        """Append to the history; replace the baseline samples only when asked."""
        path = self._path(machine)
        with locked(path):
            data = self._load(machine)
            entry = data.get(name, {})
            median_units = statistics.median(samples)
            history = entry.get("history", []) + [
                {
                    "time": time.time(),
                    "commit": commit,
                    "median_units": median_units,
                    "median_s": median_units * calibration_s,
                }
            ]
            if update_baseline:
                entry.update(
                    samples=samples,
                    calibration_s=calibration_s,
                    median_s=median_units * calibration_s,
                    plan=plan,
                    method=method,
                )
            entry["history"] = history[-self.history :]
            data[name] = entry
            write_atomic(path, json.dumps(data, indent=1, sort_keys=True))

    def history_of(self, name: str, machine: str) -> list[dict[str, Any]]:
        return self._load(machine).get(name, {}).get("history", [])
