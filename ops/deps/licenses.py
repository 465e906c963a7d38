"""License policy over SPDX expressions (OR, AND, WITH, parentheses) and classifiers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from ops.deps.environment import Installed

# Trove classifiers of common licenses, mapped to SPDX identifiers.
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",  # noqa: E501
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",  # noqa: E501
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",  # noqa: E501
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: Zope Public License": "ZPL-2.1",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: Public Domain": "LicenseRef-Public-Domain",
}
# Free-text License fields that name an SPDX license in other words.
ALIASES = {
    "bsd": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "mit license": "MIT",
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "psf": "PSF-2.0",
    "mpl 2.0": "MPL-2.0",
}
TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")
SPDX_ID = re.compile(r"^(LicenseRef-)?[A-Za-z0-9.+-]+$")


class Verdict(IntEnum):
    """Ordered worst to best: OR takes the best operand, AND the worst."""

    DENIED = 0
    NOT_ALLOWED = 1
    UNKNOWN = 2
    ALLOWED = 3


@dataclass(frozen=True)
class LicenseResult:
    name: str
    expression: str | None
    source: str
    verdict: Verdict


class ExpressionError(ValueError):
    """Not an SPDX license expression."""


class _Parser:
    """Recursive descent over SPDX tokens: ``either := both (OR both)*``,
    ``both := leaf (AND leaf)*``, ``leaf := ( either ) | ID [WITH ID]``."""

    def __init__(self, expression: str, allow: set[str], deny: set[str]) -> None:
        self.expression = expression
        self.tokens = TOKEN.findall(expression)
        if not self.tokens or "".join(self.tokens) != re.sub(r"\s+", "", expression):
            raise ExpressionError(expression)
        self.position = 0
        self.allow, self.deny = allow, deny

    def peek(self) -> str:
        return self.tokens[self.position].upper() if self.position < len(self.tokens) else ""

    def take(self) -> str:
        if self.position >= len(self.tokens):
            raise ExpressionError(self.expression)
        self.position += 1
        return self.tokens[self.position - 1]

    def judge(self, license_id: str) -> Verdict | None:
        lowered = license_id.lower()
        if lowered in self.deny:
            return Verdict.DENIED
        if lowered in self.allow:
            return Verdict.ALLOWED
        return None

    def leaf(self) -> Verdict:
        token = self.take()
        if token == "(":
            value = self.either()
            if self.take() != ")":
                raise ExpressionError(self.expression)
            return value
        if token.upper() in ("AND", "OR", "WITH", ")") or not SPDX_ID.match(token):
            raise ExpressionError(self.expression)
        if self.peek() == "WITH":
            self.take()
            combined = self.judge(f"{token} WITH {self.take()}")
            if combined is not None:
                return combined
        verdict = self.judge(token)
        if verdict is not None:
            return verdict
        return Verdict.NOT_ALLOWED if self.allow else Verdict.UNKNOWN

    def both(self) -> Verdict:
        value = self.leaf()
        while self.peek() == "AND":
            self.take()
            value = min(value, self.leaf())
        return value

    def either(self) -> Verdict:
        value = self.both()
        while self.peek() == "OR":
            self.take()
            value = max(value, self.both())
        return value


def evaluate(expression: str, allow: set[str], deny: set[str]) -> Verdict:
    """The verdict on an SPDX expression: OR takes the best operand, AND the worst."""
    parser = _Parser(expression, allow, deny)
    result = parser.either()
    if parser.position != len(parser.tokens):
        raise ExpressionError(expression)
    return result


def license_of(dist: Installed) -> tuple[str | None, str]:
    """The distribution's license as an SPDX expression, and where it was found."""
    if dist.license_expression:
        return dist.license_expression.strip(), "License-Expression"
    text = (dist.license or "").strip()
    if text and len(text) < 100 and "\n" not in text:
        alias = ALIASES.get(text.lower())
        if alias:
            return alias, "License field"
        try:
            evaluate(text, set(), set())
            return text, "License field"
        except ExpressionError:
            pass
    mapped = sorted({CLASSIFIERS[c] for c in dist.classifiers if c in CLASSIFIERS})
    if mapped:
        return " OR ".join(mapped), "classifiers"
    return None, "no license metadata"


def check_licenses(
    dists: Iterable[Installed], allow: Iterable[str], deny: Iterable[str]
) -> list[LicenseResult]:
    allowed = {name.lower() for name in allow}
    denied = {name.lower() for name in deny}
    results = []
    for dist in dists:
        expression, source = license_of(dist)
        if expression is None:
            verdict = Verdict.UNKNOWN
        else:
            try:
                verdict = evaluate(expression, allowed, denied)
            except ExpressionError:
                verdict, source = Verdict.UNKNOWN, f"{source} (not an SPDX expression)"
        results.append(LicenseResult(dist.name, expression, source, verdict))
    return results
