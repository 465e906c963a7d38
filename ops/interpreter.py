"""The interpreter that runs the project's code: ``target.python``, ``target.venv`` or the
harness's own.

The project's environment needs nothing of proofyard: every script proofyard starts in it
(import server, snapshot, doc runner, codec worker) uses the standard library only and is
run by path with ``-I``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

_DESCRIBE = (
    "import json, platform, sys; print(json.dumps({'version': platform.python_version(), "
    "'implementation': platform.python_implementation(), 'prefix': sys.prefix}))"
)


def _own_facts() -> dict[str, Any]:
    import platform

    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "prefix": sys.prefix,
    }


class InterpreterError(Exception):
    """The configured interpreter is missing or does not run."""


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter by path; ``own`` when it is the one running the harness."""

    path: str

    @classmethod
    def harness(cls) -> Interpreter:
        return cls(sys.executable)

    @property
    def own(self) -> bool:
        # not realpath: a venv's python is a link to the base interpreter it was made from
        return os.path.abspath(self.path) == os.path.abspath(sys.executable)

    @cached_property
    def facts(self) -> dict[str, Any]:
        """Version, implementation and prefix, asked of the interpreter itself (once; read
        here when it is the harness's own: asking a child cost ~45 ms a session)."""
        if self.own:
            return _own_facts()
        try:
            done = subprocess.run(
                [self.path, "-I", "-c", _DESCRIBE],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InterpreterError(f"{self.path}: does not run: {exc}") from None
        if done.returncode != 0:
            raise InterpreterError(
                f"{self.path}: exited {done.returncode}: {done.stderr.strip()[-300:]}"
            )
        return json.loads(done.stdout)

    def has_module(self, name: str) -> bool:
        """Whether ``import name`` would find the module in this interpreter."""
        probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
        done = subprocess.run(
            [self.path, "-I", "-c", probe], capture_output=True, timeout=60, check=False
        )
        return done.returncode == 0

    def missing(self, module: str, needed_for: str, distribution: str = "") -> str | None:
        """One sentence naming what to install where, when ``module`` is not importable here."""
        if self.has_module(module):
            return None
        distribution = distribution or module
        return (
            f"{needed_for} needs {distribution} in the project's interpreter {self.path}: "
            f"install it there ({self.path} -m pip install {distribution})"
        )

    def record(self) -> dict[str, Any]:
        """What summary.json and the HTML environment table show."""
        return {"path": self.path, "version": self.facts["version"], "harness": self.own}


def choose(
    python: str | None, venv: str | None, root: Path, must_exist: bool = True
) -> Interpreter:
    """The interpreter ``target.python`` or ``target.venv`` names (relative to the target
    root); a venv yet to be built is accepted with ``must_exist=False``."""
    if python is not None:
        if os.sep not in python and not python.startswith("."):
            found = shutil.which(python)
            if found is None:
                raise InterpreterError(f"target.python: {python!r} is not on PATH")
            return Interpreter(found)
        path = root / python
        if not path.is_file() or not os.access(path, os.X_OK):
            raise InterpreterError(f"target.python: {path} is not an executable file")
        return Interpreter(str(path.absolute()))
    if venv is not None:
        folder = root / venv
        for candidate in (folder / "bin" / "python", folder / "Scripts" / "python.exe"):
            if candidate.is_file():
                return Interpreter(str(candidate.absolute()))
        if not must_exist:
            return Interpreter(str((folder / "bin" / "python").absolute()))
        raise InterpreterError(
            f"target.venv: {folder} has no bin/python (build it with the project's "
            "dependencies: python -m ops env project)"
        )
    return Interpreter.harness()
