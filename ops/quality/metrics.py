"""Per-function cyclomatic complexity, Halstead volume, raw line counts and the
maintainability index, computed by radon's rules in one AST walk and one tokenize pass.

Counting rule (radon cc): a function starts at 1 and adds 1 for each ``if``/``elif``,
conditional expression, ``for``/``while`` (plus 1 for their ``else``), ``except`` handler
(plus 1 for ``try``'s ``else``), comprehension (plus its ``if`` clauses), ``assert``,
non-wildcard ``match`` case, and each extra operand of ``and``/``or``. Nested functions are
separate blocks whose complexity is not added to the enclosing one; ``with`` adds nothing.

radon's raw counter re-tokenizes a growing buffer line by line, which is quadratic on long
statements (733 s on the CPython stdlib); this module gets the same counts from a single
tokenize pass.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from dataclasses import dataclass, field


@dataclass
class Block:
    qualname: str
    line: int
    end_line: int
    complexity: int
    is_method: bool


@dataclass
class ComplexityReport:
    blocks: list[Block] = field(default_factory=list)
    total: int = 1  # radon's total_complexity, as used by the maintainability index


def _decision_points(node: ast.AST) -> int:
    name = type(node).__name__
    if name == "Try" or name == "TryStar":
        return len(node.handlers) + bool(node.orelse)
    if name == "BoolOp":
        return len(node.values) - 1
    if name in ("If", "IfExp"):
        return 1
    if name == "Match":
        wildcard = any(getattr(case.pattern, "pattern", False) is None for case in node.cases)
        return max(0, len(node.cases) - wildcard)
    if name in ("For", "While", "AsyncFor"):
        return bool(node.orelse) + 1
    if name == "comprehension":
        return len(node.ifs) + 1
    if name == "Assert":
        return 1
    return 0


class _Complexity:
    """radon's ComplexityVisitor, restated."""

    def __init__(self, prefix: str = "", method: bool = False) -> None:
        self.prefix = prefix
        self.method = method
        self.complexity = 0
        self.functions: list[tuple[Block, int]] = []  # block and its own complexity
        self.classes: list[int] = []  # real complexity of each class
        self.blocks: list[Block] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self._function(node)
        elif isinstance(node, ast.ClassDef):
            self._class(node)
        else:
            self.complexity += _decision_points(node)
            if not isinstance(node, ast.Assert):
                for child in ast.iter_child_nodes(node):
                    self.visit(child)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qualname = f"{self.prefix}{node.name}"
        complexity = 1
        for child in node.body:
            inner = _Complexity(f"{qualname}.<locals>.", False)
            inner.visit(child)
            complexity += inner.complexity
            self.blocks.extend(inner.blocks)  # closures are their own blocks
        block = Block(
            qualname, node.lineno, node.end_lineno or node.lineno, complexity, self.method
        )
        self.functions.append((block, complexity))
        self.blocks.append(block)

    def _class(self, node: ast.ClassDef) -> None:
        qualname = f"{self.prefix}{node.name}"
        real = 1
        for child in node.body:
            inner = _Complexity(f"{qualname}.", True)
            inner.visit(child)
            real += inner.complexity + sum(c for _, c in inner.functions)
            self.blocks.extend(inner.blocks)
        self.classes.append(real)


def complexity_report(tree: ast.Module) -> ComplexityReport:
    visitor = _Complexity()
    visitor.complexity = 1
    for child in ast.iter_child_nodes(tree):
        visitor.visit(child)
    total = (
        visitor.complexity
        + sum(c for _, c in visitor.functions)
        - len(visitor.functions)
        + sum(visitor.classes)
        - len(visitor.classes)
    )
    return ComplexityReport(sorted(visitor.blocks, key=lambda b: b.line), total)


_OPERAND_ATTRIBUTE = {ast.Name: "id", ast.Attribute: "attr", ast.Constant: "value"}


