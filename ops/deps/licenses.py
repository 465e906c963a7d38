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
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
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
ALIASES = {"bsd": "BSD-3-Clause", "new bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause",
           "mit license": "MIT", "apache 2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
           "apache software license": "Apache-2.0", "psf": "PSF-2.0", "mpl 2.0": "MPL-2.0"}
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


def evaluate(expression: str, allow: set[str], deny: set[str]) -> Verdict:
    tokens = TOKEN.findall(expression)
    if not tokens or "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", expression):
        raise ExpressionError(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def leaf() -> Verdict:
        token = take()
        if token == "(":
            value = either()
            if take() != ")":
                raise ExpressionError(expression)
            return value
        if token.upper() in ("AND", "OR", "WITH", ")") or not SPDX_ID.match(token):
            raise ExpressionError(expression)
        license_id = token
        if peek() is not None and peek().upper() == "WITH":
            take()
            exception = take()
            combined = f"{license_id} WITH {exception}"
            if combined.lower() in deny:
                return Verdict.DENIED
            if combined.lower() in allow:
                return Verdict.ALLOWED
        lowered = license_id.lower()
        if lowered in deny:
            return Verdict.DENIED
        if lowered in allow:
            return Verdict.ALLOWED
        return Verdict.NOT_ALLOWED if allow else Verdict.UNKNOWN

    def both() -> Verdict:
        value = leaf()
        while peek() is not None and peek().upper() == "AND":
            take()
            value = min(value, leaf())
        return value

    def either() -> Verdict:
        value = both()
        while peek() is not None and peek().upper() == "OR":
            take()
            value = max(value, both())
        return value

    result = either()
    if position != len(tokens):
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


def check_licenses(dists: Iterable[Installed], allow: Iterable[str],
                   deny: Iterable[str]) -> list[LicenseResult]:
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
