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
    for result, finding in results.findings():
        row = rows.get(result.suite or "unmarked")
        if row is None or result.nodeid not in failing or len(row.worst) >= WORST:
            continue
        if finding.baseline_state == "unchanged" or finding.severity == "note":
            continue
        row.worst.append(f"{finding.location}: [{finding.rule}] {finding.message.splitlines()[0]}")
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
