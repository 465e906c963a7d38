"""Parse a Markdown file (markdown-it-py); reStructuredText goes to :mod:`ops.docs.rst`.

The result lists headings with their anchors, explicit anchors, links with file:line:column,
undefined references, code blocks with the directive comment before them, and generated
sections; for reStructuredText also labels and the references to resolve against the
project (``:doc:``, ``:ref:``, includes, toctrees).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from ops.docs.slugs import Dialect, Slugger

EXPLICIT_ANCHOR = re.compile(r"<a\s[^>]*?\b(?:id|name)\s*=\s*[\"']?([^\"'\s>]+)", re.I)
HEADING_ID = re.compile(r"\s*\{:?\s*#([^\s}]+)[^}]*\}\s*$")  # attr_list: {#id}, {: #id .cls}
DIRECTIVE = re.compile(r"<!--\s*proofyard:\s*(skip|xfail)\b(?:\s+reason\s*=\s*\"([^\"]*)\")?\s*-->")
GENERATED = re.compile(r"<!--\s*(BEGIN|END)\s+generated:([\w.-]+)\s*-->")
REFERENCE_USE = re.compile(r"(?<![\]\\])\[([^\[\]]+)\]\[([^\[\]]*)\]")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
DIRECTIVE_RST = re.compile(r"^\s*proofyard:\s*(skip|xfail)\b(?:\s+reason\s*=\s*\"([^\"]*)\")?")
# text that is bracketed but no link: template syntax, subscripts and slices ([:7], ['key'])
TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
NOT_A_LABEL = re.compile(r"""^\s*(?:['"].*['"]|[-+]?\w*\s*(?::\s*[-+]?\w*\s*){1,2}|[-+]?\d+)\s*$""")


@dataclass(frozen=True)
class Link:
    target: str
    line: int
    column: int
    kind: str  # "link" or "image"


@dataclass(frozen=True)
class Ref:
    """A reStructuredText reference resolved against the project: ``doc``, ``ref``,
    ``download``, ``include``, ``literalinclude`` or ``toctree`` (one per entry)."""

    kind: str
    target: str
    line: int
    column: int
    titled: bool = False  # written as ``title <target>``
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fence:
    info: str
    content: str
    line: int  # line of the opening fence (reST: of the code's first line)
    directive: str | None = None  # "skip" or "xfail"
    reason: str = ""
    kind: str = "fence"  # reST: code, doctest, testcode, testoutput, testsetup, testcleanup
    group: str = ""  # reST doctest group: its examples share one namespace
    options: tuple[tuple[str, str], ...] = ()

    @property
    def language(self) -> str:
        return self.info.split()[0].lower() if self.info.strip() else ""


@dataclass(frozen=True)
class GeneratedSection:
    name: str
    begin_line: int  # line of the BEGIN comment
    end_line: int  # line of the END comment
    content: str


@dataclass
class Document:
    path: Path
    headings: list[tuple[str, str, int]] = field(default_factory=list)  # text, anchor, line
    anchors: set[str] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    undefined_refs: list[tuple[str, int, int]] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    generated: list[GeneratedSection] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)  # reST explicit targets, normalised
    refs: list[Ref] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # what was seen and not resolved


@cache
def _markdown() -> MarkdownIt:
    # Plain CommonMark: GFM tables and strikethrough change no link, heading or fence, and
    # leaving them out saves about 7% of the parse time (measured by benchmarks/docs_bench.py).
    return MarkdownIt("commonmark")


def parse_markdown(path: Path, text: str, dialect: Dialect = "github") -> Document:
    doc = Document(path)
    lines = text.splitlines()
    env: dict = {}
    tokens = _markdown().parse(text, env)
    references = set(env.get("references", {}))
    slugger = Slugger(dialect)
    definitions = {definition["href"] for definition in env.get("references", {}).values()}
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            _add_heading(doc, tokens[index + 1], slugger, token.map[0] + 1 if token.map else 0)
        elif token.type == "inline" and token.map:
            _scan_inline(doc, token, lines, references, definitions)
        elif token.type == "html_block":
            doc.anchors.update(EXPLICIT_ANCHOR.findall(token.content))
        elif token.type == "fence" and token.map:
            previous = tokens[index - 1] if index else None
            directive = (
                DIRECTIVE.search(previous.content)
                if previous is not None and previous.type == "html_block"
                else None
            )
            doc.fences.append(
                Fence(
                    token.info.strip(),
                    token.content,
                    token.map[0] + 1,
                    directive.group(1) if directive else None,
                    (directive.group(2) or "") if directive else "",
                )
            )
    _add_definition_links(doc, definitions, lines)
    markers = [
        (token.map[0], kind, name)
        for token in tokens
        if token.type == "html_block" and token.map
        for kind, name in GENERATED.findall(token.content)
    ]
    doc.generated = _generated_sections(markers, lines, doc)
    return doc


