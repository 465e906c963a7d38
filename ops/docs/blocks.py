"""Fenced code blocks: python runs (or is syntax-checked), pycon runs as doctest, shell never."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ops.docs.parse import Fence
from ops.proc import NO_LIMITS, Limits, run_command

PYTHON = {"python", "py", "python3"}
DOCTEST = {"pycon", "doctest", "python-repl"}
SHELL = {
    "bash",
    "sh",
    "shell",
    "console",
    "zsh",
    "fish",
    "shell-session",
    "sh-session",
    "powershell",
    "ps1",
    "bat",
    "cmd",
}
Mode = Literal["run", "syntax", "off"]

# Runs one doctest from stdin; the fence content never includes the closing fence, so the
# expected output ends where the block ends, blank line before the fence or not.
DOCTEST_RUNNER = (
    "import doctest, json, sys\n"
    "spec = json.load(sys.stdin)\n"
    "test = doctest.DocTestParser().get_doctest(spec['text'], {'__name__': '__main__'},\n"
    "    spec['name'], spec['filename'], spec['lineno'])\n"
    "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)\n"
    "runner.run(test, out=sys.stdout.write)\n"
    "sys.exit(1 if runner.failures else 0)\n"
)


@dataclass(frozen=True)
class BlockPlan:
    """How one fence is handled: ``run``, ``doctest``, ``syntax`` or a skip reason."""

    action: Literal["run", "doctest", "syntax", "skip"]
    reason: str = ""


def plan_block(fence: Fence, mode: Mode) -> BlockPlan:
    language = fence.language
    if language in SHELL:
        return BlockPlan("skip", "shell blocks are never executed")
    is_doctest = language in DOCTEST or (language in PYTHON and _has_prompt(fence.content))
    if not is_doctest and language not in PYTHON:
        return BlockPlan("skip", f"{language or 'untagged'} blocks are not checked")
    if mode == "off":
        return BlockPlan("skip", "docs.python_blocks is off")
    if fence.directive == "skip":
        return BlockPlan("skip", fence.reason or "skipped by a proofyard: skip comment")
    if mode == "syntax":
        return BlockPlan("syntax")
    return BlockPlan("doctest" if is_doctest else "run")


def _has_prompt(content: str) -> bool:
    return any(line.lstrip().startswith(">>>") for line in content.splitlines())


@dataclass(frozen=True)
class BlockOutcome:
    ok: bool
    detail: str = ""


def check_syntax(fence: Fence, filename: str) -> BlockOutcome:
    source = fence.content
    if _has_prompt(source) or fence.language in DOCTEST:
        return BlockOutcome(True)  # prompts and outputs are no Python source
    try:
        compile(source, filename, "exec")
    except SyntaxError as exc:
        return BlockOutcome(False, f"line {fence.line + (exc.lineno or 0)}: {exc.msg}")
    return BlockOutcome(True)


def run_block(
    fence: Fence,
    action: str,
    filename: str,
    cwd: Path,
    timeout_s: float,
    import_roots: Sequence[Path],
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    limits: Limits = NO_LIMITS,
    python: str = sys.executable,
) -> BlockOutcome:
    """Run a python block in a subprocess of the project's interpreter ``python``, or a
    doctest block through ``doctest`` there."""
    env = {"PYTHONPATH": ":".join(str(root) for root in import_roots)}
    if action == "doctest":
        spec = {
            "text": fence.content,
            "name": f"{filename}:{fence.line}",
            "filename": filename,
            "lineno": fence.line,
        }
        argv = [python, "-c", DOCTEST_RUNNER]
        stdin = json.dumps(spec)
    else:
        argv = [python, "-c", fence.content]
        stdin = None
    result = run_command(
        argv,
        timeout_s=timeout_s,
        cwd=cwd,
        env=env,
        allow_hosts=allow_hosts,
        isolate=isolate,
        input_text=stdin,
        limits=limits,
    )
    if result.error or result.timed_out:
        return BlockOutcome(False, result.describe())
    if result.returncode != 0:
        return BlockOutcome(False, f"{result.describe()}\n{result.output.strip()[-3000:]}")
    return BlockOutcome(True)
