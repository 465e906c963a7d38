"""Ratchet mode: findings keyed by fingerprint (rule, file, symbol), not by totals, so
moving a violation between files or rules cannot hide a new one; and by the fingerprint
without the file (``moved:`` keys), so a renamed file's findings are not new. A finding is
new only when neither count holds it, exact matches taking their share of the ``moved:``
counts first: the same symbol's finding in a second file is still new."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from ops.findings import Finding

MOVED = "moved:"


def fingerprint_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for finding in findings:
        counts[finding.fingerprint] += 1
        counts[MOVED + finding.moved_fingerprint] += 1
    return dict(counts)


def new_findings(findings: Iterable[Finding], baseline: Mapping[str, int]) -> list[Finding]:
    """Findings beyond what the baseline holds for their fingerprint, with or without
    the file."""
    exact: Counter[str] = Counter()
    moved: Counter[str] = Counter()
    unmatched = []
    for finding in findings:
        exact[finding.fingerprint] += 1
        if exact[finding.fingerprint] <= baseline.get(finding.fingerprint, 0):
            moved[MOVED + finding.moved_fingerprint] += 1
        else:
            unmatched.append(finding)
    new = []
    for finding in unmatched:
        key = MOVED + finding.moved_fingerprint
        moved[key] += 1
        if moved[key] > baseline.get(key, 0):
            new.append(finding)
    return new
