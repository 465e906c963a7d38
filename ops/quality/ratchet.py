"""Ratchet mode: findings keyed by fingerprint (rule, file, symbol), not by totals, so
moving a violation between files or rules cannot hide a new one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from ops.findings import Finding


def fingerprint_counts(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(Counter(finding.fingerprint for finding in findings))


def new_findings(findings: Iterable[Finding], baseline: Mapping[str, int]) -> list[Finding]:
    """Findings beyond what the baseline holds for their fingerprint."""
    seen: Counter[str] = Counter()
    new = []
    for finding in findings:
        seen[finding.fingerprint] += 1
        if seen[finding.fingerprint] > baseline.get(finding.fingerprint, 0):
            new.append(finding)
    return new
