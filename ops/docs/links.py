"""Offline link checks: files, folders, images, references, anchors; root escapes."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ops.docs.mkdocs import find_site
from ops.docs.parse import Document, parse_markdown
from ops.docs.slugs import Dialect
from ops.docs.sphinx import (
    SphinxProject,
    build_project,
    built_page_problem,
    find_srcdir,
    resolve,
)
from ops.findings import Finding
from ops.proc import worker_pool

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MARKDOWN_SUFFIXES = {".md", ".markdown", ".rst"}
PARALLEL_MIN_FILES = 64
EXTERNAL_SCHEMES = {"http", "https"}


@dataclass
class LinkReport:
    """What checking one document's links inspected, skipped and found."""

    inspected: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    external: list[tuple[str, int, int]] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.inspected[kind] = self.inspected.get(kind, 0) + 1

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def lexical(path: Path) -> Path:
    """An absolute path with ``..`` folded lexically, as a browser folds a URL path.

    ``Path.resolve`` would also follow symlinks, at a system call per component; links
    in documents are resolved by the host the way URLs are, without looking at the disk.
    """
    return Path(os.path.normpath(os.path.abspath(path)))


def parse_document(path: Path, text: str, dialect: Dialect = "github") -> Document:
    """A Markdown or reStructuredText document, by its suffix."""
    if path.suffix.lower() == ".rst":
        from ops.docs.rst import parse_rst  # docutils loads only for reStructuredText

        return parse_rst(path, text)
    return parse_markdown(path, text, dialect)


def unreadable_reason(exc: Exception) -> str:
    """Why a document could not be read or parsed, in words."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start}: {exc.reason})"
    if isinstance(exc, RecursionError):
        return "nested too deeply to parse"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def unreadable_finding(relative: str, reason: str) -> Finding:
    return Finding("docs.unreadable", f"cannot read {relative}: {reason}", relative, context=reason)


def _parse_many(paths: list[Path], dialect: Dialect) -> list[tuple[Path, Document | None, str]]:
    parsed = []
    for path in paths:
        try:
            parsed.append(
                (path, parse_document(path, path.read_text(encoding="utf-8"), dialect), "")
            )
        except (OSError, UnicodeDecodeError, RecursionError) as exc:
            parsed.append((path, None, unreadable_reason(exc)))
    return parsed


class DocSet:
    """The parsed documents of a target, by resolved path; other Markdown files on demand."""

    def __init__(self, root: Path, dialect: Dialect = "github") -> None:
        self.root = root.resolve()
        self.dialect = dialect
        self.documents: dict[Path, Document] = {}
        self.unreadable: dict[Path, str] = {}
        self._exists: dict[Path, bool] = {}
        self._projects: dict[Path, SphinxProject] = {}
        self.site = find_site(self.root)  # an MkDocs site at the root, if there is one

    def project(self, doc: Document) -> SphinxProject:
        """The Sphinx project a reStructuredText document belongs to (built once)."""
        srcdir = find_srcdir(doc.path, self.root)
        if srcdir not in self._projects:
            self._projects[srcdir] = build_project(srcdir, self.load)
        return self._projects[srcdir]

    def exists(self, path: Path) -> bool:
        """Cached existence: thousands of links point at the same few files."""
        if path not in self._exists:
            self._exists[path] = path.exists()
        return self._exists[path]

    def load_all(self, paths: Sequence[Path], workers: int | None = None) -> None:
        """Parse many documents, in parallel processes when it pays.

        Parsing dominates the suite's time; on the 250-file benchmark corpus two forked
        workers took 0.28-0.32 s where one process took 0.37-0.58 s.
        """
        todo = [lexical(path) for path in paths if lexical(path) not in self.documents]
        workers = workers if workers is not None else min(len(os.sched_getaffinity(0)), 4)
        if workers < 2 or len(todo) < PARALLEL_MIN_FILES:
            for path in todo:
                self.load(path)
            return
        chunks = [todo[index::workers] for index in range(workers)]
        with worker_pool(workers, "fork") as pool:
            for parsed in pool.map(_parse_many, chunks, [self.dialect] * workers):
                for path, document, error in parsed:
                    if document is not None:
                        self.documents[path] = document
                    else:
                        self.unreadable[path] = error

    def load(self, path: Path) -> Document | None:
        path = lexical(path)
        if path not in self.documents and path not in self.unreadable:
            try:
                text = path.read_text(encoding="utf-8")
                self.documents[path] = parse_document(path, text, self.dialect)
            except (OSError, UnicodeDecodeError, RecursionError) as exc:
                self.unreadable[path] = unreadable_reason(exc)
                return None
        return self.documents.get(path)

    def relative(self, path: Path) -> str:
        try:
            return lexical(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def check_document_links(doc: Document, docs: DocSet) -> LinkReport:
    report = LinkReport()
    where = docs.relative(doc.path)
    rst = doc.path.suffix.lower() == ".rst"
    for link in doc.links:
        _check_link(doc, link.target, link.line, link.column, link.kind, docs, where, report)
    for label, line, column in doc.undefined_refs:
        report.count("references")
        message = (
            f"`{label}`_ has no target of that name"
            if rst
            else f"reference [{label}] has no definition"
        )
        report.findings.append(
            Finding("docs.undefined-reference", message, where, line, column, context=label)
        )
    if rst and doc.refs:
        _check_refs(doc, docs, where, report)
    for reason, number in doc.skipped.items():
        report.skipped[reason] = report.skipped.get(reason, 0) + number
    for line, problem in doc.problems:
        report.findings.append(
            Finding("docs.generated-markers", problem, where, line, context=problem)
        )
    return report


def _check_refs(doc: Document, docs: DocSet, where: str, report: LinkReport) -> None:
    """``:doc:``, ``:ref:``, downloads, includes and toctrees, against the Sphinx project."""
    project = docs.project(doc)
    for ref in doc.refs:
        problems = resolve(ref, doc, project)
        if problems is None:
            report.skip("references into other projects (intersphinx)")
            continue
        report.count(REF_KINDS[ref.kind])
        for problem in problems:
            report.findings.append(
                Finding(
                    problem.rule, problem.message, where, ref.line, ref.column, context=ref.target
                )
            )


REF_KINDS = {
    "doc": "document references",
    "ref": "label references",
    "download": "downloads",
    "include": "includes",
    "literalinclude": "includes",
    "toctree": "toctrees",
}


def _check_link(
    doc: Document,
    target: str,
    line: int,
    column: int,
    kind: str,
    docs: DocSet,
    where: str,
    report: LinkReport,
) -> None:
    def finding(rule: str, message: str) -> None:
        report.findings.append(Finding(rule, message, where, line, column, context=target))

    if not target.strip():
        report.count("links")
        finding("docs.empty-link", "link with an empty target")
        return
    if SCHEME.match(target) or target.startswith("//"):
        _external(target, line, column, report)
        return
    parts = urlsplit(target)
    fragment = unquote(parts.fragment)
    if not parts.path:
        report.count("anchors")
        if fragment and not _has_anchor(doc, fragment):
            finding(
                "docs.missing-anchor",
                f"#{fragment}: no such anchor in this file{_closest(doc, fragment)}",
            )
        return
    report.count("images" if kind == "image" else "links")
    relative = unquote(parts.path)
    base = _site_root(doc, docs) if relative.startswith("/") else doc.path.parent
    resolved = lexical(base / relative.lstrip("/"))
    if not resolved.is_relative_to(docs.root):
        finding("docs.escapes-root", f"{target}: points outside the target root ({resolved})")
        return
    if _path_found(doc, target, relative, resolved, kind, docs, finding) and fragment:
        _check_fragment(resolved, fragment, docs, finding, report, target)


def _external(target: str, line: int, column: int, report: LinkReport) -> None:
    scheme = urlsplit(target).scheme.lower() or "https"
    if scheme in EXTERNAL_SCHEMES:
        report.external.append((target, line, column))
    else:
        report.skip(f"{scheme}: links are not checked")


def _path_found(doc, target, relative, resolved, kind, docs: DocSet, finding) -> bool:
    """Whether the linked file is there (a fragment is checked next only when it is)."""
    if doc.path.suffix.lower() == ".rst" and relative.endswith(".html"):
        problem = built_page_problem(relative, doc, docs.project(doc))
        if problem:
            finding("docs.missing-file", problem)
        return False  # built HTML: its anchors are not known before the build
    if kind == "image" and resolved.suffix == ".*":  # Sphinx picks the best format there is
        if not list(resolved.parent.glob(resolved.name)):
            finding("docs.missing-image", f"{target}: no {docs.relative(resolved)} in any format")
        return False
    if not docs.exists(resolved):
        rule = "docs.missing-image" if kind == "image" else "docs.missing-file"
        finding(rule, f"{target}: {docs.relative(resolved)} does not exist")
        return False
    return True


def _site_root(doc: Document, docs: DocSet) -> Path:
    """What a link starting with ``/`` is relative to: a Sphinx project's source folder for
    reStructuredText, an MkDocs site's docs_dir for its pages, else the target root."""
    if doc.path.suffix.lower() == ".rst":
        return docs.project(doc).srcdir
    if docs.site is not None and doc.path.is_relative_to(docs.site.docs_dir):
        return docs.site.docs_dir  # an MkDocs page: / is the site's root
    return docs.root


