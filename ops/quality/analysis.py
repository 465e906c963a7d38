"""Everything the gates need from one file, from one read, one parse and one token scan.

The result is plain data (JSON-ready) so it can be cached by content hash and sent back
from worker processes.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import itertools
import struct
import tokenize
import warnings
from dataclasses import dataclass, field, fields
from typing import Any

from ops.quality.lexer import scan
from ops.quality.metrics import halstead_volume, module_mi
from ops.quality.walk import walk

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
    packed_fingerprints: bytes = b""  # (hash, first line, last line) as _FINGERPRINT packs them

    @property
    def fingerprints(self) -> list[tuple[int, int, int]]:
        """Duplication windows: hash, first line, last line."""
        return list(_FINGERPRINT.iter_unpack(self.packed_fingerprints))

    @property
    def windows(self) -> int:
        """How many duplication windows :attr:`fingerprints` holds."""
        return len(self.packed_fingerprints) // _FINGERPRINT.size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a shallow copy: ``dataclasses.asdict``'s deep copy took 7% of a cold
        run); the fingerprints as base64 (they are most of the cache, and decoding one string
        is far faster than millions of JSON numbers)."""
        data = {name: getattr(self, name) for name in _FIELDS}
        data["packed_fingerprints"] = base64.b64encode(self.packed_fingerprints).decode("ascii")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileResult:
        data = dict(data)
        data["packed_fingerprints"] = base64.b64decode(data.get("packed_fingerprints") or "")
        return cls(**data)


_FIELDS = tuple(item.name for item in fields(FileResult))


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
        tree, result.old_syntax_error = _parse(source, path, oldest)
    except (SyntaxError, ValueError) as exc:
        result.parse_error = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
        result.parse_line = getattr(exc, "lineno", None)
        return result
    tokens = scan(source)
    facts = walk(tree)
    volume = halstead_volume(
        facts.operators + facts.operands,
        len(facts.distinct_operators) + len(facts.distinct_operands),
    )
    result.mi = module_mi(volume, facts.total_complexity, tokens.raw)
    result.sloc = tokens.raw.sloc
    facts.give_structure(result)
    result.markers = tokens.markers
    result.packed_fingerprints = _fingerprints(tokens.code, tokens.code_lines)
    return result


def _parse(source: str, path: str, oldest: tuple[int, int] | None) -> tuple[ast.Module, str | None]:
    """The module's tree, and what in it the oldest supported Python could not parse.

    From 3.7 on, ``feature_version`` only refuses newer syntax and builds the same tree, so
    the common case (nothing too new) is one parse, not two. The compiler's own checks
    (misplaced ``__future__`` imports, ``return`` outside a function, ...) are not the
    parser's: compiling the tree costs about a third of parsing it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences in old code
        if oldest is None or oldest < (3, 7):  # before 3.7 async and await were names
            tree = ast.parse(source, filename=path)
            old_error = None if oldest is None else _too_new(source, path, oldest)
        else:
            try:
                tree = ast.parse(source, filename=path, feature_version=oldest)
                old_error = None
            except SyntaxError as refused:
                tree = ast.parse(source, filename=path)  # raises where no Python parses it
                old_error = _describe_too_new(refused, oldest)
        compile(tree, path, "exec", dont_inherit=True)
    return tree, old_error


def _too_new(source: str, path: str, oldest: tuple[int, int]) -> str | None:
    try:
        ast.parse(source, filename=path, feature_version=oldest)
    except SyntaxError as refused:
        return _describe_too_new(refused, oldest)
    return None


def _describe_too_new(refused: SyntaxError, oldest: tuple[int, int]) -> str:
    return f"line {refused.lineno}: {refused.msg} (Python {oldest[0]}.{oldest[1]})"


def _fingerprints(code: list[str], lines: list[int]) -> bytes:
    """Hashes of every window of DUP_WINDOW code tokens that starts a new line (exact
    tokens), packed. The tokens are joined once and each window sliced out of the join."""
    if len(code) < DUP_WINDOW:
        return b""
    joined = "\x1f".join(code)
    offsets = [0, *itertools.accumulate(len(text) + 1 for text in code)]
    packed = []
    previous_line = -1
    for index in range(len(code) - DUP_WINDOW + 1):
        line = lines[index]
        if line == previous_line:
            continue
        previous_line = line
        window = joined[offsets[index] : offsets[index + DUP_WINDOW] - 1].encode()
        digest = hashlib.blake2b(window, digest_size=8).digest()
        packed.append(
            _FINGERPRINT.pack(
                int.from_bytes(digest, "big", signed=True), line, lines[index + DUP_WINDOW - 1]
            )
        )
    return b"".join(packed)


def content_hash(raw: bytes, settings: str) -> str:
    return hashlib.sha256(raw + b"\0" + settings.encode()).hexdigest()
