"""Benchmark baselines and history, one JSON file per machine fingerprint, written
atomically under a lock: samples in calibration units, raw medians, and a bounded history."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.atomic import locked, move_aside, write_atomic


class CorruptStore(ValueError):
    """A machine's store file that holds no store; ``path`` names it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: corrupt benchmark store: {problem}")
        self.path = path


@dataclass(frozen=True)
class Saved:
    machine: str
    samples: list[float]  # calibration units
    calibration_s: float
    median_s: float
    plan: dict[str, int] | None = None  # the SamplingPlan its samples were taken with
    method: str | None = None  # how the samples were taken; only like is compared with like
    slices: list[float] | None = None  # each sample's calibration slice, seconds


def _saved(machine: str, entry: dict[str, Any]) -> Saved:
    return Saved(
        machine,
        entry["samples"],
        entry["calibration_s"],
        entry["median_s"],
        entry.get("plan"),
        entry.get("method"),
        entry.get("slices"),
    )


class BenchmarkStore:
    def __init__(self, folder: Path, history: int = 50) -> None:
        self.folder = folder
        self.history = history

    def _path(self, machine: str) -> Path:
        return self.folder / f"{machine}.json"

    def _load(self, machine: str) -> dict[str, Any]:
        path = self._path(machine)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CorruptStore(path, str(exc)) from None
        if not isinstance(data, dict):
            raise CorruptStore(path, f"expected an object, got {type(data).__name__}")
        return data

    def quarantine(self, path: Path) -> Path | None:
        """Move a corrupt store file aside (``NAME.corrupt-TIME``); ``None`` when another
        process already did, or it is readable again."""

        def still_corrupt() -> bool:
            try:
                self._load(path.stem)
            except CorruptStore:
                return True
            return False

        return move_aside(path, still_corrupt)

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
        slices: list[float] | None = None,
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
                    slices=slices,
                )
            entry["history"] = history[-self.history :]
            data[name] = entry
            write_atomic(path, json.dumps(data, indent=1, sort_keys=True))

    def history_of(self, name: str, machine: str) -> list[dict[str, Any]]:
        return self._load(machine).get(name, {}).get("history", [])
