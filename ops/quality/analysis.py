"""Everything the gates need from one file, from one read, one parse and one tokenize pass.

The result is plain data (JSON-ready) so it can be cached by content hash and sent back
from worker processes.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import re
import struct
import tokenize
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.quality.metrics import complexity_report, module_mi, tokens_of

MARKER = re.compile(r"\b(TODO|FIXME|XXX)\b")
DUP_WINDOW = 60  # tokens in a duplication fingerprint window
_FINGERPRINT = struct.Struct("<qii")  # hash, first line, last line


@dataclass
class FileResult:
    path: str
    lines: int = 0
    size: int = 0
    parse_error: str | None = None
    parse_line: int | None = None
    old_syntax_error: str | None = None
    summarised: str | None = None
    mi: float | None = None
    sloc: int = 0
    functions: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    doc_nodes: list[dict[str, Any]] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)
    handlers: list[dict[str, Any]] = field(default_factory=list)
    prints: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: list[tuple[int, int, int]] = field(default_factory=list)  # hash, first, last

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the duplication fingerprints packed as base64 (they are most of the
        cache, and decoding one string is far faster than millions of JSON numbers)."""
        data = asdict(self)
        packed = b"".join(_FINGERPRINT.pack(*item) for item in self.fingerprints)
        data["fingerprints"] = base64.b64encode(packed).decode("ascii")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileResult:
        data = dict(data)
        packed = data.get("fingerprints") or ""
        data["fingerprints"] = list(_FINGERPRINT.iter_unpack(base64.b64decode(packed)))
        return cls(**data)


def decode(raw: bytes) -> str:
    """Source text honouring a PEP 263 coding cookie (UTF-8 otherwise)."""
    if b"\0" in raw:
        raise ValueError("source contains NUL bytes")
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return raw.decode(encoding)


def analyse(
    path: str, raw: bytes, *, oldest: tuple[int, int] | None = None, max_bytes: int = 2_000_000
) -> FileResult:
    result = FileResult(path, size=len(raw))
    try:
        source = decode(raw)
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError) as exc:
        result.parse_error = f"cannot decode: {exc}"
        return result
    lines = source.splitlines()
    result.lines = len(lines)
    if len(raw) > max_bytes:
        result.summarised = f"{len(raw)} bytes is over the {max_bytes}-byte limit: only counted"
        return result
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old code
            tree = ast.parse(source, filename=path)
            # The compiler's own checks (misplaced __future__ imports, 'return' outside a
            # function, ...) are not the parser's: compiling the tree costs about 9% more.
            compile(tree, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        result.parse_error = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
        result.parse_line = getattr(exc, "lineno", None)
        return result
    if oldest is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source, filename=path, feature_version=oldest)
        except SyntaxError as exc:
            result.old_syntax_error = (
                f"line {exc.lineno}: {exc.msg} (Python {oldest[0]}.{oldest[1]})"
            )
    try:
        tokens = tokens_of(source)
    except (tokenize.TokenError, SyntaxError) as exc:
        result.parse_error = f"cannot tokenize: {exc}"
        return result
    report = complexity_report(tree)
    result.mi, raw_counts = module_mi(tree, source, tokens, report)
    result.sloc = raw_counts.sloc
    _Structure(result, {block.line: block.complexity for block in report.blocks}).run(tree)
    result.markers, code = _scan_tokens(tokens)
    result.fingerprints = _fingerprints(code)
    return result


