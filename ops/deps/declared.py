"""Declared dependencies: pyproject (dependencies, extras, dependency groups), requirements
and constraints files (with -r/-c includes and hashes), setup.cfg install_requires."""

from __future__ import annotations

import configparser
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Declared:
    """One declared requirement and where it was declared."""

    requirement: Requirement
    source: str  # file, relative to the target root
    line: int
    group: str  # "main", "extra:NAME", "group:NAME", "requirements", "constraints"

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def pinned(self) -> str | None:
        """The version of an exact ``==`` pin (no wildcard), else None."""
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None


@dataclass(frozen=True)
class DeclarationError:
    source: str
    line: int
    message: str


def _parse(
    text: str, source: str, line: int, group: str, errors: list[DeclarationError]
) -> Declared | None:
    try:
        return Declared(Requirement(text), source, line, group)
    except InvalidRequirement as exc:
        errors.append(DeclarationError(source, line, f"invalid requirement {text!r}: {exc}"))
        return None


def _line_of(lines: list[str], needle: str, default: int = 1) -> int:
    for index, text in enumerate(lines):
        if needle in text:
            return index + 1
    return default


def from_pyproject(
    root: Path, pyproject: dict[str, Any], errors: list[DeclarationError]
) -> list[Declared]:
    path = root / "pyproject.toml"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    found: list[Declared] = []

    def add(texts: Any, group: str) -> None:
        for text in texts if isinstance(texts, list) else []:
            if isinstance(text, str):
                item = _parse(text, "pyproject.toml", _line_of(lines, f'"{text}"'), group, errors)
                if item:
                    found.append(item)

    project = pyproject.get("project", {})
    add(project.get("dependencies", []), "main")
    for extra, texts in project.get("optional-dependencies", {}).items():
        add(texts, f"extra:{extra}")
    groups = pyproject.get("dependency-groups", {})
    for name in groups:
        add(list(_group_items(groups, name, set(), errors)), f"group:{name}")
    return found


def _group_items(
    groups: dict[str, Any], name: str, seen: set[str], errors: list[DeclarationError]
) -> Iterator[str]:
    """PEP 735: strings, and ``{include-group = NAME}`` tables (cycles reported)."""
    if name in seen:
        errors.append(DeclarationError("pyproject.toml", 1, f"dependency group cycle at {name!r}"))
        return
    for item in groups.get(name, []):
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict) and "include-group" in item:
            yield from _group_items(groups, item["include-group"], seen | {name}, errors)


def from_requirements(
    root: Path,
    relative: str,
    group: str,
    errors: list[DeclarationError],
    seen: set[Path] | None = None,
) -> list[Declared]:
    """A requirements or constraints file, following ``-r`` and ``-c`` includes."""
    seen = set() if seen is None else seen
    path = (root / relative).resolve()
    if path in seen:
        return []
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(DeclarationError(relative, 1, f"cannot read: {exc}"))
        return []
    found: list[Declared] = []
    for line_no, logical in _logical_lines(text):
        try:
            words = shlex.split(logical, comments=True)
        except ValueError as exc:
            errors.append(DeclarationError(relative, line_no, f"cannot parse line: {exc}"))
            continue
        if not words:
            continue
        option, rest = words[0], words[1:]
        if option in ("-r", "--requirement", "-c", "--constraint") and rest:
            include = str(Path(relative).parent / rest[0])
            sub_group = "constraints" if option in ("-c", "--constraint") else group
            found += from_requirements(root, include, sub_group, errors, seen)
        elif option.startswith("-") or "://" in option or option.startswith((".", "/")):
            continue  # index options, editable installs, URLs and paths name no version
        else:
            spec = " ".join(word for word in words if not word.startswith("--hash"))
            item = _parse(spec, relative, line_no, group, errors)
            if item:
                found.append(item)
    return found


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines joined at trailing backslashes, numbered by their first physical line."""
    buffer, start = "", 0
    for index, line in enumerate(text.splitlines(), 1):
        if not buffer:
            start = index
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        yield start, buffer + line
        buffer = ""
    if buffer:
        yield start, buffer


def from_setup_cfg(root: Path, errors: list[DeclarationError]) -> list[Declared]:
    path = root / "setup.cfg"
    if not path.is_file():
        return []
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        errors.append(DeclarationError("setup.cfg", 1, f"cannot parse: {exc}"))
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    raw = parser.get("options", "install_requires", fallback="")
    for text in (line.strip() for line in raw.splitlines()):
        if text and not text.startswith("#"):
            item = _parse(text, "setup.cfg", _line_of(lines, text), "main", errors)
            if item:
                found.append(item)
    if parser.has_section("options.extras_require"):
        for extra, block in parser.items("options.extras_require"):
            for text in (line.strip() for line in block.splitlines()):
                if text:
                    item = _parse(
                        text, "setup.cfg", _line_of(lines, text), f"extra:{extra}", errors
                    )
                    if item:
                        found.append(item)
    return found