class _Halstead:
    """radon's HalsteadVisitor: operators of BinOp, UnaryOp, BoolOp, AugAssign, Compare."""

    def __init__(self, context: str | None = None) -> None:
        self.context = context
        self.operators = 0
        self.operands = 0
        self.operators_seen: set[str] = set()
        self.operands_seen: set[tuple] = set()

    def _operand_key(self, operand: ast.AST) -> tuple:
        attribute = _OPERAND_ATTRIBUTE.get(type(operand))
        value = getattr(operand, attribute) if attribute else ("node", id(operand))
        try:
            hash(value)
        except TypeError:
            value = ("node", id(operand))
        return (self.context, type(value).__name__ if isinstance(value, bool) else "", value)

    def _count(self, operators: list[str], operands: list[ast.AST]) -> None:
        self.operators += len(operators)
        self.operands += len(operands)
        self.operators_seen.update(operators)
        self.operands_seen.update(self._operand_key(o) for o in operands)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in node.body:
                inner = _Halstead(node.name)
                inner.visit(child)
                self.operators += inner.operators
                self.operands += inner.operands
                self.operators_seen |= inner.operators_seen
                self.operands_seen |= inner.operands_seen
            return
        if isinstance(node, ast.BinOp):
            self._count([type(node.op).__name__], [node.left, node.right])
        elif isinstance(node, ast.UnaryOp):
            self._count([type(node.op).__name__], [node.operand])
        elif isinstance(node, ast.BoolOp):
            self.operators += 1
            self.operands += len(node.values)
            self.operators_seen.add(type(node.op).__name__)
            self.operands_seen.update(self._operand_key(o) for o in node.values)
        elif isinstance(node, ast.AugAssign):
            self._count([type(node.op).__name__], [node.target, node.value])
        elif isinstance(node, ast.Compare):
            self.operators += len(node.ops)
            self.operands += len(node.comparators) + 1
            self.operators_seen.update(type(op).__name__ for op in node.ops)
            self.operands_seen.update(self._operand_key(o) for o in [*node.comparators, node.left])
        for child in ast.iter_child_nodes(node):
            self.visit(child)


def halstead_volume(tree: ast.Module) -> float:
    visitor = _Halstead()
    for child in ast.iter_child_nodes(tree):
        visitor.visit(child)
    vocabulary = len(visitor.operators_seen) + len(visitor.operands_seen)
    length = visitor.operators + visitor.operands
    return length * math.log2(vocabulary) if vocabulary else 0.0


@dataclass(frozen=True)
class RawCounts:
    loc: int
    lloc: int
    sloc: int
    comments: int
    multi: int
    blank: int
    single_comments: int


