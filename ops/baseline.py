"""The baseline store shared by ratcheting gates: one JSON file per suite, written atomically."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ops.atomic import locked, move_aside, write_atomic

Verdict = Literal["no-baseline", "pass", "improved", "regression"]
FORMAT_VERSION = 1


class BaselineError(Exception):
    """A baseline file that cannot be read or is not a baseline store."""


class CorruptBaseline(BaselineError):
    """A baseline file that was read but holds no baseline store (see ``quarantine``)."""


@dataclass(frozen=True)
class Comparison:
    """A current value judged against its baseline."""

    key: str
    current: float
    baseline: float | None
    verdict: Verdict
    higher_is_better: bool
    tolerance: float

    @property
    def limit(self) -> float | None:
        """The worst value that still passes."""
        if self.baseline is None:
            return None
        factor = 1 - self.tolerance if self.higher_is_better else 1 + self.tolerance
        return (
            self.baseline * factor
            if self.baseline
            else self.tolerance * (-1 if self.higher_is_better else 1)
        )

    def describe(self) -> str:
        if self.baseline is None:
            return f"{self.key}: no baseline yet (current {self.current:g})"
        sense = "higher" if self.higher_is_better else "lower"
        return (
            f"{self.key}: {self.current:g} vs baseline {self.baseline:g} "
            f"(limit {self.limit:g}, {sense} is better): {self.verdict}"
        )


def _parse(text: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The entries of a store's text, or what is wrong with it (after the file name)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f":{exc.lineno}:{exc.colno}: corrupt baseline (invalid JSON: {exc.msg})"
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        return {}, ": corrupt baseline (expected an object with 'entries')"
    return data["entries"], None


def compare(
    key: str,
    current: float,
    baseline: float | None,
    *,
    higher_is_better: bool,
    tolerance: float = 0.0,
) -> Comparison:
    """Judge ``current`` against ``baseline`` allowing a relative ``tolerance``."""
    if baseline is None:
        return Comparison(key, current, None, "no-baseline", higher_is_better, tolerance)
    delta = current - baseline if higher_is_better else baseline - current
    allowed = abs(baseline) * tolerance if baseline else tolerance
    if delta > 0:
        verdict: Verdict = "improved"
    elif -delta <= allowed:
        verdict = "pass"
    else:
        verdict = "regression"
    return Comparison(key, current, baseline, verdict, higher_is_better, tolerance)


class BaselineStore:
    """Baselines of one suite: ``{key: {value, unit, higher_is_better, updated, history}}``."""

    def __init__(self, path: Path, history: int = 20) -> None:
        self.path = Path(path)
        self.history = history

    def load(self) -> dict[str, dict[str, Any]]:
        """All entries; an absent file is an empty store, a corrupt one a BaselineError."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"{self.path}: cannot read baseline: {exc}") from None
        entries, problem = _parse(text)
        if problem:
            raise CorruptBaseline(f"{self.path}{problem}")
        return entries

    def quarantine(self) -> Path | None:
        """Move a corrupt store aside (``NAME.corrupt-TIME``); ``None`` when another process
        already did, or the file is readable again."""

        def still_corrupt() -> bool:
            try:
                return _parse(self.path.read_text(encoding="utf-8"))[1] is not None
            except (OSError, UnicodeDecodeError):
                return False

        return move_aside(self.path, still_corrupt)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.load().get(key)

    def compare(
        self,
        key: str,
        current: float,
        *,
        higher_is_better: bool,
        tolerance: float = 0.0,
    ) -> Comparison:
        """Judge ``current`` against the baseline value (deterministic figures: timings go
        through the benchmark gate's statistics instead)."""
        entry = self.get(key)
        baseline = None if entry is None else float(entry["value"])
        return compare(
            key, current, baseline, higher_is_better=higher_is_better, tolerance=tolerance
        )

    def ratchet(self, key: str, current: float, *, higher_is_better: bool, unit: str = "") -> bool:
        """Record ``current``: set a missing baseline or tighten an improved one.

        A worse value never loosens the baseline. Returns whether the baseline value changed.
        """
        with locked(self.path):
            entries = self.load()
            entry = entries.get(key)
            now = time.time()
            changed = (
                entry is None
                or compare(
                    key, current, float(entry["value"]), higher_is_better=higher_is_better
                ).verdict
                == "improved"
            )
            history = [] if entry is None else list(entry.get("history", []))
            history = (history + [{"value": current, "time": now}])[-self.history :]
            value = current if changed else entry["value"]
            entries[key] = {
                "value": value,
                "unit": unit,
                "higher_is_better": higher_is_better,
                "updated": now if changed else entry.get("updated", now),
                "history": history,
            }
            self._write(entries)
            return changed

    def counts(self, key: str) -> dict[str, int] | None:
        """The finding counts stored under ``key`` (fingerprint to count), if any."""
        entry = self.get(key)
        return None if entry is None else dict(entry.get("counts", {}))

    def ratchet_counts(self, key: str, counts: dict[str, int], accept_new: bool = False) -> bool:
        """Record finding counts: set them when absent, else only ever lower them.

        A fingerprint's count drops when fewer are found; one that disappears is dropped;
        new fingerprints (or counts above the baseline's) are added only with ``accept_new``.
        Returns whether it changed.
        """
        with locked(self.path):
            entries = self.load()
            entry = entries.get(key)
            if entry is None:
                tightened = dict(counts)
            elif accept_new:
                tightened = dict(counts)
            else:
                old = entry.get("counts", {})
                tightened = {
                    fp: min(n, counts.get(fp, 0)) for fp, n in old.items() if counts.get(fp, 0) > 0
                }
            changed = entry is None or tightened != entry.get("counts")
            history = [] if entry is None else list(entry.get("history", []))
            history = (history + [{"value": _findings(counts), "time": time.time()}])[
                -self.history :
            ]
            entries[key] = {
                "value": _findings(tightened),
                "counts": tightened,
                "higher_is_better": False,
                "updated": time.time(),
                "history": history,
            }
            self._write(entries)
            return changed

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        document = {"format": FORMAT_VERSION, "entries": dict(sorted(entries.items()))}
        write_atomic(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")


def _findings(counts: dict[str, int]) -> int:
    """How many findings ``counts`` holds: the ``moved:`` keys of ``ops.quality.ratchet``
    count the same findings again, without their file."""
    return sum(n for fingerprint, n in counts.items() if not fingerprint.startswith("moved:"))
