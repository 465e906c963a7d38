"""Fenced code blocks: python runs (or is syntax-checked), pycon runs as doctest, shell never."""

from __future__ import annotations

import ast
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ops.docs.parse import Fence
from ops.proc import NO_LIMITS, Limits, run_command

if TYPE_CHECKING:
    from ops.smoke.imports import ImportRunner

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

RUNNER = Path(__file__).with_name("example_runner.py")
SPHINX_DOCTEST_FLAGS = ("+IGNORE_EXCEPTION_DETAIL", "+DONT_ACCEPT_TRUE_FOR_1")
NETWORK_MARKS = (
    "proofyard network policy blocked",
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname",
    "getaddrinfo failed",
    "Failed to resolve",
    "Network is unreachable",
)
HOST_PATTERNS = (
    re.compile(r"blocked a connection to \[?([^\]\s:]+)"),
    re.compile(r"host='([^']+)'"),
    re.compile(r"Failed to resolve '([^']+)'"),
    re.compile(r"https?://([^/:'\"\s]+)"),
    re.compile(r"\(\s*['\"]([^'\"]+)['\"]\s*,\s*\d+"),  # ("host", port) in the source
)


@dataclass(frozen=True)
class BlockPlan:
    """How one fence is handled: ``run``, ``doctest``, ``syntax`` or a skip reason."""

    action: Literal["run", "doctest", "syntax", "skip"]
    reason: str = ""


def plan_block(fence: Fence, mode: Mode) -> BlockPlan:
    if fence.kind in ("testsetup", "testcleanup", "testoutput"):
        return BlockPlan("skip", f"a {fence.kind} block is part of the examples around it")
    if fence.kind in ("doctest", "testcode"):  # a Sphinx doctest example
        is_doctest = fence.kind == "doctest"
    else:
        language = fence.language
        if language in SHELL:
            return BlockPlan("skip", "shell blocks are never executed")
        is_doctest = language in DOCTEST or (language in PYTHON and _has_prompt(fence.content))
        if not is_doctest and language not in PYTHON:
            return BlockPlan("skip", f"{language or 'untagged'} blocks are not checked")
    reason = _skip_reason(fence, mode)
    if reason:
        return BlockPlan("skip", reason)
    if mode == "syntax":
        return BlockPlan("syntax")
    return BlockPlan("doctest" if is_doctest else "run")


def _skip_reason(fence: Fence, mode: Mode) -> str:
    if mode == "off":
        return "docs.python_blocks is off"
    if fence.directive == "skip":
        return fence.reason or "skipped by a proofyard: skip comment"
    skipif = dict(fence.options).get("skipif")
    return f":skipif: {skipif} is not evaluated" if skipif else ""


def _has_prompt(content: str) -> bool:
    return any(line.lstrip().startswith(">>>") for line in content.splitlines())


@dataclass(frozen=True)
class BlockOutcome:
    ok: bool
    detail: str = ""


def check_syntax(fence: Fence, filename: str) -> BlockOutcome:
    """Compile a code block (top-level ``await`` allowed, as in the asyncio REPL)."""
    source = fence.content
    if _has_prompt(source) or fence.language in DOCTEST or fence.kind == "doctest":
        return BlockOutcome(True)  # prompts and outputs are no Python source
    try:
        compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as exc:
        line = _first_line(fence) + (exc.lineno or 1) - 1
        return BlockOutcome(False, f"line {line}: {exc.msg}\n{numbered(fence, line)}")
    return BlockOutcome(True)


def _first_line(fence: Fence) -> int:
    """The document line of the block's first line of code (a Markdown fence's line is
    its opening fence)."""
    return fence.line + 1 if fence.kind == "fence" else fence.line


def example_spec(fence: Fence, action: str, filename: str) -> dict:
    """One example as the runner takes it."""
    flags = [flag for flag in dict(fence.options).get("options", "").split(",") if flag.strip()]
    if filename.endswith(".rst"):  # Sphinx's doctest_default_flags, before the block's own
        flags = [*SPHINX_DOCTEST_FLAGS, *flags]
    return {
        "kind": "doctest" if action == "doctest" else "code",
        "source": fence.content,
        "line": _first_line(fence),
        "filename": filename,
        "flags": flags,
    }


def numbered(fence: Fence, marked: int | None = None) -> str:
    """The block's source with the document's line numbers, ``marked`` pointed at."""
    first = _first_line(fence)
    return "\n".join(
        f"{'>' if first + index == marked else ' '} {first + index:>5} | {text}"
        for index, text in enumerate(fence.content.splitlines())
    )


def explain(fence: Fence, filename: str, detail: str, allow_hosts: Sequence[str]) -> str:
    """A failure in words: the network policy when it stopped the block (with how to allow
    the host or mark the block), and the block's own numbered source for code."""
    parts = [_network_hint(fence, filename, detail, allow_hosts), detail.strip()]
    if fence.kind != "doctest" and fence.language not in DOCTEST:
        lines = [int(n) for n in re.findall(rf'File "{re.escape(filename)}", line (\d+)', detail)]
        parts.append("the block:\n" + numbered(fence, lines[-1] if lines else None))
    return "\n\n".join(part for part in parts if part)


