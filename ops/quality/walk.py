"""One walk over a module's tree for every gate that reads it: functions, classes,
docstrings, handlers, prints and imports with their qualnames; radon's cyclomatic
complexity per function and per module; and the Halstead counts of the maintainability
index.

Why one hand-rolled walk: three ``ast.NodeVisitor`` walks (structure, complexity, Halstead)
took 31 s of a cold analysis of the CPython standard library, ten times the cost of
visiting its 4.2 million nodes once. The counting rules are radon's (``ops.quality.metrics``
states them); each metric sees the parts of the tree radon's own visitor sees:

- complexity: a function's body only (not its decorators, arguments or annotations), a
  class's body only, nothing below an ``assert``;
- Halstead: a function's body only, with operands keyed by the enclosing function's name;
  all of a class;
- structure: everything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ops.quality.metrics import decision_points, halstead_operand

_SCALAR_FIELDS = frozenset(
    "ctx id attr arg name asname module level type_comment kind conversion is_async rest "
    "kwd_attrs tag lineno simple str".split()
)
_NAME_LISTS = {ast.Global, ast.Nonlocal}  # ``names``: identifiers, not nodes
_CONSTANTS = {ast.Constant, ast.MatchSingleton}  # ``value``: a Python constant
_HALSTEAD = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.AugAssign, ast.Compare)


def _node_fields(cls: type) -> tuple[str, ...]:
    return tuple(
        name
        for name in cls._fields
        if name not in _SCALAR_FIELDS
        and not (cls in _CONSTANTS and name == "value")
        and not (cls in _NAME_LISTS and name == "names")
    )


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


_FIELDS = {cls: _node_fields(cls) for cls in _subclasses(ast.AST)}


@dataclass
class _Frame:
    """The complexity of one body, as radon's ComplexityVisitor keeps it."""

    decisions: int = 0
    functions: list[int] = field(default_factory=list)  # complexity of each def met here
    classes: list[int] = field(default_factory=list)  # real complexity of each class met here


@dataclass
class TreeFacts:
    """What the walk found (the lists are the FileResult's)."""

    functions: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    doc_nodes: list[dict[str, Any]] = field(default_factory=list)
    handlers: list[dict[str, Any]] = field(default_factory=list)
    prints: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    total_complexity: int = 1  # radon's total_complexity, as the maintainability index uses
    operators: int = 0
    operands: int = 0
    distinct_operators: set[str] = field(default_factory=set)
    distinct_operands: set[tuple] = field(default_factory=set)

    def give_structure(self, result: Any) -> None:
        """Hand the structure lists to ``result`` (a FileResult), which has the same names."""
        for name in STRUCTURE:
            setattr(result, name, getattr(self, name))


STRUCTURE = ("functions", "classes", "doc_nodes", "handlers", "prints", "imports")


def walk(tree: ast.Module) -> TreeFacts:
    facts = TreeFacts()
    facts.doc_nodes.append(_doc_node("module", "<module>", 1, tree, True, False))
    walker = _Walker(facts)
    module = walker.frame
    walker.children(tree)
    facts.total_complexity = (
        1
        + module.decisions
        + sum(module.functions)
        - len(module.functions)
        + sum(module.classes)
        - len(module.classes)
    )
    return facts


