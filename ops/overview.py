"""The answer to "can I merge?": one row per suite (its counts, what it inspected, its worst
findings with file:line), as HTML for the top of report.html and as Markdown for a pull
request comment or ``$GITHUB_STEP_SUMMARY``. Pure: results in, text out."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ops.reports import RunResults

WORST = 3
OUTCOMES = ("passed", "failed", "error", "inconclusive", "skipped", "xfailed", "xpassed")


@dataclass
class SuiteRow:
    suite: str
    counts: dict[str, int] = field(default_factory=dict)
    inspected: dict[str, int] = field(default_factory=dict)
    worst: list[str] = field(default_factory=list)  # "path:line: [rule] message"

    @property
    def verdict(self) -> str:
        if self.counts.get("failed") or self.counts.get("error"):
            return "fail"
        if self.counts.get("inconclusive"):
            return "inconclusive"
        if not self.counts.get("passed"):
            return "nothing passed"
        return "pass"


def suite_rows(results: RunResults, summary: dict) -> list[SuiteRow]:
    """The rows of every suite that ran, failing suites first."""
    rows = {
        name: SuiteRow(name, dict(suite["counts"]), dict(suite["inspected"]))
        for name, suite in summary.get("suites", {}).items()
    }
    failing = {
        nodeid for nodeid, result in results.tests.items() if result.outcome in ("failed", "error")
    }
    open_rows = {results.tests[nodeid].suite or "unmarked" for nodeid in failing} & rows.keys()
    for result, finding in results.findings():
        if not open_rows:
            break  # every failing suite has its worst findings (of 29,000 on the stdlib)
        suite = result.suite or "unmarked"
        if suite not in open_rows or result.nodeid not in failing:
            continue
        if finding.baseline_state == "unchanged" or finding.severity == "note":
            continue
        row = rows[suite]
        row.worst.append(f"{finding.location}: [{finding.rule}] {finding.message.splitlines()[0]}")
        if len(row.worst) >= WORST:
            open_rows.discard(suite)
    order = {"fail": 0, "inconclusive": 1, "nothing passed": 2, "pass": 3}
    return sorted(rows.values(), key=lambda row: (order[row.verdict], row.suite))


def headline(rows: list[SuiteRow]) -> str:
    failed = [row.suite for row in rows if row.verdict == "fail"]
    unsure = [row.suite for row in rows if row.verdict == "inconclusive"]
    if failed:
        return f"Not ready to merge: {', '.join(failed)} failed"
    if unsure:
        return f"Nothing failed; inconclusive: {', '.join(unsure)} (see why below)"
    if not rows:
        return "Nothing ran"
    return "Ready to merge: every suite that ran passed"


def _counts(row: SuiteRow) -> str:
    return ", ".join(f"{row.counts[o]} {o}" for o in OUTCOMES if row.counts.get(o))


def _inspected(row: SuiteRow) -> str:
    return ", ".join(f"{number} {kind}" for kind, number in sorted(row.inspected.items()))


def markdown(rows: list[SuiteRow]) -> str:
    """The overview as GitHub-flavoured Markdown (table cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"## proofyard: {headline(rows)}",
        "",
        "| suite | verdict | tests | inspected | worst findings |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        worst = "<br>".join(cell(text) for text in row.worst) or "—"
        lines.append(
            f"| {cell(row.suite)} | {row.verdict} | {cell(_counts(row))} | "
            f"{cell(_inspected(row)) or '—'} | {worst} |"
        )
    return "\n".join(lines) + "\n"


def html_table(rows: list[SuiteRow]) -> str:
    """The overview as an HTML fragment, every text escaped."""
    esc = html.escape
    body = "".join(
        f"<tr class='proofyard-{esc(row.verdict.replace(' ', '-'))}'><td>{esc(row.suite)}</td>"
        f"<td>{esc(row.verdict)}</td><td>{esc(_counts(row))}</td>"
        f"<td>{esc(_inspected(row))}</td>"
        f"<td>{'<br>'.join(esc(text) for text in row.worst)}</td></tr>"
        for row in rows
    )
    style = (
        "<style>table.proofyard-overview{border-collapse:collapse;margin:0.5em 0}"
        "table.proofyard-overview td,table.proofyard-overview th{border:1px solid #bbb;"
        "padding:3px 8px;text-align:left;vertical-align:top}"
        ".proofyard-fail td:nth-child(2){color:#b00;font-weight:bold}"
        ".proofyard-pass td:nth-child(2){color:#070}"
        ".proofyard-inconclusive td:nth-child(2){color:#a60}</style>"
    )
    return (
        f"{style}<h2 id='proofyard-overview'>{esc(headline(rows))}</h2>"
        "<table class='proofyard-overview'><tr><th>suite</th><th>verdict</th><th>tests</th>"
        f"<th>inspected</th><th>worst findings</th></tr>{body}</table>"
    )


MAX_ROWS = 200  # a suite's table rows shown in report.html (summary.json has them all)


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_value(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    return "" if value is None else str(value)


def _rows_html(title: str, rows: list[dict]) -> str:
    columns = [key for key in dict.fromkeys(k for row in rows for k in row) if key != "test"]
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_value(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = (
        f"<p>{len(rows) - MAX_ROWS} more rows in summary.json</p>" if len(rows) > MAX_ROWS else ""
    )
    return (
        f"<h3>{html.escape(title)}</h3><table class='proofyard-overview'><tr>{head}</tr>"
        f"{body}</table>{more}"
    )


def suite_tables_html(summary: dict) -> str:
    """Each suite's own table after the overview: benchmark verdicts (ratio, interval,
    minimum effect, verdict), compression cases, and every gated metric (value against its
    threshold, as the quality gates record them)."""
    parts = []
    for name, suite in summary.get("suites", {}).items():
        for table, rows in sorted(suite.get("tables", {}).items()):
            if rows:
                parts.append(_rows_html(f"{name}: {table}", rows))
        gated = [
            {
                "test": metric["test"],
                "metric": metric["name"],
                **{k: v for k, v in metric.get("tags", {}).items()},
                "value": metric["value"],
                "unit": metric["unit"],
                "threshold": metric["threshold"],
                "verdict": "pass" if metric["passed"] else "fail",
            }
            for metric in suite.get("metrics", [])
            if metric.get("threshold") is not None and metric.get("passed") is not None
        ]
        if gated and name in ("quality", "smoke", "deps", "kpi"):
            parts.append(_rows_html(f"{name}: gated values", gated))
    return "".join(parts)