def _network_hint(fence: Fence, filename: str, detail: str, allow_hosts: Sequence[str]) -> str:
    if not any(mark in detail for mark in NETWORK_MARKS):
        return ""
    texts = (detail, fence.content)
    host = next(
        (m.group(1) for text in texts for pattern in HOST_PATTERNS if (m := pattern.search(text))),
        "a host",
    )
    allowed = ", ".join(allow_hosts) or "loopback only"
    mark = ".. proofyard: skip" if filename.endswith(".rst") else "<!-- proofyard: skip -->"
    return (
        f"stopped by the network policy: the block tried to reach {host}, and code the harness "
        f"runs reaches {allowed} (network.allow_hosts). Allow the host in "
        f"network.allow_hosts, or mark the block with {mark} just before it."
    )


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
    server: ImportRunner | None = None,
) -> BlockOutcome:
    """Run one python or doctest block by itself in the project's interpreter ``python``
    (in a child of ``server`` where one is given: see :func:`run_examples`)."""
    spec = {"examples": [example_spec(fence, action, filename)]}
    (outcome,) = run_examples(
        spec,
        [fence],
        filename,
        cwd,
        timeout_s,
        import_roots,
        allow_hosts,
        isolate,
        limits,
        python,
        server,
    )
    return outcome


def run_examples(
    spec: dict,
    fences: Sequence[Fence],
    filename: str,
    cwd: Path,
    timeout_s: float,
    import_roots: Sequence[Path],
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    limits: Limits = NO_LIMITS,
    python: str = sys.executable,
    server: ImportRunner | None = None,
) -> list[BlockOutcome]:
    """Run the examples of ``spec`` in one process of ``python``, sharing one namespace (a
    Sphinx doctest group); one outcome per example, each failure explained.

    With ``server`` (a running import server of the same interpreter, import roots, network
    policy and limits) that process is a fork of the warm server rather than a new chain of
    reaper, namespace helper and interpreter: ~0.2 s less per code block."""
    if server is not None:
        return _on_server(server, spec, fences, filename, cwd, timeout_s, allow_hosts)
    env = {"PYTHONPATH": ":".join(str(root) for root in import_roots)}
    with tempfile.TemporaryDirectory(prefix="proofyard-examples-") as folder:
        results = Path(folder) / "results.json"
        result = run_command(
            # -c, as a plain ``python -c BLOCK`` would: the working folder is importable and
            # the runner's own folder is not (it would shadow the project's modules)
            [python, "-c", RUNNER.read_text(encoding="utf-8"), str(results)],
            timeout_s=timeout_s,
            cwd=cwd,
            env=env,
            allow_hosts=allow_hosts,
            isolate=isolate,
            input_text=json.dumps(spec),
            limits=limits,
        )
        try:
            outcomes = json.loads(results.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            outcomes = None
    if outcomes is None or result.timed_out or result.error:
        detail = f"{result.describe()}\n{result.output.strip()[-3000:]}".strip()
        return _all_failed(fences, filename, detail, allow_hosts)
    return _explained(fences, outcomes, filename, allow_hosts)


def _on_server(
    server: ImportRunner,
    spec: dict,
    fences: Sequence[Fence],
    filename: str,
    cwd: Path,
    timeout_s: float,
    allow_hosts: Sequence[str],
) -> list[BlockOutcome]:
    with tempfile.TemporaryDirectory(prefix="proofyard-examples-") as folder:
        results = Path(folder) / "results.json"
        try:
            answer = server.run_examples(spec, cwd, results, timeout_s)
        except (OSError, RuntimeError) as exc:  # the server itself is gone
            return _all_failed(fences, filename, f"the examples' server failed: {exc}", [])
        try:
            outcomes = json.loads(results.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            outcomes = None
    if answer.get("status") == "ok" and outcomes is not None:
        return _explained(fences, outcomes, filename, allow_hosts)
    return _all_failed(fences, filename, _server_failure(answer, timeout_s), allow_hosts)


def _server_failure(answer: dict[str, Any], timeout_s: float) -> str:
    """How the examples' child ended, said as for a command of their own."""
    output = answer.get("output", "").strip()[-3000:]
    status = answer.get("status")
    if status == "timeout":
        head = f"timed out after {timeout_s:.1f} s and was killed (whole process tree)"
    elif status == "crashed":
        head = answer.get("message", "ended before reporting")
    else:
        head = f"{answer.get('type')}: {answer.get('message')}\n{answer.get('traceback', '')}"
    return f"{head}\n{output}".strip()


def _all_failed(
    fences: Sequence[Fence], filename: str, detail: str, allow_hosts: Sequence[str]
) -> list[BlockOutcome]:
    return [BlockOutcome(False, explain(fence, filename, detail, allow_hosts)) for fence in fences]


def _explained(
    fences: Sequence[Fence], outcomes: list[dict], filename: str, allow_hosts: Sequence[str]
) -> list[BlockOutcome]:
    return [
        BlockOutcome(True)
        if outcome["ok"]
        else BlockOutcome(False, explain(fence, filename, outcome["detail"][-4000:], allow_hosts))
        for fence, outcome in zip(fences, outcomes, strict=True)
    ]
