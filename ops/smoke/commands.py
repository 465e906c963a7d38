"""Entry points, configured commands, probes and artifact checks: each a command run once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.proc import CommandResult

# Runs a ``module:attr`` callable as a console script would, without installing the target.
ENTRY_POINT_RUNNER = (
    "import importlib, sys\n"
    "module, _, attr = sys.argv[1].partition(':')\n"
    "obj = importlib.import_module(module)\n"
    "for part in attr.split('.'):\n"
    "    obj = getattr(obj, part)\n"
    "sys.argv = sys.argv[2:]\n"
    "sys.exit(obj())\n"
)
# Calls a ``module:callable`` health probe: exit 0 when it returns anything but False.
PROBE_RUNNER = (
    "import importlib, sys\n"
    "module, _, attr = sys.argv[1].partition(':')\n"
    "obj = importlib.import_module(module)\n"
    "for part in attr.split('.'):\n"
    "    obj = getattr(obj, part)\n"
    "result = obj()\n"
    "if result is False:\n"
    "    print('probe returned False', file=sys.stderr)\n"
    "    sys.exit(1)\n"
)


@dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str
    group: str


def declared_entry_points(pyproject: dict[str, Any]) -> list[EntryPoint]:
    """console_scripts and gui_scripts declared in ``[project]``."""
    project = pyproject.get("project", {})
    found = []
    for key, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        for name, value in sorted(project.get(key, {}).items()):
            found.append(EntryPoint(name, value, group))
    return found


def entry_point_argv(entry_point: EntryPoint, args: Sequence[str], python: str) -> list[str]:
    """Run the entry point in the project's interpreter ``python``."""
    return [python, "-c", ENTRY_POINT_RUNNER, entry_point.value, entry_point.name, *args]


def probe_argv(spec: str, python: str) -> list[str]:
    if ":" not in spec:
        raise ValueError(f"probe {spec!r}: expected module:callable")
    return [python, "-c", PROBE_RUNNER, spec]


def python_path_env(import_roots: Sequence[Path]) -> dict[str, str]:
    return {"PYTHONPATH": ":".join(str(root) for root in import_roots)}


def judge_command(result: CommandResult, expect_exit: int, expect_output: str | None) -> list[str]:
    """What is wrong with a finished command, as sentences (empty when it did as expected)."""
    problems = []
    if result.error or result.timed_out:
        return [result.describe()]
    if result.returncode != expect_exit:
        problems.append(f"exit code {result.returncode}, expected {expect_exit}")
    if expect_output is not None and not re.search(expect_output, result.output):
        problems.append(f"output does not match /{expect_output}/")
    return problems


def missing_artifacts(root: Path, patterns: Sequence[str]) -> list[str]:
    """Globs that matched no file, or only empty files."""
    problems = []
    for pattern in patterns:
        matches = [path for path in root.glob(pattern) if path.is_file()]
        if not matches:
            problems.append(f"{pattern}: no file matches")
        elif not any(path.stat().st_size > 0 for path in matches):
            problems.append(f"{pattern}: only empty files ({', '.join(p.name for p in matches)})")
    return problems


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
