"""The latest KPI values in Prometheus's text format, every name and label made valid.

Rendered by prometheus_client, which escapes label values (quotes, backslashes, newlines),
so a metric key from a project's log cannot add lines or labels to the export.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ops.lazy import lazy_module

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

prometheus_client = lazy_module("prometheus_client")

PREFIX = "proofyard_"
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    return PREFIX + _INVALID_NAME.sub("_", name)


def label_name(name: str) -> str:
    cleaned = _INVALID_LABEL.sub("_", name.strip()) or "label"
    if cleaned[0].isdigit() or cleaned.startswith("__"):
        cleaned = "l_" + cleaned.lstrip("_")
    return cleaned


def split_key(key: str) -> tuple[str, dict[str, str]]:
    """``name{a=1,b=2}`` (or ``name{a=1}{b=2}``) as the name and its labels."""
    name, _, rest = key.partition("{")
    labels: dict[str, str] = {}
    for group in rest.rstrip("}").split("}{") if rest else ():
        for pair in group.split(","):
            label, sep, value = pair.partition("=")
            if sep:
                labels[label_name(label)] = value
    return name, labels


class _Latest:
    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = values

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for key, value in sorted(self.values.items()):
            name, labels = split_key(key)
            prometheus_name = metric_name(name)
            family = families.setdefault(
                prometheus_name,
                prometheus_client.metrics_core.Metric(
                    prometheus_name, f"proofyard KPI {name}", "gauge"
                ),
            )
            family.add_sample(prometheus_name, labels, value)
        return list(families.values())


def render(latest: Mapping[str, object]) -> str:
    """The text exposition of ``latest`` (metric key -> value); non-numbers are left out."""
    numeric = {
        key: float(value)
        for key, value in latest.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(_Latest(numeric))
    return prometheus_client.exposition.generate_latest(registry).decode("utf-8")
