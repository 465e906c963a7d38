"""A monitoring run in figures: duration, exit status, and mean, peak and p95 per series,
the alerts fired, the spans (tests or pipeline steps) with their durations, and the
busiest processes seen. Pure: records in, a JSON-ready dict out."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.monitor.alerts import metric_value
from ops.monitor.metrics import FIXED
from ops.monitor.run import read_run


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def series_figures(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, peak and p95 (nearest rank) of every series present in ``samples``."""
    figures = {}
    for path, unit in _series(samples).items():
        values = [v for s in samples if (v := metric_value(s, path)) is not None]
        if values:
            figures[path] = {
                "unit": unit,
                "mean": round(statistics.fmean(values), 3),
                "peak": round(max(values), 3),
                "p95": round(_percentile(values, 0.95), 3),
            }
    return figures


def _series(samples: list[dict[str, Any]]) -> dict[str, str]:
    """Every series path the samples hold, with its unit."""
    found = dict(FIXED)
    for sample in samples:
        found.update({f"disk.{path}": "%" for path in sample.get("disk", {})})
        for device in sample.get("gpu", {}).get("devices", []):
            found[f"gpu.devices.{device['index']}.utilisation"] = "%"
            found[f"gpu.devices.{device['index']}.memory_used_mb"] = "MB"
    return found


START_EDGES = ("start", "running")  # a test's start mark; a pipeline step's "running" event


def spans(marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each test or step attempt once, from its start mark to the next mark of the same
    name (its end: ``outcome`` for a test, the step's status for a pipeline step)."""
    open_at: dict[tuple[str, str], dict[str, Any]] = {}
    done = []
    for mark in sorted(marks, key=lambda m: m["time"]):
        key = (mark["kind"], mark["name"])
        if mark.get("edge") in START_EDGES:
            open_at[key] = mark
            continue
        start = open_at.pop(key, None)
        began = start["time"] if start else mark["time"]
        done.append(
            {
                "kind": mark["kind"],
                "name": mark["name"],
                "start": began,
                "duration_s": round(mark["time"] - began, 3),
                "outcome": mark.get("outcome") or mark.get("edge"),
            }
        )
    done += [
        {"kind": k, "name": n, "start": m["time"], "duration_s": None, "outcome": "unfinished"}
        for (k, n), m in open_at.items()
    ]
    return sorted(done, key=lambda span: span["start"])


def _busiest(samples: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    peaks: dict[tuple[int, str], float] = {}
    for sample in samples:
        for row in sample.get("top", {}).get("cpu" if field == "cpu_percent" else "memory", []):
            key = (row["pid"], row["name"])
            peaks[key] = max(peaks.get(key, 0.0), row[field])
    ranked = sorted(peaks.items(), key=lambda item: -item[1])[:5]
    return [{"pid": pid, "name": name, f"peak_{field}": value} for (pid, name), value in ranked]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_type.setdefault(str(record.get("type")), []).append(record)
    header = (by_type.get("run") or [{}])[0]
    exited = (by_type.get("exit") or [{}])[-1]
    samples = by_type.get("sample", [])
    times = [r["time"] for r in records if "time" in r]
    fired = {a["rule"] for a in by_type.get("alert", []) if a.get("state") == "firing"}
    return {
        "run": header.get("run_id"),
        "label": header.get("label", ""),
        "duration_s": round(max(times) - min(times), 3) if times else 0.0,
        "exit_status": exited.get("exit_status"),
        "complete": "end" in by_type,
        "samples": len(samples),
        "series": series_figures(samples),
        "alerts_fired": sorted(fired),
        "spans": spans(by_type.get("mark", [])),
        "busiest": {
            "cpu": _busiest(samples, "cpu_percent"),
            "memory": _busiest(samples, "rss_mb"),
        },
    }


def write_summary(run_path: Path) -> Path:
    """``RUN.summary.json`` beside the run's series."""
    destination = run_path.with_suffix(".summary.json")
    write_atomic(destination, json.dumps(summarize(read_run(run_path)), indent=2))
    return destination