def _check_fragment(
    resolved: Path, fragment: str, docs: DocSet, finding, report: LinkReport, target: str
) -> None:
    """A #fragment into another file: that file's headings and explicit anchors."""
    if not (resolved.is_file() and resolved.suffix.lower() in MARKDOWN_SUFFIXES):
        report.skip("anchors into non-Markdown files are not checked")
        return
    report.count("anchors")
    other = docs.load(resolved)
    if other is None:
        finding(
            "docs.unreadable",
            f"{target}: cannot read {docs.relative(resolved)}: {docs.unreadable.get(resolved, '')}",
        )
    elif not _has_anchor(other, fragment):
        finding(
            "docs.missing-anchor",
            f"{target}: no anchor #{fragment} in "
            f"{docs.relative(resolved)}{_closest(other, fragment)}",
        )


def _has_anchor(doc: Document, fragment: str) -> bool:
    return fragment in doc.anchors or fragment.lower() in doc.anchors


def _closest(doc: Document, fragment: str) -> str:
    names = {anchor: text for text, anchor, _ in doc.headings}
    candidates = difflib.get_close_matches(fragment, list(doc.anchors), n=1, cutoff=0.0)
    if not candidates:
        return " (the file has no headings or anchors)"
    anchor = candidates[0]
    heading = names.get(anchor)
    return f" (closest: #{anchor}" + (f", heading '{heading}')" if heading else ")")


def required_documents(root: Path, names: Iterable[str]) -> list[Finding]:
    """Required documents that are missing or empty."""
    found = []
    for name in names:
        matches = sorted(root.glob(name))
        if not matches:
            found.append(
                Finding(
                    "docs.required-missing",
                    f"required document {name} is missing",
                    name,
                    context=name,
                )
            )
        for path in matches:
            if path.is_file() and not path.read_text(encoding="utf-8", errors="replace").strip():
                found.append(
                    Finding(
                        "docs.required-empty",
                        f"required document {name} is empty",
                        path.relative_to(root).as_posix(),
                        context=name,
                    )
                )
    return found
