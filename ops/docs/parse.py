"""Parse a Markdown file (markdown-it-py) or the simple link forms of reStructuredText.

The result lists headings with their anchors, explicit anchors, links with file:line:column,
undefined references, fenced code blocks with the directive comment before them, and
generated sections.
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
HEADING_ID = re.compile(r"\s*\{#([^\s}]+)[^}]*\}\s*$")
DIRECTIVE = re.compile(r"<!--\s*proofyard:\s*(skip|xfail)\b(?:\s+reason\s*=\s*\"([^\"]*)\")?\s*-->")
GENERATED = re.compile(r"<!--\s*(BEGIN|END)\s+generated:([\w.-]+)\s*-->")
REFERENCE_USE = re.compile(r"(?<![\]\\])\[([^\[\]]+)\]\[([^\[\]]*)\]")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
RST_INLINE = re.compile(r"`([^`<]*?)\s*<([^`>]+)>`__?")
RST_TARGET = re.compile(r"^\s*\.\.\s+_([^:]+):\s*(\S+)\s*$")
RST_IMAGE = re.compile(r"^\s*\.\.\s+(?:image|figure)::\s*(\S+)\s*$")
RST_SECTION = re.compile(r"^\s*\.\.\s+_([^:]+):\s*$")


@dataclass(frozen=True)
class Link:
    target: str
    line: int
    column: int
    kind: str  # "link" or "image"


@dataclass(frozen=True)
class Fence:
    info: str
    content: str
    line: int  # line of the opening fence
    directive: str | None = None  # "skip" or "xfail"
    reason: str = ""

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


@cache
def _markdown() -> MarkdownIt:
    # Plain CommonMark: GFM tables and strikethrough change no link, heading or fence, and
    # leaving them out saves about 7% of the parse time (measured by benchmarks/docs_bench.py).
    return MarkdownIt("commonmark")


def parse_document(path: Path, text: str, dialect: Dialect = "github") -> Document:
    if path.suffix.lower() == ".rst":
        return parse_rst(path, text)
    return parse_markdown(path, text, dialect)


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
    content = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), token.content)
    for match in REFERENCE_USE.finditer(content):
        label = match.group(2) or match.group(1)
        if normalizeReference(label) not in references:
            line, column, _ = _locate(lines, match.group(0), (start, 0), token.map[1]) or (
                start + 1,
                1,
                None,
            )
            doc.undefined_refs.append((label, line, column))


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


def parse_rst(path: Path, text: str) -> Document:
    """The simple reStructuredText forms: inline ``<target>`_`` links, ``.. _name: target``
    definitions, images and figures, and ``.. _label:`` section anchors."""
    doc = Document(path)
    for index, line in enumerate(text.splitlines()):
        for match in RST_INLINE.finditer(line):
            doc.links.append(Link(match.group(2).strip(), index + 1, match.start(2) + 1, "link"))
        target = RST_TARGET.match(line)
        if target:
            doc.links.append(Link(target.group(2), index + 1, target.start(2) + 1, "link"))
        image = RST_IMAGE.match(line)
        if image:
            doc.links.append(Link(image.group(1), index + 1, image.start(1) + 1, "image"))
        section = RST_SECTION.match(line)
        if section:
            doc.anchors.add(section.group(1).strip().lower().replace(" ", "-"))
    return doc
