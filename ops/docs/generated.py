"""Generated sections: the text between BEGIN/END markers equals a command's output."""

from __future__ import annotations

import difflib
from pathlib import Path

from ops.atomic import write_atomic
from ops.docs.parse import GeneratedSection


def expected_block(output: str, fence: str | None) -> str:
    body = output.rstrip("\n")
    return f"```{fence}\n{body}\n```" if fence is not None else body


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def diff(section: GeneratedSection, expected: str, filename: str) -> str:
    """A unified diff from the document's block to the expected one ('' when equal)."""
    if normalise(section.content) == normalise(expected):
        return ""
    lines = difflib.unified_diff(
        normalise(section.content).splitlines(),
        normalise(expected).splitlines(),
        f"{filename} (generated:{section.name})",
        "expected",
        lineterm="",
    )
    return "\n".join(lines)


def rewrite(path: Path, section: GeneratedSection, expected: str) -> None:
    """Replace the block's content in the file (atomically), markers kept."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    newline = "\n"
    new = (
        lines[: section.begin_line]
        + [line + newline for line in expected.splitlines()]
        + lines[section.end_line - 1 :]
    )
    write_atomic(path, "".join(new))
