"""Sphinx projects: the source folder (where ``conf.py`` is), its documents and labels, and
the ``:doc:``, ``:ref:``, ``:download:``, ``include``, ``literalinclude`` and ``toctree``
references of a reStructuredText document resolved against them.

``conf.py`` is read with :mod:`ast`, never run: only literal settings are taken
(``extensions``, ``source_suffix``, ``doctest_global_setup``, ``autosectionlabel_*``).
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import os
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from docutils.nodes import fully_normalize_name

from ops.docs.parse import Document, Ref

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
BUILTIN_LABELS = {"genindex", "modindex", "py-modindex", "search"}  # pages Sphinx writes
LINES = re.compile(r"^\s*(\d*)\s*(?:-\s*(\d*))?\s*$")


@dataclass
class SphinxProject:
    srcdir: Path
    settings: dict[str, object] = field(default_factory=dict)
    docnames: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)

    @property
    def suffixes(self) -> tuple[str, ...]:
        value = self.settings.get("source_suffix", ".rst")
        if isinstance(value, dict):
            return tuple(str(key) for key in value)
        if isinstance(value, list | tuple):
            return tuple(str(item) for item in value)
        return (str(value),)

    @property
    def extensions(self) -> list[str]:
        value = self.settings.get("extensions", [])
        return [str(item) for item in value] if isinstance(value, list | tuple) else []

    @property
    def intersphinx(self) -> set[str]:
        value = self.settings.get("intersphinx_mapping", {})
        return {str(key) for key in value} if isinstance(value, dict) else set()

    @property
    def pages(self) -> set[str]:
        """Pages written beside the documents (``html_additional_pages``)."""
        value = self.settings.get("html_additional_pages", {})
        return {str(key) for key in value} if isinstance(value, dict) else set()

    def external(self, target: str) -> bool:
        """An intersphinx reference (``python:label``): another project's, not checked."""
        prefix, sep, _ = target.partition(":")
        return bool(sep) and prefix in self.intersphinx

    @property
    def doctest_global_setup(self) -> str:
        value = self.settings.get("doctest_global_setup", "")
        return value if isinstance(value, str) else ""


def find_srcdir(path: Path, root: Path) -> Path:
    """The nearest folder at or above ``path``'s holding ``conf.py``, within ``root``; else
    ``root``."""
    for folder in [path.parent, *path.parent.parents]:
        if (folder / "conf.py").is_file():
            return folder
        if folder == root:
            break
    return root


def read_conf(conf: Path) -> dict[str, object]:
    """The literal top-level assignments of ``conf.py`` (``textwrap.dedent("...")`` too)."""
    try:
        tree = ast.parse(conf.read_text(encoding="utf-8"), str(conf))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    settings: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                value = _literal(node.value)
                if value is not None:
                    settings[target.id] = value
    return settings


def _literal(node: ast.expr) -> object | None:
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", "") == "dedent":
        inner = _literal(node.args[0])
        if isinstance(inner, str):
            return textwrap.dedent(inner)
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def build_project(srcdir: Path, load: Callable[[Path], Document | None]) -> SphinxProject:
    """Every document and label under ``srcdir`` (documents parsed through ``load``)."""
    conf = srcdir / "conf.py"
    project = SphinxProject(srcdir, read_conf(conf) if conf.is_file() else {})
    by_section_title = "sphinx.ext.autosectionlabel" in project.extensions or not conf.is_file()
    prefix = bool(project.settings.get("autosectionlabel_prefix_document"))
    for path, docname in _sources(srcdir, project.suffixes):
        project.docnames.add(docname)
        document = load(path) if path.suffix == ".rst" else None
        if document is None:
            continue
        project.labels |= document.labels
        if by_section_title:
            for title, _, _ in document.headings:
                label = fully_normalize_name(title)
                project.labels.add(f"{docname}:{label}" if prefix else label)
    return project


