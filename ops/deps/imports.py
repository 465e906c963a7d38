"""What the target's production code imports, and how that matches its declarations."""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.findings import Finding
from ops.importnames import KNOWN_IMPORT_NAMES, distribution_for_import

IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


@dataclass(frozen=True)
class ImportUse:
    module: str  # top-level name
    path: str
    line: int
    optional: bool
    reason: str = ""
    dotted: str = ""  # the full module name
    names: tuple[str, ...] = ()  # what ``from dotted import ...`` takes
    since: tuple[int, int] | None = None  # under ``if sys.version_info >= since:``


class _Collector(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.uses: list[ImportUse] = []
        self.guards: list[str] = []
        self.probed: set[str] = set()
        self.flags: set[str] = set()  # names set in an ``except ImportError`` handler
        self.since: list[tuple[int, int]] = []

    def _add(self, name: str | None, line: int, names: tuple[str, ...] = ()) -> None:
        if name and not name.startswith("__future__"):
            top = name.split(".")[0]
            reason = (
                self.guards[-1]
                if self.guards
                else ("checked with find_spec" if top in self.probed else "")
            )
            since = max(self.since) if self.since else None
            self.uses.append(
                ImportUse(top, self.path, line, bool(reason), reason, name, names, since)
            )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            self._add(node.module, node.lineno, names)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(handler.type) for handler in node.handlers)
        if guarded:
            self.guards.append("guarded by try/except ImportError")
            self.flags |= {
                target.id
                for handler in node.handlers
                for statement in ast.walk(handler)
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
        for statement in node.body:
            self.visit(statement)
        if guarded:
            self.guards.pop()
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        guard = None
        if _is_type_checking(node.test):
            guard = "only under TYPE_CHECKING"
        elif flags := sorted(_names_in(node.test) & self.flags):
            guard = f"guarded by {', '.join(flags)}, set where ImportError is caught"
        since, before = _version_bounds(node.test)
        self.visit(node.test)
        for body, bound in ((node.body, since), (node.orelse, before)):
            if bound:
                self.since.append(bound)
            if guard and body is node.body:
                self.guards.append(guard)
            for statement in body:
                self.visit(statement)
            if guard and body is node.body:
                self.guards.pop()
            if bound:
                self.since.pop()

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        argument = node.args[0] if node.args else None
        text = (
            argument.value
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
            else None
        )
        if text and name.endswith("find_spec"):
            self.probed.add(text.split(".")[0])
        elif text and name in ("importlib.import_module", "import_module", "__import__"):
            self._add(text, node.lineno)
        self.generic_visit(node)


def _catches_import_error(handler: ast.expr | None) -> bool:
    if handler is None:
        return True  # a bare except catches ImportError too
    names = handler.elts if isinstance(handler, ast.Tuple) else [handler]
    return any(_dotted(name).split(".")[-1] in IMPORT_ERRORS for name in names)


def _names_in(test: ast.expr) -> set[str]:
    return {node.id for node in ast.walk(test) if isinstance(node, ast.Name)}


def _version_bounds(test: ast.expr) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """For ``sys.version_info >= (X, Y)`` (or ``<``), the oldest Python that runs the body
    and the oldest that runs the ``else`` branch; ``(None, None)`` for any other test."""
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and _dotted(test.left).endswith("version_info")
        and isinstance(test.comparators[0], ast.Tuple)
    ):
        return None, None
    try:
        version = tuple(int(ast.literal_eval(e)) for e in test.comparators[0].elts[:2])
    except (ValueError, TypeError):
        return None, None
    if len(version) != 2:
        return None, None
    op = test.ops[0]
    if isinstance(op, ast.GtE):
        return version, None
    if isinstance(op, ast.Lt):
        return None, version
    return None, None


def _is_type_checking(test: ast.expr) -> bool:
    return _dotted(test).split(".")[-1] == "TYPE_CHECKING"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def collect_imports(path: str, source: str) -> list[ImportUse]:
    """Every absolute import in ``source``; probes by find_spec mark later imports optional."""
    tree = ast.parse(source, filename=path)
    collector = _Collector(path)
    if "find_spec" in source:  # a second pass only where a probe may come after its import
        probe = _Collector(path)
        probe.visit(tree)
        collector.probed = probe.probed
    collector.visit(tree)
    return collector.uses


