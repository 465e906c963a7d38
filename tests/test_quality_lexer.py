"""The quality engine's token scan against tokenize (its tokens) and radon (its counts)."""

from __future__ import annotations

import io
import random
import sysconfig
import tokenize
from pathlib import Path

import pytest

from ops.quality.lexer import scan

STDLIB = Path(sysconfig.get_paths()["stdlib"])
_NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def _tokenize_code(source: str) -> list[tuple[str, int]]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [(t.string, t.start[0]) for t in tokens if t.type not in _NOT_CODE]


def _stdlib_sample(count: int, seed: int) -> list[Path]:
    files = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
    return random.Random(seed).sample(files, count)


def _parsable(path: Path) -> str | None:
    try:
        source = path.read_text(encoding="utf-8")
        compile(source, str(path), "exec", dont_inherit=True)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return source


TRICKY = '''\
x = .5 + 1_000 + 0x_ff + 1e-5j + 1if y else 2
s = rb'raw' + Rb"x" + f'{x!r:>{w}}' + u"u" + """multi
line""" + 'a\\
b'
if x: y = 1; z = 2  # TODO: split
total = (1 +
         2) \\
    + 3
w = "# not a comment, TODO not a marker"
class A: pass
lambda: (yield)
a[1:2, ::3] **= 2; b //= 3; c @= d; e -> f if False else g
'''


def test_tricky_source_gives_tokenizes_tokens_and_radons_counts():
    pytest.importorskip("radon.raw")
    from radon.raw import analyze

    source = TRICKY.replace("e -> f if False else g", "e")
    found = scan(source)
    assert list(zip(found.code, found.code_lines, strict=True)) == _tokenize_code(source)
    assert [(m["line"], m["tag"]) for m in found.markers] == [(5, "TODO")]
    theirs = analyze(source)
    assert found.raw == type(found.raw)(
        theirs.loc,
        theirs.lloc,
        theirs.sloc,
        theirs.comments,
        theirs.multi,
        theirs.blank,
        theirs.single_comments,
    )


def test_crlf_and_no_final_newline():
    source = "a = 1\r\n# FIXME later\r\nb = [\r\n  2]"
    found = scan(source)
    assert list(zip(found.code, found.code_lines, strict=True)) == _tokenize_code(source)
    assert found.markers == [{"line": 2, "col": 3, "tag": "FIXME", "text": "# FIXME later"}]
    assert (found.raw.sloc, found.raw.single_comments, found.raw.lloc) == (3, 1, 2)


def test_stdlib_files_scan_as_tokenize_and_count_as_radon():
    pytest.importorskip("radon.raw")
    from radon.raw import analyze

    compared = 0
    for path in _stdlib_sample(40, seed=5):
        source = _parsable(path)
        if source is None:
            continue
        found = scan(source)
        assert list(zip(found.code, found.code_lines, strict=True)) == _tokenize_code(source), path
        theirs = analyze(source)
        assert (found.raw.loc, found.raw.lloc, found.raw.sloc, found.raw.comments) == (
            theirs.loc,
            theirs.lloc,
            theirs.sloc,
            theirs.comments,
        ), path
        assert (found.raw.multi, found.raw.blank, found.raw.single_comments) == (
            theirs.multi,
            theirs.blank,
            theirs.single_comments,
        ), path
        compared += 1
    assert compared >= 30