def _sources(srcdir: Path, suffixes: tuple[str, ...]):
    """(path, docname) of every source file under ``srcdir`` (not in hidden or build
    folders)."""
    for folder, dirs, files in os.walk(srcdir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_build")))
        for name in sorted(files):
            suffix = next((s for s in suffixes if name.endswith(s)), None)
            if suffix is not None:
                path = Path(folder, name)
                yield path, path.relative_to(srcdir).as_posix()[: -len(suffix)]


@dataclass
class RefProblem:
    rule: str
    message: str


def resolve(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem] | None:
    """What is wrong with ``ref`` (nothing when it resolves); None for a reference into
    another project (intersphinx), which is not checked offline."""
    if ref.kind in ("doc", "ref") and project.external(ref.target):
        return None
    check = {
        "doc": _doc,
        "ref": _label,
        "download": _download,
        "include": _include,
        "literalinclude": _include,
        "toctree": _toctree,
    }[ref.kind]
    return check(ref, doc, project)


def is_external(target: str) -> bool:
    return bool(SCHEME.match(target)) or target.startswith("//")


def _docname(target: str, doc: Document, project: SphinxProject) -> str:
    """``target`` (relative to the document's folder, or to the source folder with ``/``)
    as a docname."""
    for suffix in project.suffixes:
        if target.endswith(suffix):
            target = target[: -len(suffix)]
    if target.startswith("/"):
        return os.path.normpath(target.lstrip("/")).replace(os.sep, "/")
    here = doc.path.parent.relative_to(project.srcdir) if _inside(doc.path, project) else Path()
    return os.path.normpath((here / target).as_posix()).replace(os.sep, "/")


def _inside(path: Path, project: SphinxProject) -> bool:
    try:
        path.relative_to(project.srcdir)
    except ValueError:
        return False
    return True


def _closest(name: str, names: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (closest: {close[0]})" if close else ""


def _doc(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem]:
    name = _docname(ref.target, doc, project)
    if name in project.docnames:
        return []
    return [
        RefProblem(
            "docs.missing-doc",
            f":doc:`{ref.target}`: no document {name} under {project.srcdir.name}/ "
            f"(looked for {', '.join(name + s for s in project.suffixes)})"
            + _closest(name, project.docnames),
        )
    ]


def _label(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem]:
    label = fully_normalize_name(ref.target)
    if label in project.labels or label in BUILTIN_LABELS:
        return []
    return [
        RefProblem(
            "docs.undefined-label",
            f":ref:`{ref.target}`: no label {label!r} in the project"
            + _closest(label, project.labels),
        )
    ]


def _file(target: str, doc: Document, project: SphinxProject) -> Path:
    if target.startswith("/"):
        return project.srcdir / target.lstrip("/")
    return doc.path.parent / target


def _download(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem]:
    if is_external(ref.target):
        return []
    path = _file(ref.target, doc, project)
    if path.is_file():
        return []
    return [RefProblem("docs.missing-file", f":download:`{ref.target}`: {path} does not exist")]


def _include(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem]:
    """The file exists, and the markers and lines its options name are still in it."""
    what = f"{ref.kind}:: {ref.target}"
    if ref.target.startswith("<") and ref.target.endswith(">"):
        return []  # one of docutils' standard definition files
    path = _file(ref.target, doc, project)
    if not path.is_file():
        return [RefProblem("docs.missing-include", f"{what}: {path} does not exist")]
    try:
        text = path.read_text(encoding=ref.options.get("encoding", "utf-8"))
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        return [RefProblem("docs.missing-include", f"{what}: cannot read {path}: {exc}")]
    return [RefProblem("docs.include-marker", f"{what}: {gone}") for gone in _gone(ref, text)]


def _gone(ref: Ref, text: str) -> list[str]:
    """The markers, lines and Python object the include's options name that the file lacks."""
    gone = [
        f":{option}: {ref.options[option]!r} is not in the file"
        for option in ("start-after", "end-before", "start-at", "end-at")
        if ref.options.get(option) and ref.options[option] not in text
    ]
    count = len(text.splitlines())
    gone += [
        f":{option}: {ref.options[option]} is past the file's {count} lines"
        for option in ("lines", "start-line", "end-line")
        if ref.options.get(option) and not _lines_fit(option, ref.options[option], count)
    ]
    pyobject = ref.options.get("pyobject")
    if pyobject and not _has_pyobject(text, pyobject):
        gone.append(f":pyobject: {pyobject} is not defined")
    return gone


def _lines_fit(option: str, value: str, count: int) -> bool:
    if option != "lines":
        try:
            return abs(int(value)) <= count
        except ValueError:
            return False
    for part in value.split(","):
        match = LINES.match(part)
        if match is None:
            return False
        numbers = [int(n) for n in match.groups() if n]
        if any(n < 1 or n > count for n in numbers):
            return False
    return True


def _has_pyobject(text: str, dotted: str) -> bool:
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError):
        return False
    for part in dotted.split("."):
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        body = found.body
    return True


def built_page_problem(target: str, doc: Document, project: SphinxProject) -> str | None:
    """A link to built HTML (``other.html``) names a document or an additional page."""
    name = _docname(target[: -len(".html")], doc, project)
    if name in project.docnames or name in project.pages or name in BUILTIN_LABELS:
        return None
    return f"{target}: no document or page {name} is built there" + _closest(name, project.docnames)


def _toctree(ref: Ref, doc: Document, project: SphinxProject) -> list[RefProblem]:
    entry = ref.target
    titled = re.match(r"^(.*?)\s*<([^<>]+)>$", entry)
    target = titled.group(2) if titled else entry
    if target == "self" or is_external(target):
        return []
    name = _docname(target, doc, project)
    if "glob" in ref.options and any(char in target for char in "*?["):
        if fnmatch.filter(project.docnames, name):
            return []
        return [RefProblem("docs.missing-doc", f"toctree: {entry!r} matches no document")]
    if name in project.docnames:
        return []
    return [
        RefProblem(
            "docs.missing-doc",
            f"toctree: {entry!r}: no document {name}" + _closest(name, project.docnames),
        )
    ]
