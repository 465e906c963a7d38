"""MkDocs sites: ``mkdocs.yml`` read with a safe loader (its ``!!python/name:`` and ``!ENV``
tags tolerated, never run), ``docs_dir`` honoured, and every ``nav`` entry checked to name a
page that exists, at its line in ``mkdocs.yml``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONFIG_NAMES = ("mkdocs.yml", "mkdocs.yaml")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class _Loader(yaml.SafeLoader):
    """The safe loader, with every tag it does not know read as plain data."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor("!", _untagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _untagged)


@dataclass(frozen=True)
class NavEntry:
    title: str
    target: str
    line: int


@dataclass
class MkDocsSite:
    config: Path
    docs_dir: Path
    nav: list[NavEntry] = field(default_factory=list)
    problem: str = ""  # why mkdocs.yml could not be read


def find_site(root: Path) -> MkDocsSite | None:
    """The site configured at ``root``, or None when there is no ``mkdocs.yml``."""
    config = next((root / name for name in CONFIG_NAMES if (root / name).is_file()), None)
    if config is None:
        return None
    try:
        loader = _Loader(config.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return MkDocsSite(config, root / "docs", problem=f"cannot read {config.name}: {exc}")
    data = data if isinstance(data, dict) else {}
    site = MkDocsSite(config, (root / str(data.get("docs_dir") or "docs")).resolve())
    nav = _value_node(node, "nav")
    if nav is not None:
        site.nav = list(_entries(nav, ""))
    return site


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for name, value in node.value if name.value == key), None)


def _entries(node: yaml.Node, title: str):
    """Every page of a nav tree: ``- page.md``, ``- Title: page.md``, ``- Title: [...]``."""
    if isinstance(node, yaml.ScalarNode):
        yield NavEntry(title or node.value, str(node.value), node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _entries(item, title)
    elif isinstance(node, yaml.MappingNode):
        for name, value in node.value:
            yield from _entries(value, str(name.value))


def nav_problems(site: MkDocsSite) -> list[tuple[int, str]]:
    """(line in mkdocs.yml, problem) for each nav entry that names no page."""
    if site.problem:
        return [(1, site.problem)]
    problems = []
    if not site.docs_dir.is_dir():
        problems.append((1, f"docs_dir {site.docs_dir} does not exist"))
    for entry in site.nav:
        if SCHEME.match(entry.target) or entry.target.startswith("//"):
            continue  # an external link in the nav
        path = site.docs_dir / entry.target.lstrip("/")
        if not (path.is_file() or (path / "index.md").is_file()):
            problems.append(
                (entry.line, f"nav {entry.title!r}: {entry.target} is not a page in docs_dir")
            )
    return problems