_SKIP = {tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


def _logical_count(tokens: list[tokenize.TokenInfo]) -> int:
    """radon's ``_logical``: statements in one logical line (``if x: y`` counts 2)."""
    chunks: list[list[tokenize.TokenInfo]] = [[]]
    for token in tokens:
        if token.type == tokenize.OP and token.string == ";":
            chunks.append([])
        else:
            chunks[-1].append(token)
    total = 0
    for chunk in chunks:
        kept = [t for t in chunk if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
        colons = [i for i, t in enumerate(kept) if t.type == tokenize.OP and t.string == ":"]
        if colons:
            total += 2 - (colons[-1] == len(kept) - 2)
        elif any(t.type != tokenize.ENDMARKER for t in kept):
            total += 1
    return total


def tokens_of(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _logical_lines(tokens: list[tokenize.TokenInfo]) -> list[list[tokenize.TokenInfo]]:
    """Tokens grouped as radon's line-by-line re-tokenizing groups them: one group per
    logical line, and one per blank or comment-only line outside brackets."""
    groups: list[list[tokenize.TokenInfo]] = []
    current: list[tokenize.TokenInfo] = []
    depth = 0  # bracket depth of ``current``, kept as it grows: linear in the tokens
    for token in tokens:
        if token.type in _SKIP:
            continue
        if token.type == tokenize.ENDMARKER:
            break
        current.append(token)
        if token.type == tokenize.OP:
            depth += token.string in "([{"
            depth -= token.string in ")]}"
        if token.type in (tokenize.NEWLINE, tokenize.NL) and depth <= 0:
            groups.append(current)
            current = []
            depth = 0
    if current:
        groups.append(current)
    return groups


_ENDMARKER = tokenize.TokenInfo(tokenize.ENDMARKER, "", (0, 0), (0, 0), "")
_LINE_ENDS = (tokenize.NL, tokenize.NEWLINE)


def raw_counts(source: str, tokens: list[tokenize.TokenInfo] | None = None) -> RawCounts:
    """radon.raw.analyze's counts, from a single tokenize pass over ``source``."""
    lines = source.splitlines()
    counted_lines: set[int] = set()
    counts = dict.fromkeys(("lloc", "comments", "single", "multi", "blank", "sloc"), 0)
    for group in _logical_lines(tokens if tokens is not None else tokens_of(source)):
        real = [t for t in group if t.type not in _LINE_ENDS]
        first = group[0].start[0]
        last = max((t.end[0] for t in real), default=first)
        span = [n for n in range(first, last + 1) if n not in counted_lines]
        counted_lines.update(span)
        counts["comments"] += sum(1 for t in group if t.type == tokenize.COMMENT)
        _count_group(real, span, lines, counts)
        counts["lloc"] += _logical_count([*group, _ENDMARKER])
    # lines the tokenizer folded away (trailing blank lines)
    counts["blank"] += sum(1 for n in range(1, len(lines) + 1) if n not in counted_lines)
    single, multi, blank, sloc = counts["single"], counts["multi"], counts["blank"], counts["sloc"]
    return RawCounts(
        sloc + blank + multi + single,
        counts["lloc"],
        sloc,
        counts["comments"],
        multi,
        blank,
        single,
    )


def _count_group(
    real: list[tokenize.TokenInfo], span: list[int], lines: list[str], counts: dict[str, int]
) -> None:
    """A comment-only line, a string-only statement (docstring) or code, by radon's rules."""
    filled = [bool(n <= len(lines) and lines[n - 1].strip()) for n in span]
    if len(real) == 1 and real[0].type == tokenize.COMMENT:
        counts["single"] += 1
    elif len(real) == 1 and real[0].type == tokenize.STRING:
        if real[0].start[0] == real[0].end[0]:
            counts["single"] += 1
        else:
            counts["multi"] += sum(filled)
            counts["blank"] += len(filled) - sum(filled)
    else:
        counts["sloc"] += sum(filled)
        counts["blank"] += len(filled) - sum(filled)


def maintainability_index(
    volume: float, complexity: int, lloc: int, comment_percent: float
) -> float:
    """radon's MI formula (comments include multi-line strings, as ``radon mi`` does)."""
    if volume <= 0 or lloc <= 0:
        return 100.0
    value = (
        171
        - 5.2 * math.log(volume)
        - 0.23 * complexity
        - 16.2 * math.log(lloc)
        + 50 * math.sin(math.sqrt(2.46 * math.radians(comment_percent)))
    )
    return min(max(0.0, value * 100 / 171.0), 100.0)


def module_mi(
    tree: ast.Module,
    source: str,
    tokens: list[tokenize.TokenInfo] | None = None,
    report: ComplexityReport | None = None,
) -> tuple[float, RawCounts]:
    """radon mi's index of a module (pass ``tokens`` and ``report`` to reuse them)."""
    raw = raw_counts(source, tokens)
    report = report if report is not None else complexity_report(tree)
    comment_percent = (raw.comments + raw.multi) / raw.sloc * 100 if raw.sloc else 0.0
    return maintainability_index(
        halstead_volume(tree), report.total, raw.lloc, comment_percent
    ), raw