class _Structure(ast.NodeVisitor):
    """Functions, classes, docstrings, handlers, prints and imports, with their qualnames."""

    def __init__(self, result: FileResult, complexity: dict[int, int]) -> None:
        self.result = result
        self.complexity = complexity
        self.scope: list[str] = []
        self.in_main_guard = False
        self.typing_only = False

    def run(self, tree: ast.Module) -> None:
        self.result.doc_nodes.append(_doc_node("module", "<module>", 1, tree, True, False))
        self.generic_visit(tree)

    def _qualname(self, name: str) -> str:
        return ".".join([*self.scope, name])

    def _public(self, name: str) -> bool:
        return not any(
            part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
            for part in [*self.scope, name]
        )

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        qualname = self._qualname(node.name)
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nested = any(kind != "class" for kind in self._kinds)
        self.result.classes.append(
            {
                "qualname": qualname,
                "line": node.lineno,
                "end_line": node.end_lineno or node.lineno,
                "methods": len(methods),
                "public": self._public(node.name),
            }
        )
        self.result.doc_nodes.append(
            _doc_node("class", qualname, node.lineno, node, self._public(node.name), nested)
        )
        self._enter(node, "class")

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qualname = self._qualname(node.name)
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if node.args.vararg:
            arguments.append(node.args.vararg)
        if node.args.kwarg:
            arguments.append(node.args.kwarg)
        is_method = bool(self._kinds) and self._kinds[-1] == "class"
        decorators = {_dotted(d) for d in node.decorator_list}
        if is_method and arguments and "staticmethod" not in decorators:
            arguments = arguments[1:]  # self or cls
        nested = bool(self._kinds) and self._kinds[-1] == "function"
        self.result.functions.append(
            {
                "qualname": qualname,
                "line": node.lineno,
                "end_line": node.end_lineno or node.lineno,
                "complexity": self.complexity.get(node.lineno, 1),
                "params": len(arguments),
                "params_annotated": sum(1 for a in arguments if a.annotation is not None),
                "returns_annotated": node.returns is not None or node.name == "__init__",
                "public": self._public(node.name) and not nested,
                "nested": nested,
            }
        )
        self.result.doc_nodes.append(
            _doc_node("function", qualname, node.lineno, node, self._public(node.name), nested)
        )
        self._enter(node, "function")

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_function

    @property
    def _kinds(self) -> list[str]:
        return getattr(self, "_kind_stack", [])

    def _enter(self, node: ast.AST, kind: str) -> None:
        self._kind_stack = [*self._kinds, kind]
        self.scope.append(getattr(node, "name", "?"))
        self.generic_visit(node)
        self.scope.pop()
        self._kind_stack = self._kinds[:-1]

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name | ast.Attribute) and _dotted(node.test).endswith(
            "TYPE_CHECKING"
        ):
            self._visit_with(node, "typing_only")
        elif not self.scope and _is_main_guard(node.test):
            self._visit_with(node, "in_main_guard")
        else:
            self.generic_visit(node)

    def _visit_with(self, node: ast.If, flag: str) -> None:
        """Visit the ``if`` body with ``flag`` set, its ``else`` as before."""
        previous = getattr(self, flag)
        setattr(self, flag, True)
        for child in node.body:
            self.visit(child)
        setattr(self, flag, previous)
        for child in node.orelse:
            self.visit(child)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        names = (
            []
            if node.type is None
            else [
                _dotted(n)
                for n in (node.type.elts if isinstance(node.type, ast.Tuple) else [node.type])
            ]
        )
        swallowed = all(
            isinstance(s, ast.Pass | ast.Continue)
            or (
                isinstance(s, ast.Expr)
                and isinstance(s.value, ast.Constant)
                and s.value.value is ...
            )
            for s in node.body
        )
        where = ".".join(self.scope) or "<module>"
        if node.type is None:
            self.result.handlers.append(
                {
                    "line": node.lineno,
                    "col": node.col_offset + 1,
                    "kind": "bare-except",
                    "scope": where,
                }
            )
        elif swallowed and any(n.split(".")[-1] in ("Exception", "BaseException") for n in names):
            self.result.handlers.append(
                {
                    "line": node.lineno,
                    "col": node.col_offset + 1,
                    "kind": "swallowed",
                    "scope": where,
                    "caught": ", ".join(names),
                }
            )
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "print" and not self.in_main_guard:
            self.result.prints.append(
                {
                    "line": node.lineno,
                    "col": node.col_offset + 1,
                    "scope": ".".join(self.scope) or "<module>",
                }
            )
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.result.imports.append(
                {"line": node.lineno, "module": alias.name, "level": 0, **self._typing_mark()}
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.result.imports.append(
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


def _scan_tokens(
    tokens: list[tokenize.TokenInfo],
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """TODO/FIXME/XXX in comments (never in strings), and the code tokens for duplication."""
    markers = []
    code: list[tuple[str, int]] = []
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    for token in tokens:
        if token.type == tokenize.COMMENT:
            for match in MARKER.finditer(token.string):
                markers.append(
                    {
                        "line": token.start[0],
                        "col": token.start[1] + match.start() + 1,
                        "tag": match.group(1),
                        "text": token.string.strip(),
                    }
                )
        elif token.type not in skip:
            code.append((token.string, token.start[0]))
    return markers, code


def _fingerprints(tokens: list[tuple[str, int]]) -> list[tuple[int, int, int]]:
    """Hashes of every window of DUP_WINDOW tokens that starts a new line (exact tokens)."""
    prints = []
    previous_line = -1
    for index in range(0, max(0, len(tokens) - DUP_WINDOW + 1)):
        line = tokens[index][1]
        if line == previous_line:
            continue
        previous_line = line
        window = tokens[index : index + DUP_WINDOW]
        digest = hashlib.blake2b("\x1f".join(t for t, _ in window).encode(), digest_size=8)
        prints.append((int.from_bytes(digest.digest(), "big", signed=True), line, window[-1][1]))
    return prints


def content_hash(raw: bytes, settings: str) -> str:
    return hashlib.sha256(raw + b"\0" + settings.encode()).hexdigest()
