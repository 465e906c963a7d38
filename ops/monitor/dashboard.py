"""A self-contained HTML dashboard of one monitoring run (no network needed to view it)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.charts import Point, scatter
from ops.kpi.history import metric_key
from ops.monitor.alerts import metric_value
from ops.monitor.run import read_run

CHARTS = (
    ("CPU (%)", (("system", "cpu.total"), ("process tree", "process.cpu_percent"))),
    ("Memory", (("system used %", "memory.percent"), ("swap %", "swap.percent"))),
    ("Process tree RSS (MB)", (("rss", "process.rss_mb"),)),
    ("Disk IO (bytes/s)", (("read", "disk_io.read_bytes"), ("write", "disk_io.write_bytes"))),
    ("Network IO (bytes/s)", (("received", "net_io.read_bytes"), ("sent", "net_io.write_bytes"))),
    ("Load", (("1m", "load.1m"),)),
)


def _gpu_series(samples: list[dict[str, Any]]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    devices = next((s["gpu"]["devices"] for s in samples if s.get("gpu", {}).get("available")), [])
    if not devices:
        return []
    return [
        (
            "GPU utilisation (%)",
            tuple((f"gpu{d['index']}", f"gpu.devices.{d['index']}.utilisation") for d in devices),
        ),
        (
            "GPU memory used (MB)",
            tuple(
                (f"gpu{d['index']}", f"gpu.devices.{d['index']}.memory_used_mb") for d in devices
            ),
        ),
    ]


def _kpi_charts(readings: list[dict[str, Any]], start: float) -> list[str]:
    """The watched process's own metrics: by step when it reports steps, else by time."""
    by_metric: dict[str, list[Point]] = {}
    for reading in readings:
        key = metric_key(reading["name"], reading.get("tags") or None)
        x = reading["step"] if reading.get("step") is not None else reading["time"] - start
        by_metric.setdefault(key, []).append(Point(x, reading["value"], key, key))
    return [
        scatter(points, title=f"KPI {key}", x_label="step or seconds", y_label=key, lines=True)
        for key, points in sorted(by_metric.items())
    ]


def render(records: list[dict[str, Any]], title: str) -> str:
    samples = [r for r in records if r.get("type") == "sample"]
    marks = [r for r in records if r.get("type") == "mark"]
    alerts = [r for r in records if r.get("type") == "alert"]
    start = samples[0]["time"] if samples else 0.0
    boundaries = [(m["time"] - start, f"{m['kind']}: {m['name']}") for m in marks]
    boundaries += [(a["time"] - start, f"alert {a['rule']} {a['state']}") for a in alerts]
    sections = []
    for chart_title, series in (*CHARTS, *_gpu_series(samples)):
        points = [
            Point(s["time"] - start, value, label, label)
            for s in samples
            for label, path in series
            if (value := metric_value(s, path)) is not None
        ]
        if points:
            sections.append(
                scatter(
                    points,
                    title=chart_title,
                    x_label="seconds since start",
                    y_label=chart_title,
                    lines=True,
                    marks=boundaries,
                )
            )
    sections += _kpi_charts([r for r in records if r.get("type") == "kpi"], start)
    gpu_note = next(
        (s["gpu"].get("detail") for s in samples if "gpu" in s and not s["gpu"].get("available")),
        None,
    )
    esc = html.escape
    rows = "".join(
        f"<tr><td>{m['time'] - start:.1f}</td><td>{esc(str(m['kind']))}</td>"
        f"<td>{esc(str(m['name']))}</td></tr>"
        for m in marks
    )
    alert_rows = "".join(
        f"<tr><td>{a['time'] - start:.1f}</td><td>{esc(str(a['rule']))}</td>"
        f"<td>{esc(str(a['state']))}</td><td>{esc(str(a['message']))}</td></tr>"
        for a in alerts
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
        f"</head><body><h1>{esc(title)}</h1><p>{len(samples)} samples"
        + (f"; {esc(gpu_note)}" if gpu_note else "")
        + "</p>"
        + "".join(f"<div>{svg}</div>" for svg in sections)
        + f"<h2>Alerts</h2><table><tr><th>s</th><th>rule</th><th>state</th><th>message</th></tr>"
        f"{alert_rows}</table><h2>Boundaries</h2><table><tr><th>s</th><th>kind</th>"
        f"<th>name</th></tr>{rows}</table></body></html>"
    )


def write_dashboard(run_path: Path, destination: Path | None = None) -> Path:
    destination = destination or run_path.with_suffix(".html")
    records = read_run(run_path)
    label = next((r.get("label") for r in records if r.get("type") == "run"), "") or ""
    write_atomic(destination, render(records, f"proofyard monitor {run_path.stem} {label}"))
    return destination
