"""radon's rules for cyclomatic complexity, Halstead volume and the maintainability index
(``ops.quality.walk`` applies them in its one walk of the tree).

Counting rule (radon cc): a function starts at 1 and adds 1 for each ``if``/``elif``,
conditional expression, ``for``/``while`` (plus 1 for their ``else``), ``except`` handler
(plus 1 for ``try``'s ``else``), comprehension (plus its ``if`` clauses), ``assert``,
non-wildcard ``match`` case, and each extra operand of ``and``/``or``. Nested functions are
separate blocks whose complexity is not added to the enclosing one; ``with`` adds nothing.

Halstead (radon's HalsteadVisitor): operators of ``BinOp``, ``UnaryOp``, ``BoolOp``,
``AugAssign`` and ``Compare``, and their operands, distinct per enclosing function.

radon's raw counter re-tokenizes a growing buffer line by line, which is quadratic on long
statements (733 s on the CPython stdlib); the raw counts come from ``ops.quality.lexer``'s
single scan instead.
"""

from __future__ import annotations

import ast
import math

from ops.quality.lexer import RawCounts


def decision_points(node: ast.AST) -> int:
    """What ``node`` adds to the complexity of the body it is in."""
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


_OPERAND_ATTRIBUTE = {ast.Name: "id", ast.Attribute: "attr", ast.Constant: "value"}


def halstead_operand(context: str | None, operand: ast.AST) -> tuple:
    """radon's HalsteadVisitor key of an operand: distinct per enclosing function."""
    attribute = _OPERAND_ATTRIBUTE.get(type(operand))
    value = getattr(operand, attribute) if attribute else ("node", id(operand))
    try:
        hash(value)
    except TypeError:
        value = ("node", id(operand))
    return (context, type(value).__name__ if isinstance(value, bool) else "", value)


def halstead_volume(length: int, vocabulary: int) -> float:
    return length * math.log2(vocabulary) if vocabulary else 0.0


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


def module_mi(volume: float, total_complexity: int, raw: RawCounts) -> float:
    """radon mi's index of a module (comments include multi-line strings, as ``radon mi``
    counts them)."""
    comment_percent = (raw.comments + raw.multi) / raw.sloc * 100 if raw.sloc else 0.0
    return maintainability_index(volume, total_complexity, raw.lloc, comment_percent)