def _add_heading(doc: Document, inline: Token, slugger: Slugger, line: int) -> None:
    text = "".join(
        child.content for child in inline.children or [] if child.type in ("text", "code_inline")
    )
    explicit = HEADING_ID.search(text)
    if explicit:
        doc.anchors.add(explicit.group(1))
        text = text[: explicit.start()]
    anchor = slugger.slug(text)
    doc.headings.append((text.strip(), anchor, line))
    doc.anchors.add(anchor)


def _scan_inline(
    doc: Document, token: Token, lines: list[str], references: set[str], definitions: set[str]
) -> None:
    start = token.map[0]
    search_from = (start, 0)
    for child in token.children or []:
        if child.type == "html_inline":
            doc.anchors.update(EXPLICIT_ANCHOR.findall(child.content))
        attribute = {"link_open": "href", "image": "src"}.get(child.type)
        if attribute is None:
            continue
        target = str(child.attrs.get(attribute, ""))
        located = _locate(lines, target, search_from, token.map[1])
        if located is None:
            if target in definitions:
                continue  # a [text][label] use: its definition line is checked instead
            located = (start + 1, 1, search_from)
        line, column, search_from = located
        doc.links.append(Link(target, line, column, "image" if child.type == "image" else "link"))
    _scan_references(doc, token, lines, references)


def _scan_references(doc: Document, token: Token, lines: list[str], references: set[str]) -> None:
    """``[text][label]`` uses whose label has no definition, outside code spans and
    template syntax, and only where the brackets read as a link."""
    start = token.map[0]
    content = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), token.content)
    content = TEMPLATE.sub(lambda m: " " * len(m.group(0)), content)
    for match in REFERENCE_USE.finditer(content):
        label = match.group(2) or match.group(1)
        if not _plausible_reference(match.group(1), match.group(2)):
            continue
        if normalizeReference(label) not in references:
            located = _locate(lines, match.group(0), (start, 0), token.map[1])
            line, column = located[:2] if located else (start + 1, 1)
            doc.undefined_refs.append((label, line, column))


def _plausible_reference(text: str, label: str) -> bool:
    """``[text][label]`` reads as a link, not as code: no subscript or slice (``[0]``,
    ``[:7]``, ``['key']``) on either side."""
    return not any(NOT_A_LABEL.match(part) for part in (text, label) if part)


def _locate(
    lines: list[str], needle: str, start: tuple[int, int], end_line: int
) -> tuple[int, int, tuple[int, int]] | None:
    """1-based line and column of ``needle`` at or after ``start`` within the block, and
    where to search next; None when the source does not spell it out."""
    line_index, column = start
    for index in range(line_index, min(end_line, len(lines))):
        found = lines[index].find(needle, column if index == line_index else 0) if needle else -1
        if found >= 0:
            return index + 1, found + 1, (index, found + len(needle))
    return None


REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)")


def _add_definition_links(doc: Document, definitions: set[str], lines: list[str]) -> None:
    """One link per reference definition, at its definition line."""
    if not definitions:
        return
    unplaced = set(definitions)
    for index, text in enumerate(lines):
        match = REFERENCE_DEFINITION.match(text)
        if match:
            for href in [
                href
                for href in unplaced
                if href == match.group(1) or href == _normalised_href(match.group(1))
            ]:
                doc.links.append(Link(href, index + 1, match.start(1) + 1, "link"))
                unplaced.discard(href)
    doc.links.extend(Link(href, 1, 1, "link") for href in sorted(unplaced))


def _normalised_href(raw: str) -> str:
    return _markdown().normalizeLink(raw)


def _generated_sections(
    markers: list[tuple[int, str, str]], lines: list[str], doc: Document
) -> list[GeneratedSection]:
    """Pair BEGIN/END marker comments (HTML blocks only: markers quoted in code don't count)."""
    sections = []
    open_sections: dict[str, int] = {}
    for index, kind, name in markers:
        if kind == "BEGIN":
            open_sections[name] = index
        elif name in open_sections:
            begin = open_sections.pop(name)
            content = "\n".join(lines[begin + 1 : index])
            sections.append(GeneratedSection(name, begin + 1, index + 1, content))
        else:
            doc.problems.append((index + 1, f"END generated:{name} without BEGIN"))
    for name, begin in open_sections.items():
        doc.problems.append((begin + 1, f"BEGIN generated:{name} without END"))
    return sections
