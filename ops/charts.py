"""Small self-contained SVG charts (scatter, bars, lines) with every text escaped.

Written here rather than with matplotlib: the charts are simple, must embed in
self-contained HTML with no network, and a 40 MB plotting dependency is not worth it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, MARGIN = 640, 360, 56
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = ""
    series: str = ""


def _scale(values: Sequence[float], low: float, high: float, log: bool):
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        finite = [1.0]
    lo, hi = min(finite), max(finite)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi == lo:
        lo, hi = lo - 1, hi + 1

    def project(value: float) -> float:
        if log:
            value = math.log10(value) if value > 0 else lo
        return low + (value - lo) / (hi - lo) * (high - low)

    return project, (lo, hi)


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - 16}" y2="{HEIGHT - MARGIN}" '
        'stroke="#333"/>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{MARGIN}" y2="24" stroke="#333"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="14" y="{HEIGHT / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {HEIGHT / 2})">{escape(y_label)}</text>',
    ]


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10**e for e in range(math.floor(lo), math.ceil(hi) + 1)]
    step = (hi - lo) / 4
    return [lo + step * i for i in range(5)]


def scatter(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = False,
    lines: bool = False,
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """A scatter (or, with ``lines``, a line per series) chart as an SVG document; each
    mark ``(x, label)`` is a dashed vertical line (a test or step boundary, an alert)."""
    fx, (xlo, xhi) = _scale([p.x for p in points], MARGIN, WIDTH - 16, log_x)
    fy, (ylo, yhi) = _scale([p.y for p in points], HEIGHT - MARGIN, 24, log_y)
    parts = _frame(title, x_label, y_label)
    for tick in _ticks(xlo, xhi, log_x):
        parts.append(
            f'<text x="{fx(tick):.1f}" y="{HEIGHT - MARGIN + 14}" text-anchor="middle">'
            f"{tick:.3g}</text>"
        )
    for tick in _ticks(ylo, yhi, log_y):
        parts.append(
            f'<text x="{MARGIN - 4}" y="{fy(tick):.1f}" text-anchor="end">{tick:.3g}</text>'
        )
    series = sorted({p.series for p in points})
    for index, name in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        members = [
            p for p in points if p.series == name and math.isfinite(p.x) and math.isfinite(p.y)
        ]
        if lines and len(members) > 1:
            path = " ".join(
                f"{fx(p.x):.1f},{fy(p.y):.1f}" for p in sorted(members, key=lambda p: p.x)
            )
            parts.append(f'<polyline fill="none" stroke="{color}" points="{path}"/>')
        for p in members:
            parts.append(
                f'<circle cx="{fx(p.x):.1f}" cy="{fy(p.y):.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(p.label or name)}: {p.x:.4g}, {p.y:.4g}</title></circle>"
            )
        if name:
            parts.append(
                f'<text x="{WIDTH - 150}" y="{36 + 14 * index}" fill="{color}">'
                f"{escape(name)}</text>"
            )
    for x, label in marks:
        if math.isfinite(x) and xlo <= (math.log10(x) if log_x and x > 0 else x) <= xhi:
            parts.append(
                f'<line x1="{fx(x):.1f}" y1="24" x2="{fx(x):.1f}" y2="{HEIGHT - MARGIN}" '
                f'stroke="#999" stroke-dasharray="3,3"><title>{escape(label)}</title>'
                "</line>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def bars(items: Sequence[tuple[str, float]], *, title: str, y_label: str) -> str:
    """A vertical bar chart as an SVG document."""
    parts = _frame(title, "", y_label)
    top = max([value for _, value in items if math.isfinite(value)] or [1.0]) or 1.0
    width = (WIDTH - MARGIN - 24) / max(1, len(items))
    for index, (label, value) in enumerate(items):
        height = 0 if not math.isfinite(value) else (HEIGHT - MARGIN - 30) * value / top
        x = MARGIN + 4 + index * width
        parts.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - MARGIN - height:.1f}" width="{width * 0.8:.1f}" '
            f'height="{height:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
            f"<title>{escape(label)}: {value:.4g}</title></rect>"
        )
        parts.append(
            f'<text x="{x + width * 0.4:.1f}" y="{HEIGHT - MARGIN + 12}" '
            f'text-anchor="end" transform="rotate(-35 {x + width * 0.4:.1f} '
            f'{HEIGHT - MARGIN + 12})" font-size="9">{escape(label)}</text>'
        )
    parts.append(f'<text x="{MARGIN - 4}" y="30" text-anchor="end">{top:.3g}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
