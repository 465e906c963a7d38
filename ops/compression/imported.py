"""Codec baselines a project already keeps, imported once into the baseline store.

The file (``compression.import_baseline``, JSON) maps ``CODEC/DATASET`` (the names in
``compression.codecs`` and ``compression.datasets``) to what was measured before, either as
figures or as sizes per sample::

    {"zlib-6/sources": {"ratio": 3.21, "rel_frobenius": 0.0},
     "int8/weights": {"samples": [{"original_bytes": 4096, "payload_bytes": 1040}, ...]}}

A size list becomes the ratio of the summed sizes. A case's value is taken from the file
only while the store has none for it: afterwards the store (and ``--update-baselines``)
rule, and the file is not read for that case again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ops.baseline import BaselineStore

FIGURES = {"ratio": True, "rel_frobenius": False}  # figure: higher is better


class ImportError_(Exception):
    """The file is unreadable or not in the documented format; the message says where."""


def read(path: Path) -> dict[str, dict[str, float]]:
    """``{case: {figure: value}}`` from the file, sizes turned into ratios."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ImportError_(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ImportError_(f"{path}: expected an object of CODEC/DATASET entries")
    cases: dict[str, dict[str, float]] = {}
    for case, entry in data.items():
        if not isinstance(entry, dict):
            raise ImportError_(f"{path}: {case}: expected an object")
        figures = {k: float(v) for k, v in entry.items() if k in FIGURES}
        samples = entry.get("samples")
        if samples is not None:
            figures["ratio"] = _ratio(path, case, samples)
        if not figures:
            raise ImportError_(f"{path}: {case}: give ratio, rel_frobenius or samples")
        cases[case] = figures
    return cases


def _ratio(path: Path, case: str, samples: Any) -> float:
    try:
        original = sum(int(s["original_bytes"]) for s in samples)
        payload = sum(int(s["payload_bytes"]) for s in samples)
    except (TypeError, KeyError, ValueError):
        raise ImportError_(
            f"{path}: {case}: samples must be a list of {{original_bytes, payload_bytes}}"
        ) from None
    if payload <= 0:
        raise ImportError_(f"{path}: {case}: payload_bytes sum to {payload}")
    return original / payload


def seed(store: BaselineStore, cases: dict[str, dict[str, float]], case: str) -> list[str]:
    """Store the imported figures of ``case`` the store has no value for; their keys."""
    seeded = []
    for figure, value in cases.get(case, {}).items():
        key = f"{case}/{figure}"
        if store.get(key) is None:
            store.ratchet(key, value, higher_is_better=FIGURES[figure])
            seeded.append(key)
    return seeded
