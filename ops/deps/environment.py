"""The installed environment, read from an interpreter through ``snapshot.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

SNAPSHOT = Path(__file__).with_name("snapshot.py")


class EnvironmentError_(Exception):
    """The interpreter could not be described."""


@dataclass(frozen=True)
class Installed:
    name: str  # canonical
    display_name: str
    version: str
    requires: tuple[str, ...]
    license_expression: str | None
    license: str | None
    classifiers: tuple[str, ...]
    top_level: tuple[str, ...]

    @property
    def parsed_version(self) -> Version | None:
        try:
            return Version(self.version)
        except InvalidVersion:
            return None

    def requirements(self) -> list[Requirement]:
        parsed = []
        for text in self.requires:
            try:
                parsed.append(Requirement(text))
            except InvalidRequirement:
                continue
        return parsed


@dataclass
class Environment:
    python: str
    executable: str
    markers: dict[str, str]
    stdlib: frozenset[str]
    installed: dict[str, Installed] = field(default_factory=dict)

    def import_owners(self) -> dict[str, set[str]]:
        """Top-level import name to the canonical names of the distributions providing it."""
        owners: dict[str, set[str]] = {}
        for dist in self.installed.values():
            for module in dist.top_level:
                owners.setdefault(module, set()).add(dist.name)
        return owners

    def marker_env(self, extra: str = "") -> dict[str, str]:
        return {**self.markers, "extra": extra}


def from_snapshot(data: dict[str, Any]) -> Environment:
    env = Environment(
        data["python"], data["executable"], data["markers"], frozenset(data["stdlib"])
    )
    for item in data["distributions"]:
        name = canonicalize_name(item["name"])
        env.installed[name] = Installed(
            name,
            item["name"],
            item["version"],
            tuple(item["requires"]),
            item.get("license_expression"),
            item.get("license"),
            tuple(item.get("classifiers", [])),
            tuple(item.get("top_level", [])),
        )
    return env


def read_environment(python: str | None = None, timeout_s: float = 60.0) -> Environment:
    """Describe the interpreter ``python`` (default: the one running the harness)."""
    argv = [python or sys.executable, "-I", str(SNAPSHOT)]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentError_(f"cannot run {argv[0]}: {exc}") from None
    if result.returncode != 0:
        raise EnvironmentError_(
            f"{argv[0]} failed to describe its packages: {result.stderr.strip()[-500:]}"
        )
    return from_snapshot(json.loads(result.stdout))
