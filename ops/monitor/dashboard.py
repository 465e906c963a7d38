"""A self-contained HTML dashboard of one monitoring run (no network needed to view it)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.kpi.history import metric_key
from ops.monitor.alerts import metric_value
from ops.monitor.run import read_run
from ops.monitor.summary import summarize

MB = 1e-6  # bytes/s to MB/s
MAX_SPANS = 500  # spans shaded on one chart
CHARTS = (  # title, y axis, scale, series (label, sample path)
    ("CPU", "%", 1.0, (("system", "cpu.total"), ("process tree", "process.cpu_percent"))),
    ("Memory", "%", 1.0, (("system used", "memory.percent"), ("swap", "swap.percent"))),
    ("Process tree RSS", "MB", 1.0, (("rss", "process.rss_mb"),)),
    ("Disk IO", "MB/s", MB, (("read", "disk_io.read_bytes"), ("write", "disk_io.write_bytes"))),
    ("Network IO", "MB/s", MB, (("received", "net_io.read_bytes"), ("sent", "net_io.write_bytes"))),
    ("Load", "runnable processes", 1.0, (("1 min", "load.1m"),)),
)


def _gpu_series(samples: list[dict[str, Any]]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    devices = next((s["gpu"]["devices"] for s in samples if s.get("gpu", {}).get("available")), [])
    if not devices:
        return []
    return [
        (
            "GPU utilisation",
            "%",
            1.0,
            tuple((f"gpu{d['index']}", f"gpu.devices.{d['index']}.utilisation") for d in devices),
        ),
        (
            "GPU memory used",
            "MB",
            1.0,
            tuple(
                (f"gpu{d['index']}", f"gpu.devices.{d['index']}.memory_used_mb") for d in devices
            ),
        ),
    ]


def _kpi_charts(readings: list[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    """The watched process's own metrics: by step when it reports steps, else by time."""
    by_metric: dict[str, tuple[list[float], list[float], bool]] = {}
    for reading in readings:
        key = metric_key(reading["name"], reading.get("tags") or None)
        stepped = reading.get("step") is not None
        x = reading["step"] if stepped else reading["time"] - start
        xs, ys, _ = by_metric.setdefault(key, ([], [], stepped))
        xs.append(x)
        ys.append(reading["value"])
    return [
        _chart(f"KPI {key}", key, [(key, xs, ys)], "step" if stepped else "seconds since start")
        for key, (xs, ys, stepped) in sorted(by_metric.items())
        if len(xs) > 1
    ]


def _chart(
    title: str,
    unit: str,
    traces: list[tuple[str, list[float], list[float]]],
    x_title: str = "seconds since start",
    spans: Sequence[dict[str, Any]] = (),
    start: float = 0.0,
) -> dict[str, Any]:
    """One Plotly figure (data and layout): a line per series with hover values, and the
    test or step spans shaded, their names on hover."""
    esc = html.escape
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": esc(name),
            "x": xs,
            "y": ys,
            "hovertemplate": f"%{{y:.4g}} {esc(unit)} at %{{x:.1f}}<extra>{esc(name)}</extra>",
        }
        for name, xs, ys in traces
    ]
    shapes, centres, names = [], [], []
    for span in list(spans)[:MAX_SPANS]:
        begin = span["start"] - start
        end = begin + (span["duration_s"] or 0.0)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": begin,
                "x1": end,
                "y0": 0,
                "y1": 1,
                "fillcolor": "#888",
                "opacity": 0.08,
                "line": {"width": 0},
            }
        )
        centres.append((begin + end) / 2)
        names.append(esc(f"{span['kind']}: {span['name']} ({span['duration_s']} s)"))
    if names:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "tests and steps",
                "x": centres,
                "y": [1.0] * len(centres),
                "yaxis": "y2",
                "text": names,
                "hoverinfo": "text",
                "marker": {"symbol": "line-ns-open", "size": 8, "color": "#888"},
            }
        )
    layout = {
        "title": {"text": esc(title)},
        "xaxis": {"title": {"text": esc(x_title)}},
        "yaxis": {"title": {"text": esc(unit)}, "rangemode": "tozero"},
        "yaxis2": {"overlaying": "y", "range": [0, 1.05], "visible": False},
        "shapes": shapes,
        "legend": {"orientation": "h", "y": -0.3},
        "height": 340,
        "margin": {"t": 40, "r": 20, "b": 90, "l": 60},
    }
    return {"data": data, "layout": layout}


def _charts_html(charts: list[dict[str, Any]]) -> str:
    """The charts, drawn by Plotly's bundled plotly.js embedded once in the page (nothing
    fetched: it works from a file:// URL); every label was escaped before it got here."""
    if not charts:
        return "<p>No series with more than one sample.</p>"
    from plotly.offline import get_plotlyjs

    divs = "".join(f"<div id='chart-{index}' class='chart'></div>" for index in range(len(charts)))
    payload = json.dumps(charts).replace("</", "<\\/")  # never ends the script element
    return (
        f"{divs}<script>{get_plotlyjs()}</script><script>"
        f"const charts = {payload};"
        "charts.forEach((c, i) => Plotly.newPlot('chart-' + i, c.data, c.layout,"
        " {responsive: true, displaylogo: false}));</script>"
    )


