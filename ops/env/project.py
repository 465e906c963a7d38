"""``python -m ops env project``: build the project's own virtualenv from its declared
dependencies (the project installed editable, its requirements and constraints files), with
the project's pip, never the harness's. The network policy applies: the package index's
hosts must be in ``network.allow_hosts``, or ``deps.wheelhouse`` makes the install offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ops.config import LoadedConfig
from ops.interpreter import Interpreter
from ops.proc import CommandResult, run_command
from ops.target import Target
from ops.usage import UsageError

BLOCKED = "proofyard network policy blocked"


class ProjectEnvError(UsageError):
    """The venv could not be made or the install failed; the message says why."""


def venv_folder(loaded: LoadedConfig) -> Path:
    """``target.venv`` (default ``.venv``), relative to the target root."""
    section = loaded.config.target
    if section.python is not None:
        raise ProjectEnvError(
            f"target.python is {section.python}: env project builds a virtualenv, so name "
            "its folder in target.venv instead"
        )
    return loaded.resolve(section.venv or ".venv")


def install_argv(loaded: LoadedConfig, python: str, pip_args: list[str]) -> list[str]:
    """``pip install`` of the project (editable, with deps.extras) and its requirements and
    constraints files, offline from ``deps.wheelhouse`` when one is configured."""
    root = loaded.target_root
    deps = loaded.config.deps
    target = Target.for_config(loaded)
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    if deps.wheelhouse:
        argv += ["--no-index", "--find-links", str(loaded.resolve(deps.wheelhouse))]
    if (root / "pyproject.toml").is_file() or (root / "setup.py").is_file():
        extras = [e for e in deps.extras if e != "*"]
        argv += ["-e", f"{root}[{','.join(extras)}]" if extras else str(root)]
    for flag, patterns in (("-r", deps.requirements), ("-c", deps.constraints)):
        for pattern in patterns:
            for path in sorted(root.glob(pattern)):
                if path.is_file() and not target.is_excluded(path):
                    argv += [flag, str(path)]
    if argv[-1] == "--disable-pip-version-check":
        raise ProjectEnvError(f"{root}: no pyproject.toml, setup.py or requirements to install")
    return argv + pip_args


def build(loaded: LoadedConfig, pip_args: list[str], base_python: str = sys.executable) -> str:
    """Create the venv when missing, install into it; the project's interpreter's path."""
    folder = venv_folder(loaded)
    network = loaded.config.network
    python = folder / "bin" / "python"
    if not python.is_file():
        made = run_command([base_python, "-m", "venv", str(folder)], timeout_s=300, isolate=False)
        _require(made, f"python -m venv {folder}")
    installed = run_command(
        install_argv(loaded, str(python), pip_args),
        timeout_s=loaded.config.env.deadline_s or 1800,
        cwd=loaded.target_root,
        allow_hosts=network.allow_hosts,
        isolate=network.isolate_subprocesses,
    )
    _require(installed, f"pip install into {folder}")
    return f"{python} (Python {Interpreter(str(python)).facts['version']})"


def _require(result: CommandResult, what: str) -> None:
    if result.returncode == 0 and not result.error and not result.timed_out:
        return
    hint = ""
    if BLOCKED in result.output or "Network is unreachable" in result.output:
        hint = (
            "; the package index is not reachable under the network policy: add its hosts "
            "to network.allow_hosts (pypi.org, files.pythonhosted.org) or set deps.wheelhouse"
        )
    tail = result.output.strip().splitlines()[-5:]
    raise ProjectEnvError(f"{what}: {result.describe()}{hint}\n" + "\n".join(tail))