MAX_SCANNED_BYTES = 10_000_000  # an AST costs ~250x its source: 10 MB parse in ~2.5 GB


def file_imports(path: Path, relative: str) -> tuple[list[ImportUse], Finding | None]:
    """The imports of one file, or the finding that says why it cannot be read or parsed
    (never an exception: one pathological file must not stop the analysis of the rest)."""
    try:
        size = path.stat().st_size
        if size > MAX_SCANNED_BYTES:
            problem = (
                f"too large to analyse ({size / 1e6:.1f} MB; the limit is "
                f"{MAX_SCANNED_BYTES / 1e6:g} MB, as parsing it would take gigabytes)"
            )
            return [], Finding("deps.unparsable", problem, relative, context="too large")
        with tokenize.open(path) as handle:  # the PEP 263 cookie decides the encoding
            source = handle.read()
        return collect_imports(relative, source), None
    except (OSError, UnicodeDecodeError) as exc:
        problem, line = f"cannot read: {exc}", None
    except (SyntaxError, ValueError) as exc:
        problem, line = f"cannot parse: {exc}", getattr(exc, "lineno", None)
    except (RecursionError, MemoryError) as exc:
        problem, line = f"too deeply nested to analyse ({type(exc).__name__})", None
    return [], Finding("deps.unparsable", problem, relative, line, context=problem)


def distribution_of(module: str, owners: Mapping[str, set[str]]) -> set[str]:
    """Distributions that provide ``module``: the well-known table, then installed metadata."""
    if module in KNOWN_IMPORT_NAMES:
        return {distribution_for_import(module)}
    return set(owners.get(module, ())) or {distribution_for_import(module)}


def import_findings(
    uses: Iterable[ImportUse],
    *,
    own: set[str],
    stdlib: frozenset[str],
    declared: set[str],
    dev_only: set[str],
    main: set[str],
    owners: Mapping[str, set[str]],
    allow_unused: set[str],
    dist_modules: Mapping[str, set[str]],
    stdlib_since: Callable[[tuple[int, int]], frozenset[str]] | None = None,
) -> dict[str, list[Finding]]:
    """Missing, misplaced (dev-only) and unused dependencies, by rule. An import under
    ``if sys.version_info >= (X, Y):`` is judged against the stdlib of X.Y on
    (``stdlib_since``)."""
    found: dict[str, list[Finding]] = {"missing": [], "misplaced": [], "unused": []}
    used_dists: set[str] = set()
    reported: set[tuple[str, str]] = set()
    for use in uses:
        if use.module in own or use.module in stdlib:
            continue
        if use.since and stdlib_since and use.module in stdlib_since(use.since):
            continue
        dists = distribution_of(use.module, owners)
        used_dists |= dists
        if use.optional:
            continue
        if not dists & declared:
            key = ("missing", use.module)
            if key not in reported:
                reported.add(key)
                found["missing"].append(
                    Finding(
                        "deps.import-missing",
                        f"import {use.module}: no declared distribution "
                        f"provides it (expected {' or '.join(sorted(dists))})",
                        use.path,
                        use.line,
                        context=use.module,
                    )
                )
        elif dists & dev_only and not dists & (declared - dev_only):
            key = ("misplaced", use.module)
            if key not in reported:
                reported.add(key)
                found["misplaced"].append(
                    Finding(
                        "deps.import-misplaced",
                        f"import {use.module}: "
                        f"{', '.join(sorted(dists & dev_only))} is declared only as a development "
                        "dependency but production code imports it",
                        use.path,
                        use.line,
                        context=use.module,
                    )
                )
    for dist in sorted(main - used_dists - allow_unused):
        modules = dist_modules.get(dist, set())
        found["unused"].append(
            Finding(
                "deps.unused",
                f"{dist} is declared but production code never imports it"
                + (f" (it provides {', '.join(sorted(modules))})" if modules else "")
                + "; add it to deps.allow_unused if it is a plugin or a command-line tool",
                "pyproject.toml",
                context=dist,
                severity="error",
            )
        )
    return found