def _trace(
    samples: list[dict[str, Any]], label: str, path: str, scale: float, start: float
) -> tuple[str, list[float], list[float]]:
    """(label, seconds since start, scaled values) of one series of the samples."""
    xs, ys = [], []
    for sample in samples:
        value = metric_value(sample, path)
        if value is not None:
            xs.append(round(sample["time"] - start, 3))
            ys.append(value * scale)
    return label, xs, ys


def render(records: list[dict[str, Any]], title: str) -> str:
    samples = [r for r in records if r.get("type") == "sample"]
    alerts = [r for r in records if r.get("type") == "alert"]
    start = samples[0]["time"] if samples else 0.0
    summary = summarize(records)
    sections = []
    for chart_title, unit, scale, series in (*CHARTS, *_gpu_series(samples)):
        traces = [_trace(samples, label, path, scale, start) for label, path in series]
        traces = [trace for trace in traces if len(trace[1]) > 1]
        if traces:
            sections.append(_chart(chart_title, unit, traces, spans=summary["spans"], start=start))
    sections += _kpi_charts([r for r in records if r.get("type") == "kpi"], start)
    gpu_note = next(
        (s["gpu"].get("detail") for s in samples if "gpu" in s and not s["gpu"].get("available")),
        None,
    )
    esc = html.escape
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "td.n{text-align:right}</style>"
        f"</head><body><h1>{esc(title)}</h1>"
        + _summary_html(summary)
        + (f"<p>{esc(gpu_note)}</p>" if gpu_note else "")
        + _charts_html(sections)
        + _alerts_html(alerts, start)
        + _spans_html(summary["spans"], start)
        + "</body></html>"
    )


def _cell(value: object, numeric: bool = False) -> str:
    text = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return f"<td class='n'>{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>"


def _summary_html(summary: dict[str, Any]) -> str:
    status = summary["exit_status"]
    head = (
        f"<h2>Summary</h2><p>{summary['duration_s']:.1f} s, {summary['samples']} samples, "
        f"exit status {html.escape('unknown' if status is None else str(status))}"
        + ("" if summary["complete"] else ", <b>incomplete</b> (the monitor did not close it)")
        + "; alerts fired: "
        + html.escape(", ".join(summary["alerts_fired"]) or "none")
        + "</p>"
    )
    rows = "".join(
        f"<tr>{_cell(path)}{_cell(figures['unit'])}{_cell(figures['mean'], True)}"
        f"{_cell(figures['p95'], True)}{_cell(figures['peak'], True)}</tr>"
        for path, figures in summary["series"].items()
    )
    busiest = "".join(
        f"<tr>{_cell(kind)}{_cell(row['pid'], True)}{_cell(row['name'])}"
        f"{_cell(row.get('peak_cpu_percent', row.get('peak_rss_mb')), True)}</tr>"
        for kind, listed in summary["busiest"].items()
        for row in listed
    )
    table = (
        "<table><tr><th>series</th><th>unit</th><th>mean</th><th>p95</th><th>peak</th></tr>"
        f"{rows}</table>"
    )
    if busiest:
        table += (
            "<h3>Busiest processes</h3><table><tr><th>by</th><th>pid</th><th>name</th>"
            f"<th>peak (CPU % or MB)</th></tr>{busiest}</table>"
        )
    return head + table


def _alerts_html(alerts: list[dict[str, Any]], start: float) -> str:
    rows = "".join(
        f"<tr>{_cell(round(a['time'] - start, 1), True)}{_cell(a['rule'])}{_cell(a['state'])}"
        f"{_cell(a['message'])}</tr>"
        for a in alerts
    )
    return (
        "<h2>Alerts</h2><table><tr><th>s</th><th>rule</th><th>state</th><th>message</th></tr>"
        f"{rows}</table>"
    )


def _spans_html(spans: list[dict[str, Any]], start: float) -> str:
    rows = "".join(
        f"<tr>{_cell(round(span['start'] - start, 1), True)}{_cell(span['kind'])}"
        f"{_cell(span['name'])}{_cell(span['duration_s'], True)}{_cell(span['outcome'])}</tr>"
        for span in spans
    )
    return (
        "<h2>Tests and steps</h2><table><tr><th>start s</th><th>kind</th><th>name</th>"
        f"<th>duration s</th><th>outcome</th></tr>{rows}</table>"
    )


def write_dashboard(run_path: Path, destination: Path | None = None) -> Path:
    destination = destination or run_path.with_suffix(".html")
    records = read_run(run_path)
    label = next((r.get("label") for r in records if r.get("type") == "run"), "") or ""
    short = label if len(label) <= 60 else label[:57] + "..."  # a long command line's head
    write_atomic(destination, render(records, f"proofyard monitor {run_path.stem}: {short}"))
    return destination