class _Walker:
    def __init__(self, facts: TreeFacts) -> None:
        self.facts = facts
        self.scope: list[str] = []
        self.kinds: list[str] = []  # "class" or "function", innermost last
        self.in_main_guard = False
        self.typing_only = False
        self.frame = _Frame()
        self.counting = True  # complexity: off below asserts and outside bodies
        self.halstead = True  # off in function signatures
        self.context: str | None = None  # Halstead's: the enclosing function's name

    def visit(self, node: ast.AST) -> None:
        handler = _HANDLERS.get(node.__class__)
        if handler is not None:
            handler(self, node)
        else:
            self.children(node)

    def children(self, node: ast.AST) -> None:
        visit = self.visit
        for name in _FIELDS[node.__class__]:
            value = getattr(node, name, None)
            if value is None:
                continue
            if value.__class__ is list:
                for item in value:
                    if item is not None:
                        visit(item)
            else:
                visit(value)

    # complexity and Halstead

    def decision(self, node: ast.AST) -> None:
        if self.counting:
            self.frame.decisions += decision_points(node)
        if self.halstead and isinstance(node, _HALSTEAD):
            self.operation(node)
        self.children(node)

    def operation(self, node: ast.AST) -> None:
        facts, context = self.facts, self.context
        if isinstance(node, ast.BoolOp):
            operators, operands = [type(node.op).__name__], node.values
        elif isinstance(node, ast.Compare):
            operators = [type(op).__name__ for op in node.ops]
            operands = [*node.comparators, node.left]
        elif isinstance(node, ast.UnaryOp):
            operators, operands = [type(node.op).__name__], [node.operand]
        elif isinstance(node, ast.BinOp):
            operators, operands = [type(node.op).__name__], [node.left, node.right]
        else:  # AugAssign
            operators, operands = [type(node.op).__name__], [node.target, node.value]
        facts.operators += len(operators)
        facts.operands += len(operands)
        facts.distinct_operators.update(operators)
        facts.distinct_operands.update(halstead_operand(context, item) for item in operands)

    def halstead_node(self, node: ast.AST) -> None:
        if self.halstead:
            self.operation(node)
        self.children(node)

    def assertion(self, node: ast.Assert) -> None:
        if self.counting:
            self.frame.decisions += 1
        counting, self.counting = self.counting, False
        self.children(node)
        self.counting = counting

    # definitions

    def _qualname(self, name: str) -> str:
        return ".".join([*self.scope, name])

    def _public(self, name: str) -> bool:
        return not any(
            part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
            for part in [*self.scope, name]
        )

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        record = self._function_record(node)
        outer, inner = self.frame, self._definition(node, "function")
        complexity = 1 + inner.decisions
        record["complexity"] = complexity
        outer.functions.append(complexity)

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, kind: str):
        """Visit a def or class in its own scope: complexity counts its body only, into a
        frame of its own (returned); Halstead skips a function's signature and keys its
        body's operands by the function's name."""
        outer, counting, halstead, context = self.frame, self.counting, self.halstead, self.context
        inner = _Frame()
        self.scope.append(node.name)
        self.kinds.append(kind)
        for name in _FIELDS[node.__class__]:
            in_body = name == "body"
            self.frame = inner if in_body else outer
            self.counting = counting and in_body
            if kind == "function":
                self.halstead = halstead and in_body
                self.context = node.name if in_body else context
            self._visit_field(getattr(node, name, None))
        self.scope.pop()
        self.kinds.pop()
        self.frame, self.counting, self.halstead, self.context = outer, counting, halstead, context
        return inner

    def _function_record(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any]:
        qualname = self._qualname(node.name)
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if node.args.vararg:
            arguments.append(node.args.vararg)
        if node.args.kwarg:
            arguments.append(node.args.kwarg)
        is_method = bool(self.kinds) and self.kinds[-1] == "class"
        decorators = {_dotted(d) for d in node.decorator_list}
        if is_method and arguments and "staticmethod" not in decorators:
            arguments = arguments[1:]  # self or cls
        nested = bool(self.kinds) and self.kinds[-1] == "function"
        record = {
            "qualname": qualname,
            "line": node.lineno,
            "end_line": node.end_lineno or node.lineno,
            "complexity": 1,
            "params": len(arguments),
            "params_annotated": sum(1 for a in arguments if a.annotation is not None),
            "returns_annotated": node.returns is not None or node.name == "__init__",
            "public": self._public(node.name) and not nested,
            "nested": nested,
        }
        self.facts.functions.append(record)
        self.facts.doc_nodes.append(
            _doc_node("function", qualname, node.lineno, node, self._public(node.name), nested)
        )
        return record

    def class_(self, node: ast.ClassDef) -> None:
        qualname = self._qualname(node.name)
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nested = any(kind != "class" for kind in self.kinds)
        public = self._public(node.name)
        self.facts.classes.append(
            {
                "qualname": qualname,
                "line": node.lineno,
                "end_line": node.end_lineno or node.lineno,
                "methods": len(methods),
                "public": public,
            }
        )
        self.facts.doc_nodes.append(_doc_node("class", qualname, node.lineno, node, public, nested))
        outer, inner = self.frame, self._definition(node, "class")
        outer.classes.append(1 + inner.decisions + sum(inner.functions))

    def _visit_field(self, value: Any) -> None:
        if value.__class__ is list:
            for item in value:
                if item is not None:
                    self.visit(item)
        elif value is not None:
            self.visit(value)

    # structure

    def if_(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name | ast.Attribute) and _dotted(test).endswith("TYPE_CHECKING"):
            self._if_with(node, "typing_only")
        elif not self.scope and _is_main_guard(test):
            self._if_with(node, "in_main_guard")
        else:
            self.decision(node)

    def _if_with(self, node: ast.If, flag: str) -> None:
        """The ``if`` body with ``flag`` set, its test and ``else`` as before."""
        if self.counting:
            self.frame.decisions += 1
        self.visit(node.test)
        previous = getattr(self, flag)
        setattr(self, flag, True)
        self._visit_field(node.body)
        setattr(self, flag, previous)
        self._visit_field(node.orelse)

    def handler(self, node: ast.ExceptHandler) -> None:
        names = (
            []
            if node.type is None
            else [
                _dotted(n)
                for n in (node.type.elts if isinstance(node.type, ast.Tuple) else [node.type])
            ]
        )
        where = ".".join(self.scope) or "<module>"
        place = {"line": node.lineno, "col": node.col_offset + 1}
        if node.type is None:
            self.facts.handlers.append({**place, "kind": "bare-except", "scope": where})
        elif _swallows(node) and any(
            n.split(".")[-1] in ("Exception", "BaseException") for n in names
        ):
            self.facts.handlers.append(
                {**place, "kind": "swallowed", "scope": where, "caught": ", ".join(names)}
            )
        self.children(node)

    def call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "print" and not self.in_main_guard:
            self.facts.prints.append(
                {
                    "line": node.lineno,
                    "col": node.col_offset + 1,
                    "scope": ".".join(self.scope) or "<module>",
                }
            )
        self.children(node)

    def import_(self, node: ast.Import) -> None:
        for alias in node.names:
            self.facts.imports.append(
                {"line": node.lineno, "module": alias.name, "level": 0, **self._typing_mark()}
            )

    def import_from(self, node: ast.ImportFrom) -> None:
        self.facts.imports.append(
            {
                "line": node.lineno,
                "module": node.module or "",
                "level": node.level,
                "names": [alias.name for alias in node.names],
                **self._typing_mark(),
            }
        )

    def _typing_mark(self) -> dict[str, bool]:
        """Imports under ``if TYPE_CHECKING:`` never run: no runtime import cycle."""
        return {"typing_only": True} if self.typing_only else {}


