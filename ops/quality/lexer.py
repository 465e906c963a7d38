"""One scan of a module's source for everything the gates read from its tokens: radon's raw
line counts, TODO/FIXME/XXX markers in comments, and the code tokens duplication hashes.

Why not ``tokenize``: on Python 3.11 it is pure Python, one regular-expression match per
token plus a per-line loop, and on the CPython standard library it took 38 s of a 159 s
cold analysis (more than parsing), and radon's line grouping over its tokens another 16 s.
This scanner matches one expression, built from tokenize's own patterns, over the whole
source and folds the counting into the same loop. It is run on sources that have already
parsed, and for those yields the tokens tokenize yields for everything counted here (the
tests compare both, and the counts with ``radon.raw.analyze``).

Known difference: on Python 3.12+ an f-string may nest its own quote character
(``f"{x["k"]}"``); this scanner, like tokenize before 3.12, ends the string at the inner
quote, which can shift a marker or a duplication window inside such an f-string.
"""

from __future__ import annotations

import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

MARKER = re.compile(r"\b(TODO|FIXME|XXX)\b")
# Most frequent tokens first, each alternative failing on its first character where it
# can (string prefixes as a character class, not tokenize's 25 alternatives; operators by
# shape, not 47 alternatives): 1.6x faster than tokenize's order on the stdlib, with the
# same tokens. Names may not start with a digit, so numbers need not come first; a name
# right before a quote is a string prefix in code that parses, so strings precede names.
_STRING = (
    f"[bBrRuUfF]{{0,2}}(?:'''{tokenize.Single3}|\"\"\"{tokenize.Double3}"
    r"|'[^\n'\\]*(?:\\.[^\n'\\]*)*'|\"[^\n\"\\]*(?:\\.[^\n\"\\]*)*\")"
)
_OP = (
    r"\*\*=?|//=?|>>=?|<<=?|\.\.\.|\.(?![0-9])|->|:="
    r"|[-+*/%@&|^=<>!]=|[-+*/%@&|^=<>~:;,()\[\]{}]"
)
_PATTERN = re.compile(  # each match takes the blanks before its token along
    r"[ \f\t]*(?:"
    + "|".join(
        [
            f"(?P<string>{_STRING})",
            r"(?P<name>[^\W\d]\w*)",
            f"(?P<op>{_OP})",
            r"(?P<newline>\r?\n)",
            f"(?P<number>(?=\\.?[0-9]){tokenize.Number})",
            r"(?P<comment>#[^\r\n]*)",
            r"(?P<continuation>\\\r?\n)",
            r"(?P<other>.)",
        ]
    )
    + ")",
    re.DOTALL,
)


@dataclass(frozen=True)
class RawCounts:
    """radon.raw.analyze's counts."""

    loc: int
    lloc: int
    sloc: int
    comments: int
    multi: int
    blank: int
    single_comments: int


@dataclass
class TokenScan:
    raw: RawCounts
    markers: list[dict[str, Any]] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # code tokens, as tokenize spells them
    code_lines: list[int] = field(default_factory=list)  # the line each one starts on


class _Counter:
    """radon's raw counts, fed a statement and a logical line at a time.

    radon re-tokenizes a growing buffer line by line: a group is one logical line, or one
    blank or comment-only line outside brackets. Within a group, statements split at ``;``
    count as logical lines by radon's ``_logical`` rule (``if x: y`` counts 2).
    """

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.counted_upto = 0  # groups come in order: lines up to here belong to earlier ones
        self.lloc = self.comments = self.single = self.multi = self.blank = self.sloc = 0

    def statement(self, kept: int, last_colon: int, last_in_line: bool) -> None:
        """``kept``: its tokens (comments and line ends left out); ``last_colon``: the index
        of its last ``:`` among them, -1 for none. radon's buffer holds an end marker after
        the last statement of a line, which shifts where a final colon lies."""
        if last_colon >= 0:
            self.lloc += 2 - (last_colon == kept + last_in_line - 2)
        elif kept:
            self.lloc += 1

    def group(self, first: int, last: int, real: int, only: str) -> None:
        """Lines ``first``-``last``, holding ``real`` tokens other than line ends; ``only``:
        the kind of the first of them ("string" for a one-line string, "strings" for a
        multi-line one)."""
        last = max(last, first)
        begin = max(first, self.counted_upto + 1)
        filled = sum(1 for text in self.lines[begin - 1 : last] if text.strip())
        empty = max(0, last - begin + 1 - filled)  # lines past the end count as empty
        if real == 1 and only in ("comment", "string"):
            self.single += 1
        elif real == 1 and only == "strings":
            self.multi += filled
            self.blank += empty
        else:
            self.sloc += filled
            self.blank += empty
        self.counted_upto = max(self.counted_upto, last)

    def result(self) -> RawCounts:
        # lines the tokenizer folds away (trailing blank lines)
        self.blank += max(0, len(self.lines) - self.counted_upto)
        loc = self.sloc + self.blank + self.multi + self.single
        return RawCounts(
            loc, self.lloc, self.sloc, self.comments, self.multi, self.blank, self.single
        )


def _markers(comment: str, line: int, column: int) -> list[dict[str, Any]]:
    return [
        {
            "line": line,
            "col": column + found.start() + 1,
            "tag": found.group(1),
            "text": comment.strip(),
        }
        for found in MARKER.finditer(comment)
    ]


def scan(source: str) -> TokenScan:  # noqa: C901 - one loop on purpose: a call per token costs
    """Markers, code tokens and raw counts of ``source`` (which must parse).

    The state of the current group and statement lives in local variables: this loop runs
    once per token, millions of times on a large tree.
    """
    counter = _Counter(source)
    markers: list[dict[str, Any]] = []
    code: list[str] = []
    code_lines: list[int] = []
    line, line_start, depth, comments = 1, 0, 0, 0
    first = last = real = kept = 0  # the group: first line, last line, real tokens
    only, last_colon = "", -1
    for match in _PATTERN.finditer(source):
        kind = match.lastgroup
        if kind == "continuation":
            line += 1
            line_start = match.end()
            continue
        if not first:
            first = line
        if kind == "newline":
            line += 1
            line_start = match.end()
            if depth <= 0:
                counter.statement(kept, last_colon, True)
                counter.group(first, last, real, only)
                first = last = real = kept = depth = 0
                last_colon = -1
            continue
        text = match[kind]
        real += 1
        if real == 1:
            only = kind
        last = line
        if kind == "comment":
            comments += 1
            if "TODO" in text or "FIXME" in text or "XXX" in text:
                markers.extend(_markers(text, line, match.start(kind) - line_start))
            continue
        code.append(text)
        code_lines.append(line)
        if kind == "op":
            if text == ";":
                counter.statement(kept, last_colon, False)
                kept, last_colon = 0, -1
                continue
            if text == ":":
                last_colon = kept
            else:
                depth += (text in "([{") - (text in ")]}")
        elif kind == "string" and "\n" in text:
            if real == 1:
                only = "strings"
            line += text.count("\n")
            line_start = match.end() - (len(text) - 1 - text.rindex("\n"))
            last = line
        kept += 1
    if first:
        counter.statement(kept, last_colon, True)
        counter.group(first, last, real, only)
    counter.comments = comments
    return TokenScan(counter.result(), markers, code, code_lines)
