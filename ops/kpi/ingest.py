"""Metrics a watched process reports without importing proofyard: lines appended to a
JSON-lines file, and a Prometheus text endpoint on loopback."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ops.netpolicy import decide


@dataclass
class Reading:
    name: str
    value: float
    step: float | None = None
    tags: dict[str, str] = field(default_factory=dict)


class JsonLinesTail:
    """New complete lines of a growing file: ``{"name", "value", "step"?, "tags"?}``.
    Reading starts at the file's end as it is when the tail is made: lines already there
    belong to earlier runs. A file truncated or replaced meanwhile is read from its start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset, self.identity = _position(path)
        self.errors: list[str] = []

    def read(self) -> list[Reading]:
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_dev, stat.st_ino) != self.identity or stat.st_size < self.offset:
                    self.offset, self.identity = 0, (stat.st_dev, stat.st_ino)
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits
        self.offset += len(complete)
        readings = []
        for line in complete.decode(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                readings.append(
                    Reading(
                        str(data["name"]),
                        float(data["value"]),
                        None if data.get("step") is None else float(data["step"]),
                        {str(k): str(v) for k, v in (data.get("tags") or {}).items()},
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                self.errors.append(f"{self.path}: bad metric line {line[:80]!r}: {exc}")
        return readings


def _position(path: Path) -> tuple[int, tuple[int, int] | None]:
    try:
        stat = path.stat()
    except OSError:
        return 0, None
    return stat.st_size, (stat.st_dev, stat.st_ino)


def parse_prometheus(text: str) -> list[Reading]:
    from prometheus_client.parser import text_string_to_metric_families

    readings = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            readings.append(
                Reading(
                    sample.name,
                    float(sample.value),
                    None,
                    {str(k): str(v) for k, v in sample.labels.items()},
                )
            )
    return readings


def scrape(url: str, allow_hosts: Sequence[str] = (), timeout_s: float = 5.0) -> list[Reading]:
    """Read a Prometheus text endpoint; only hosts the network policy allows (loopback)."""
    decision = decide(urlsplit(url).hostname or "", allow_hosts)
    if not decision.allowed:
        raise PermissionError(f"{url}: {decision.reason}")
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return parse_prometheus(response.read().decode("utf-8", errors="replace"))


def as_sample_fields(readings: list[Reading]) -> dict[str, Any]:
    from ops.kpi.history import metric_key

    return {metric_key(r.name, r.tags): r.value for r in readings}
