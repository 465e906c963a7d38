"""YAML that cannot hang, explode or hide a mistake: bounded nesting, a bounded alias
expansion, and duplicate keys refused with both lines.

PyYAML's ``safe_load`` constructs a billion-laughs document cheaply (aliases share one
object), but everything that walks the result afterwards (merging layers, validation)
expands it; its composer recurses once per nesting level and dies with RecursionError on
deep input; and a repeated key silently keeps the last value. No loader option covers
these, so the composer is bounded here and the node graph checked before construction.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64
MAX_NODES = 100_000  # nodes after alias expansion; a large real config holds a few thousand


class UnsafeYAML(yaml.MarkedYAMLError):
    """A document refused before it is constructed."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise UnsafeYAML(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_CLoader = getattr(yaml, "CSafeLoader", None)  # libyaml: composes 10-20x faster
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _c_compose(text: str) -> yaml.Node | None:
    """libyaml's composer, after its events were checked for depth here: it recurses in C,
    so a deep document must never reach it. Parsing twice in C beat composing once in
    Python: a config of 500 pipeline steps took 0.7 s to compose in Python."""
    loader = _CLoader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise UnsafeYAML(
                        None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                    )
            elif isinstance(event, _CLOSE):
                depth -= 1
    finally:
        loader.dispose()
    return _single_node(_CLoader(text))


def _single_node(loader: Any) -> yaml.Node | None:
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def compose(text: str) -> yaml.Node | None:
    """The checked node graph of a single-document YAML text (``None`` when empty)."""
    try:
        node = _c_compose(text) if _CLoader is not None else _single_node(_BoundedLoader(text))
    except UnsafeYAML:
        raise
    except yaml.YAMLError:  # said again by the Python parser: its messages quote the line
        node = _single_node(_BoundedLoader(text))
    if node is not None:
        _check(node)
    return node


def construct(node: yaml.Node | None) -> Any:
    """Python data from a node graph that :func:`compose` checked."""
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def safe_load(text: str) -> Any:
    return construct(compose(text))


def _check(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:
        # memoised by node identity: an alias is the same node object, counted each use
        if id(node) in sizes:
            return sizes[id(node)]
        size = 1
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicates(node)
            size += sum(expanded(k) + expanded(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(expanded(item) for item in node.value)
        sizes[id(node)] = size = min(size, MAX_NODES + 1)
        if size > MAX_NODES:
            raise UnsafeYAML(
                None,
                None,
                f"expands to more than {MAX_NODES} values through aliases "
                "(a billion-laughs document?)",
                node.start_mark,
            )
        return size

    expanded(root)


def _refuse_duplicates(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value in seen:
            first = seen[key.value].start_mark.line + 1
            raise UnsafeYAML(
                None,
                None,
                f"duplicate key {key.value!r} (first at line {first}); remove one",
                key.start_mark,
            )
        seen[key.value] = key
