"""Heading anchors as the documentation hosts make them (github, gitlab, mkdocs)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

Dialect = Literal["github", "gitlab", "mkdocs"]


def github_slug(text: str) -> str:
    """GitHub: lowercase; drop everything but letters, marks, numbers, ``_``, spaces and ``-``;
    each space becomes a hyphen (runs of hyphens are kept)."""
    kept = "".join(
        char
        for char in text.strip().lower()
        if char in " -"
        or unicodedata.category(char)[0] in "LMN"
        or unicodedata.category(char) == "Pc"
    )
    return kept.replace(" ", "-")


def gitlab_slug(text: str) -> str:
    """GitLab: like GitHub, then runs of hyphens collapse to one."""
    return re.sub(r"-{2,}", "-", github_slug(text))


def mkdocs_slug(text: str) -> str:
    """Python-Markdown's toc ``slugify`` (MkDocs' default): ASCII only, ``[-\\s]+`` to ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^\w\s-]", "", ascii_text).strip().lower()
    return re.sub(r"[-\s]+", "-", cleaned)


SLUGGERS: dict[str, tuple[Callable[[str], str], str]] = {
    "github": (github_slug, "-"),
    "gitlab": (gitlab_slug, "-"),
    "mkdocs": (mkdocs_slug, "_"),
}


class Slugger:
    """Assigns unique anchors in document order: repeats get ``-1``, ``-2`` (``_1`` in mkdocs)."""

    def __init__(self, dialect: Dialect = "github") -> None:
        self._slugify, self._separator = SLUGGERS[dialect]
        self._seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = self._slugify(text)
        candidate = base
        count = self._seen.get(base, 0)
        while candidate in self._seen:
            count += 1
            candidate = f"{base}{self._separator}{count}"
        self._seen[base] = count
        self._seen.setdefault(candidate, 0)
        return candidate
