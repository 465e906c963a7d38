"""Charts drawn by matplotlib (object API, no pyplot state), rendered to SVG to embed in
the self-contained HTML reports and to PNG for Markdown: readable ticks, the unit on every
axis, legends outside the data, integer run axes, and a trend's baseline with its interval.

A chart of fewer than two points says nothing a table row does not: such calls return
None and the caller shows the value instead. Every text reaches matplotlib with its ``$``
escaped, so a name from the target never turns into mathtext (matplotlib writes the SVG's
text XML-escaped).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH_IN, HEIGHT_IN, DPI = 7.5, 4.0, 100
MAX_MARKS = 60  # boundaries drawn on one chart; more would hide the data
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
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = ""
    series: str = ""


def text(value: object) -> str:
    """``value`` as matplotlib text that is never parsed as mathtext."""
    return str(value).replace("$", r"\$")


def _figure(title: str, x_label: str, y_label: str, height: float = HEIGHT_IN):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(text(title), fontsize=11)
    axes.set_xlabel(text(x_label))
    axes.set_ylabel(text(y_label))
    axes.grid(True, color="#e5e5e5", linewidth=0.6)
    return figure, axes


def render_svg(figure: Any) -> str:
    """The figure as an SVG document to embed: text kept as text, no metadata block, and
    ids stable from run to run."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "proofyard"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    document = buffer.getvalue()
    document = document[document.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    return _METADATA.sub("", document)


def render_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _finite(points: Sequence[Point], log_x: bool, log_y: bool) -> list[Point]:
    return [
        p
        for p in points
        if math.isfinite(p.x)
        and math.isfinite(p.y)
        and (p.x > 0 or not log_x)
        and (p.y > 0 or not log_y)
    ]


def scatter_figure(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = False,
    lines: bool = False,
    marks: Sequence[tuple[float, str]] = (),
    baseline: float | None = None,
    band: tuple[float, float] | None = None,
    band_label: str = "interval",
    x_ticks: Sequence[tuple[float, str]] = (),
) -> Any | None:
    """A scatter (or, with ``lines``, a line per series) chart; each mark ``(x, label)`` a
    dashed vertical line; ``baseline`` a horizontal line with ``band`` shaded around it;
    ``x_ticks`` label the x axis (runs by commit, say). None for fewer than two points."""
    shown = _finite(points, log_x, log_y)
    if len(shown) < 2:
        return None
    figure, axes = _figure(title, x_label, y_label)
    _series(axes, shown, lines)
    if band is not None:
        axes.axhspan(band[0], band[1], color="#2ca02c", alpha=0.12, label=text(band_label))
    if baseline is not None:
        axes.axhline(baseline, color="#2ca02c", linestyle="--", linewidth=1, label="baseline")
    for x, _ in list(marks)[:MAX_MARKS]:
        axes.axvline(x, color="#999999", linestyle=":", linewidth=0.7)
    _axes(axes, log_x, log_y, x_ticks)
    return figure


def _series(axes: Any, shown: list[Point], lines: bool) -> None:
    """A line (or scatter) per series, in the palette's order."""
    for index, name in enumerate(sorted({p.series for p in shown})):
        members = sorted((p for p in shown if p.series == name), key=lambda p: p.x)
        style = {"color": PALETTE[index % len(PALETTE)], "label": text(name) if name else None}
        if lines and len(members) > 1:
            axes.plot([p.x for p in members], [p.y for p in members], marker="o", ms=3, **style)
        else:
            axes.scatter([p.x for p in members], [p.y for p in members], s=18, **style)


def _axes(
    axes: Any,
    log_x: bool,
    log_y: bool,
    x_ticks: Sequence[tuple[float, str]],
) -> None:
    """Scales, the x axis's labels, and the legend outside the data."""
    if log_x:
        axes.set_xscale("log")
    if log_y:
        axes.set_yscale("log")
    if x_ticks:
        axes.set_xticks([x for x, _ in x_ticks], [text(label) for _, label in x_ticks])
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def scatter(points: Sequence[Point], **options: Any) -> str | None:
    """:func:`scatter_figure` as an SVG document, or None (fewer than two points)."""
    figure = scatter_figure(points, **options)
    return render_svg(figure) if figure is not None else None


def bars_figure(items: Sequence[tuple[str, float]], *, title: str, x_label: str) -> Any | None:
    """Horizontal bars, one per item, each labelled on the axis and with its value; None
    for fewer than two items."""
    shown = [(label, value) for label, value in items if math.isfinite(value)]
    if len(shown) < 2:
        return None
    height = max(HEIGHT_IN, 0.9 + 0.28 * len(shown))
    figure, axes = _figure(title, x_label, "", height)
    labels = [text(label) for label, _ in shown]
    values = [value for _, value in shown]
    drawn = axes.barh(labels, values, color=PALETTE[0])
    axes.bar_label(drawn, fmt="{:.4g}", fontsize=8, padding=2)
    axes.invert_yaxis()  # the first item on top
    axes.tick_params(axis="y", labelsize=8)
    axes.margins(x=0.15)
    return figure


def bars(items: Sequence[tuple[str, float]], *, title: str, x_label: str) -> str | None:
    figure = bars_figure(items, title=title, x_label=x_label)
    return render_svg(figure) if figure is not None else None