_HANDLERS = {
    ast.FunctionDef: _Walker.function,
    ast.AsyncFunctionDef: _Walker.function,
    ast.ClassDef: _Walker.class_,
    ast.If: _Walker.if_,
    ast.ExceptHandler: _Walker.handler,
    ast.Call: _Walker.call,
    ast.Import: _Walker.import_,
    ast.ImportFrom: _Walker.import_from,
    ast.Assert: _Walker.assertion,
    **dict.fromkeys(
        [ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.BoolOp, ast.Match]
        + [ast.comprehension]
        + ([ast.TryStar] if hasattr(ast, "TryStar") else []),
        _Walker.decision,
    ),
    **dict.fromkeys([ast.BinOp, ast.UnaryOp, ast.AugAssign, ast.Compare], _Walker.halstead_node),
}


def _swallows(node: ast.ExceptHandler) -> bool:
    return all(
        isinstance(s, ast.Pass | ast.Continue)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is ...)
        for s in node.body
    )


def _doc_node(
    kind: str, qualname: str, line: int, node: ast.AST, public: bool, nested: bool
) -> dict[str, Any]:
    docstring = ast.get_docstring(node)
    return {
        "kind": kind,
        "qualname": qualname,
        "line": line,
        "public": public,
        "nested": nested,
        "documented": docstring is not None and docstring.strip() != "",
    }


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
