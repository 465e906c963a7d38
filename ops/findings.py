"""The records every check produces: findings, metrics and what was inspected."""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Finding:
    """One problem found at one place.

    The fingerprint hashes the rule, the file and a stable ``context`` (a symbol name or the
    offending source text; the message when none is given) — never the line number — so it
    survives unrelated edits that move the code.
    """

    rule: str
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = "error"
    context: str = ""
    baseline_state: str = ""  # "new" or "unchanged" against a ratchet's baseline; "" without

    @cached_property
    def fingerprint(self) -> str:
        text = "\0".join((self.rule, self.path or "", self.context or self.message))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    @property
    def moved_fingerprint(self) -> str:
        """The fingerprint without the file: the same finding after ``git mv``."""
        text = "\0".join((self.rule, self.context or self.message))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    @property
    def location(self) -> str:
        """``file:line:column`` as far as known."""
        parts = [self.path or "<target>"]
        parts += [str(part) for part in (self.line, self.column) if part is not None]
        return ":".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "path": self.path,
            "line": None if self.line is None else int(self.line),  # a numpy integer too
            "column": None if self.column is None else int(self.column),
            "severity": self.severity,
            "context": self.context,
            "fingerprint": self.fingerprint,
            **({"baseline_state": self.baseline_state} if self.baseline_state else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The finding :meth:`to_dict` gave, its fingerprint kept (not hashed again). Filled
        in directly, as the frozen dataclass's ``__init__`` would (a quarter of the time: a
        warm stdlib quality run reads 50,000 of them); a dict with other keys is refused."""
        unknown, missing = data.keys() - _FINDING_KEYS, _FINDING_REQUIRED - data.keys()
        if unknown or missing:
            raise TypeError(f"not a Finding: {sorted(unknown)} unknown, {sorted(missing)} missing")
        finding = object.__new__(cls)
        finding.__dict__.update(_FINDING_DEFAULTS)
        finding.__dict__.update(data)  # "fingerprint" too: cached_property reads it there
        return finding

    def __str__(self) -> str:
        return f"{self.location}: [{self.rule}] {self.message}"


_FINDING_DEFAULTS = {f.name: f.default for f in fields(Finding) if f.default is not MISSING}
_FINDING_KEYS = {f.name for f in fields(Finding)} | {"fingerprint"}
_FINDING_REQUIRED = {f.name for f in fields(Finding) if f.default is MISSING}


@dataclass(frozen=True)
class Metric:
    """One measured number, with its threshold and verdict when it is gated."""

    name: str
    value: float
    unit: str = ""
    threshold: float | None = None
    passed: bool | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckRecord:
    """What one check (one test item) inspected, found and measured."""

    inspected: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)  # kinds every item of a suite shares

    @property
    def inspected_total(self) -> int:
        return sum(self.inspected.values())

    def count(self, kind: str, number: int = 1, shared: bool = False) -> None:
        """Add ``number`` inspected items of ``kind`` (files, modules, links, ...). A
        ``shared`` kind is the same items other items of the suite inspect too (every quality
        gate reads the same files): a run counts them once."""
        self.inspected[kind] = self.inspected.get(kind, 0) + number
        if shared:
            self.shared.add(kind)

    def skip(self, reason: str, number: int = 1) -> None:
        """Count items deliberately not inspected, with the reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + number

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only: the dict crosses from xdist workers to the controller,
        whose serializer refuses numpy scalars."""
        return {
            "inspected": dict(self.inspected),
            "skipped": dict(self.skipped),
            # plain already (Finding's fields are typed str and int): walking 29,000 of them
            # took 0.5 s of a warm quality run on the stdlib
            "findings": [finding.to_dict() for finding in self.findings],
            **plain(
                {
                    "metrics": [metric.to_dict() for metric in self.metrics],
                    "tables": {name: list(rows) for name, rows in self.tables.items()},
                }
            ),
            **({"shared": sorted(self.shared)} if self.shared else {}),
        }


def plain(value: Any) -> Any:
    """``value`` with numpy scalars (anything with ``.item()``) and tuples made plain."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if value is None or type(value) in (str, int, float, bool):  # numpy.float64 is a float
        return value
    item = getattr(value, "item", None)
    return plain(item()) if callable(item) else str(value)
