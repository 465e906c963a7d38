"""Offline vulnerability matching against a folder of OSV-format advisories (PyPI)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ops.deps.environment import Installed


@dataclass
class AdvisoryDatabase:
    folder: Path
    advisories: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def date(self) -> str:
        """The newest 'modified' time of any advisory: how current the database is."""
        dates = [str(a.get("modified", "")) for a in self.advisories if a.get("modified")]
        return max(dates) if dates else "unknown"


def load_database(folder: Path) -> AdvisoryDatabase:
    database = AdvisoryDatabase(folder)
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            database.errors.append(f"{path}: {exc}")
            continue
        for advisory in data if isinstance(data, list) else [data]:
            if isinstance(advisory, dict) and "id" in advisory:
                database.advisories.append(advisory)
    return database


@dataclass(frozen=True)
class Match:
    advisory_id: str
    name: str
    version: str
    summary: str
    fixed: tuple[str, ...]


def _in_ranges(version: Version, ranges: Iterable[dict]) -> bool:
    """OSV range semantics: walk the events in version order, switching the state."""
    for entry in ranges:
        if entry.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        affected = False
        for event in sorted(entry.get("events", []), key=_event_version):
            at = _event_version(event)
            if "introduced" in event and at <= version:
                affected = True
            elif "fixed" in event and at <= version:
                affected = False
            elif "last_affected" in event and at < version:
                affected = False
        if affected:
            return True
    return False


def _event_version(event: dict) -> Version:
    value = next(iter(event.values()))
    return Version("0") if value == "0" else Version(value)


def match(database: AdvisoryDatabase, installed: Iterable[Installed]) -> list[Match]:
    by_name: dict[str, list[dict]] = {}
    for advisory in database.advisories:
        for affected in advisory.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") == "PyPI" and package.get("name"):
                by_name.setdefault(canonicalize_name(package["name"]), []).append(
                    {"advisory": advisory, "affected": affected}
                )
    matches = []
    for dist in installed:
        for entry in by_name.get(dist.name, []):
            advisory, affected = entry["advisory"], entry["affected"]
            try:
                version = Version(dist.version)
                hit = dist.version in affected.get("versions", []) or _in_ranges(
                    version, affected.get("ranges", [])
                )
            except InvalidVersion:
                hit = dist.version in affected.get("versions", [])
            if hit:
                fixed = tuple(
                    event["fixed"]
                    for r in affected.get("ranges", [])
                    for event in r.get("events", [])
                    if "fixed" in event
                )
                matches.append(
                    Match(
                        advisory["id"], dist.name, dist.version, advisory.get("summary", ""), fixed
                    )
                )
    return sorted(matches, key=lambda m: (m.name, m.advisory_id))
