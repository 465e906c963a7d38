"""Parse reStructuredText with docutils into the docs suite's :class:`Document`.

Sphinx's roles and directives are unknown to plain docutils. They are registered here
(docutils' registries are process-wide, as Sphinx's own registration is): ``:doc:``,
``:ref:``, ``:numref:`` and ``:download:`` are recorded to be resolved against the project;
``toctree``, ``include`` and ``literalinclude`` record the files they name (never reading
them into the tree); code and doctest directives record their examples; any other role or
directive a document uses is tolerated (a role becomes its text, a directive's content is
parsed as reStructuredText, or kept as text for directives whose content is code), so no
document fails to parse because it was written for Sphinx or an extension.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes, utils
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

from ops.docs.parse import DIRECTIVE_RST, Document, Fence, Link, Ref

RESOLVED_ROLES = {"doc": "doc", "ref": "ref", "numref": "ref", "download": "download"}
# presentational roles: their text is shown as it is, nothing to resolve
TEXT_ROLES = {
    "abbr", "command", "dfn", "file", "guilabel", "kbd", "mailheader", "makevar",
    "menuselection", "mimetype", "newsgroup", "program", "regexp", "samp", "math", "sub",
    "sup", "code", "literal", "emphasis", "strong", "title-reference", "pep", "rfc",
}  # fmt: skip
CODE_DIRECTIVES = {"code-block", "sourcecode", "code"}
EXAMPLE_DIRECTIVES = {"doctest", "testcode", "testoutput", "testsetup", "testcleanup"}
# directives whose content is not reStructuredText: kept as text, never parsed
OPAQUE_DIRECTIVES = {
    "productionlist", "graphviz", "digraph", "graph", "mermaid", "plot", "jupyter-execute",
    "ipython", "code-cell", "uml", "tikz", "highlight", "literalinclude", "autosummary",
    "raw", "csv-table", "list-table", "math", "index", "tabularcolumns", "exec",
}  # fmt: skip
ROLE_USE = re.compile(r"(?<![\w`]):([A-Za-z][\w.+:-]*):`")
DIRECTIVE_USE = re.compile(r"^\s*\.\.\s+([A-Za-z][\w.+:-]*)::", re.M)
INTERNAL_TARGET = re.compile(r"^\.\.\s+_([^:`]+|`[^`]+`):\s*$")
EXPLICIT_TITLE = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
SETTINGS = {
    "report_level": 5,  # nothing printed: problems are read from the tree
    "halt_level": 5,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "_disable_config": True,  # no docutils.conf of the target is read
    "warning_stream": False,
    "doctitle_xform": False,  # every title stays a section with its anchor
    "input_encoding": "utf-8",
    "line_length_limit": 1_000_000,
}


class recorded(nodes.Inline, nodes.TextElement):  # noqa: N801 - docutils node naming
    """A role or directive to resolve later: its kind, target and line."""


class example(nodes.General, nodes.FixedTextElement):  # noqa: N801
    """A code example: its kind (code, doctest, testcode, ...), language, group, line."""


class _AnyOptions(dict):
    """An option spec that accepts every option of a tolerated directive."""

    def __missing__(self, key: str):
        return directives.unchanged

    def __bool__(self) -> bool:  # docutils parses options only for a truthy spec
        return True


def _role(name: str, rawtext: str, text: str, lineno: int, inliner, options=None, content=None):
    text = utils.unescape(text)
    kind = RESOLVED_ROLES.get(name)
    if kind is None:
        shown = EXPLICIT_TITLE.match(text)
        label = shown.group(1) if shown else text.lstrip("~!")
        node = nodes.literal(rawtext, label)
        if name not in TEXT_ROLES:
            node["proofyard_role"] = name  # counted: a domain or extension reference
        return [node], []
    explicit = EXPLICIT_TITLE.match(text)
    target = (explicit.group(2) if explicit else text).strip().lstrip("!")
    node = recorded(rawtext, explicit.group(1) if explicit else text)
    node.update_all_atts({"kind": kind, "target": target, "line": lineno, "titled": bool(explicit)})
    return [node], []


class _Tolerated(Directive):
    """A directive docutils does not know: its content parsed as reStructuredText (so the
    links inside it are checked), its arguments and options ignored."""

    optional_arguments = 100
    final_argument_whitespace = True
    option_spec = _AnyOptions()
    has_content = True

    def run(self) -> list[nodes.Node]:
        node = nodes.container()
        if self.content and self.name not in OPAQUE_DIRECTIVES:
            self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


class _Files(Directive):
    """``include``, ``literalinclude`` and ``toctree``: what they name, never read here."""

    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = _AnyOptions()
    has_content = True

    def run(self) -> list[nodes.Node]:
        if self.name == "toctree":  # one reference per entry, at the entry's own line
            return [
                self._recorded(entry.strip(), self.content_offset + index + 1)
                for index, entry in enumerate(self.content)
                if entry.strip()
            ]
        return [self._recorded((self.arguments or [""])[0].strip(), self.lineno)]

    def _recorded(self, target: str, line: int) -> recorded:
        node = recorded(target, "")
        node.update_all_atts(
            {"kind": self.name, "target": target, "line": line, "options": dict(self.options)}
        )
        return node


class _Example(Directive):
    """``code-block``, ``doctest``, ``testcode``, ``testoutput``, ``testsetup``: the code."""

    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = _AnyOptions()
    has_content = True

    def run(self) -> list[nodes.Node]:
        argument = (self.arguments or [""])[0].strip()
        text = "\n".join(self.content)
        node = example(text, text)
        code = self.name in CODE_DIRECTIVES
        node.update_all_atts(
            {
                "kind": "code" if code else self.name,
                "language": argument.lower() if code else "python",
                "group": "" if code else (argument or "default"),
                "line": self.content_offset + 1 if self.content else self.lineno,
                "options": dict(self.options),
            }
        )
        return [node]


def _register(text: str) -> None:
    """Register what this document uses that docutils does not know (once per name)."""
    for name in {*ROLE_USE.findall(text), *RESOLVED_ROLES}:
        if name in RESOLVED_ROLES or not _known_role(name):
            roles.register_local_role(name, _role)
    for name in set(DIRECTIVE_USE.findall(text)) | {"include", "toctree", "literalinclude"}:
        if name in ("include", "toctree", "literalinclude"):
            directives.register_directive(name, _Files)
        elif name in CODE_DIRECTIVES or name in EXAMPLE_DIRECTIVES:
            directives.register_directive(name, _Example)
        elif not _known_directive(name):
            directives.register_directive(name, _Tolerated)


def _known_role(name: str) -> bool:
    # docutils' own registries (private names, stable since docutils 0.5)
    return name in roles._roles or name in roles._role_registry


def _known_directive(name: str) -> bool:
    return name in directives._directives or name in directives._directive_registry


def parse_rst(path: Path, text: str) -> Document:
    """Links, anchors, headings, labels, references to resolve and code examples."""
    _register(text)
    tree = publish_doctree(text, source_path=str(path), settings_overrides=SETTINGS)
    doc = Document(path)
    reader = _Reader(doc, text.splitlines())
    for node in tree.findall(nodes.Element):
        reader.read(node)
    return doc


class _Reader:
    """Turns the nodes of a doctree into the document's headings, labels, references,
    links and examples (one method per node type, in document order)."""

    def __init__(self, doc: Document, lines: list[str]) -> None:
        self.doc = doc
        self.located = _Locator(lines)

    def read(self, node: nodes.Element) -> None:
        self.doc.anchors.update(node.get("ids", []))
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            handler(node)

    def _section(self, node: nodes.Element) -> None:
        title = node.next_node(nodes.title)
        text = title.astext() if title is not None else ""
        self.doc.headings.append((text, (node["ids"] or [""])[0], node.line or 0))

    def _target(self, node: nodes.Element) -> None:
        label = INTERNAL_TARGET.match(node.rawsource) if not node.get("refuri") else None
        if label:  # docutils moves the name onto the section it labels: read the source
            self.doc.labels.add(nodes.fully_normalize_name(label.group(1).strip("`")))

    def _recorded(self, node: nodes.Element) -> None:
        line, column = self.located.find(node.rawsource, node["line"] or _line_of(node))
        self.doc.refs.append(
            Ref(
                node["kind"],
                node["target"],
                line,
                column,
                titled=node.get("titled", False),
                options=node.get("options", {}),
            )
        )

    def _reference(self, node: nodes.Element) -> None:
        if node.get("refuri"):
            line, column = self.located.find(node.rawsource, _line_of(node))
            self.doc.links.append(Link(node["refuri"], line, column, "link"))

    def _image(self, node: nodes.Element) -> None:
        line, column = self.located.find(node.get("uri", ""), _line_of(node))
        self.doc.links.append(Link(node.get("uri", ""), line, column, "image"))

    def _problematic(self, node: nodes.Element) -> None:
        line, column = self.located.find(node.rawsource, _line_of(node))
        self.doc.undefined_refs.append((node.rawsource.strip("`_").strip(), line, column))

    def _literal(self, node: nodes.Element) -> None:
        if node.get("proofyard_role"):
            reason = f":{node['proofyard_role']}: references (a domain's or an extension's)"
            self.doc.skipped[reason] = self.doc.skipped.get(reason, 0) + 1

    def _doctest_block(self, node: nodes.Element) -> None:
        self.doc.fences.append(_fence(node, "pycon", "doctest", "default", node.line or 0, {}))

    def _example(self, node: nodes.Element) -> None:
        kind = node["kind"]
        language = {"code": node["language"], "doctest": "pycon"}.get(kind, "python")
        fence = _fence(node, language, kind, node["group"], node["line"], node["options"])
        self.doc.fences.append(fence)


def _fence(
    node: nodes.Element, language: str, kind: str, group: str, line: int, options: dict
) -> Fence:
    directive, reason = _directive_before(node)
    return Fence(
        language,
        node.astext() + "\n",
        line,
        directive,
        reason,
        kind=kind,
        group=group,
        options=tuple(sorted((str(k), str(v)) for k, v in options.items())),
    )


def _directive_before(node: nodes.Element) -> tuple[str | None, str]:
    """A ``.. proofyard: skip`` (or ``xfail``, with ``reason="..."``) comment just before."""
    parent = node.parent
    if parent is None:
        return None, ""
    index = parent.index(node)
    previous = parent[index - 1] if index else None
    if isinstance(previous, nodes.comment):
        match = DIRECTIVE_RST.search(previous.astext())
        if match:
            return match.group(1), match.group(2) or ""
    return None, ""


def _line_of(node: nodes.Node) -> int:
    while node is not None:
        if getattr(node, "line", None):
            return node.line
        node = node.parent
    return 1


class _Locator:
    """Where an inline construct is in the source: docutils gives lines to blocks only, so
    the construct's text is searched for from its block's first line on, and after the
    previous construct found (the tree is walked in document order)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.last = (0, 0)  # 0-based line and column just after the last construct found

    def find(self, needle: str, line: int) -> tuple[int, int]:
        first = needle.splitlines()[0] if needle.strip() else ""
        if not first:
            return line, 1
        start = max((line - 1, 0), self.last)
        for index in range(start[0], min(len(self.lines), start[0] + 80)):
            found = self.lines[index].find(first, start[1] if index == start[0] else 0)
            if found >= 0:
                self.last = (index, found + len(first))
                return index + 1, found + 1
        return line, 1
