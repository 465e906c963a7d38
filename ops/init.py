"""``python -m ops init [DIR]``: a commented starter ``proofyard.yaml`` detected from the project.

The same detection is the configuration of ``--target=DIR`` when DIR has no
``proofyard.yaml``: a foreign project is never checked with the harness's self-config.
"""

from __future__ import annotations

import configparser
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ops.atomic import write_atomic
from ops.target import Target, TargetError
from ops.usage import UsageError

BENCHMARK_FOLDERS = ("benchmarks", "benchmark", "bench")
VENV_FOLDERS = (".venv", "venv")
DEV_GROUPS = frozenset({"dev", "test", "tests", "testing", "lint", "docs", "typing"})


@dataclass
class Detected:
    """What was found in the project, as config values and one comment line each."""

    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def detect(root: Path, environ: Mapping[str, str] | None = None) -> Detected:
    """The configuration a project's own files suggest (see the module docstring)."""
    environ = os.environ if environ is None else environ
    found = Detected()
    target = Target(root)
    try:
        pyproject = target.pyproject
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    section: dict[str, Any] = {"root": "."}
    packages = sorted(target.package_dirs)
    if packages:
        layout = "src layout" if (root / "src").is_dir() else "flat layout"
        section["packages"] = packages
        found.notes.append(f"packages: {', '.join(packages)} ({layout})")
    else:
        found.notes.append("packages: none found; name them in target.packages")
    section["docs"] = _docs_globs(root)
    if any((root / name).is_file() for name in ("mkdocs.yml", "mkdocs.yaml")):
        found.config["docs"] = {"slug": "mkdocs"}  # anchors as MkDocs' toc makes them
        found.notes.append("mkdocs.yml: anchors use MkDocs' slug rule, its nav is checked")
    interpreter = _interpreter(root, environ)
    if interpreter:
        key, value = interpreter
        section[key] = value
        found.notes.append(f"the project's interpreter: {key} {value}")
    else:
        found.notes.append(
            "no project virtualenv found (.venv, venv, $VIRTUAL_ENV): the project's code runs "
            "in the harness's interpreter; set target.venv to check it in its own"
        )
    found.config["target"] = section
    scripts = sorted(pyproject.get("project", {}).get("scripts", {}))
    if scripts:
        found.notes.append(f"entry points run with --help: {', '.join(scripts)}")
    deps = _deps(root, pyproject, found.notes)
    if deps:
        found.config["deps"] = deps
    benchmark = _benchmark(root)
    if benchmark:
        found.config["benchmark"] = {"paths": [benchmark]}
        found.notes.append(f"benchmark folder: {benchmark} (files named as the project's pytest)")
    return found


def _docs_globs(root: Path) -> list[str]:
    globs = ["*.md"]
    if any(root.glob("*.rst")):
        globs.append("*.rst")
    for folder in ("docs", "doc"):
        for suffix in ("md", "rst"):
            if any((root / folder).glob(f"**/*.{suffix}")):
                globs.append(f"{folder}/**/*.{suffix}")
    return globs


def _interpreter(root: Path, environ: Mapping[str, str]) -> tuple[str, str] | None:
    for name in VENV_FOLDERS:
        if (root / name / "bin" / "python").is_file():
            return "venv", name
    active = environ.get("VIRTUAL_ENV")
    # the harness's own venv, when active, is not the project's
    if active and Path(active).resolve() != Path(sys.prefix).resolve():
        python = Path(active, "bin", "python")
        if python.is_file():
            return "python", str(python)
    return None


def _deps(root: Path, pyproject: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    deps: dict[str, Any] = {}
    requirements = sorted(
        path.relative_to(root).as_posix()
        for pattern in ("requirements*.txt", "requirements/*.txt")
        for path in root.glob(pattern)
    )
    constraints = sorted(path.name for path in root.glob("constraints*.txt"))
    if requirements:
        deps["requirements"] = requirements
        notes.append(f"requirements files: {', '.join(requirements)}")
    if constraints:
        deps["constraints"] = constraints
        notes.append(f"constraints files: {', '.join(constraints)}")
    project = pyproject.get("project", {})
    groups = sorted(pyproject.get("dependency-groups", {}))
    extras = sorted(project.get("optional-dependencies", {}))
    runtime = [name for name in extras if name not in DEV_GROUPS]
    if groups or extras:
        notes.append(
            f"extras: {', '.join(extras) or 'none'}; dependency groups: "
            f"{', '.join(groups) or 'none'} (deps.extras / deps.groups require them installed)"
        )
    if runtime:
        deps["extras"] = runtime
    return deps


def _benchmark(root: Path) -> str | None:
    for name in BENCHMARK_FOLDERS:
        if (root / name).is_dir():
            return name
    return None


def pytest_conventions(root: Path) -> dict[str, list[str]]:
    """``python_files`` and ``python_functions`` of the project's own pytest configuration
    (pytest.ini, pyproject.toml, tox.ini, setup.cfg: the first that has a pytest section)."""
    for name, section in (
        ("pytest.ini", "pytest"),
        ("pyproject.toml", None),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        path = root / name
        if not path.is_file():
            continue
        options = _pytest_options(path, section)
        if options is not None:
            return {
                key: _words(options.get(key))
                for key in ("python_files", "python_functions")
                if options.get(key)
            }
    return {}


def _pytest_options(path: Path, section: str | None) -> dict[str, Any] | None:
    try:
        if section is None:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return data.get("tool", {}).get("pytest", {}).get("ini_options")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def _words(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else str(value).split()


def render(found: Detected, root: Path) -> str:
    """The starter file: the detected values, then what each section offers, as comments."""
    lines = [
        f"# proofyard configuration for {root.name}, written by 'python -m ops init'.",
        "# Detected:",
        *[f"#   - {note}" for note in found.notes],
        "# Every key, its default and meaning: docs/configuration.md in proofyard.",
        "# Check it: python -m ops config validate proofyard.yaml",
        "",
        yaml.safe_dump(found.config, sort_keys=False, default_flow_style=None).rstrip(),
        "",
        "# The suites to run, each a marker: pytest -m smoke (imports, entry points),",
        "# -m docs, -m deps, -m quality, -m compression, -m benchmark, -m pipeline, -m kpi.",
        "# quality:",
        "#   mode: ratchet          # fail only on findings new against the baseline",
        "# smoke:",
        "#   commands:",
        '#     - {name: cli-help, run: ["{python}", "-m", "mypackage", "--help"]}',
        "",
    ]
    return "\n".join(lines)


def write_starter(folder: Path) -> Path:
    """Write ``folder/proofyard.yaml``; refuse to replace an existing one."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory")
    path = folder / "proofyard.yaml"
    if path.exists():
        raise UsageError(f"{path} exists: init never overwrites it (edit it, or remove it first)")
    write_atomic(path, render(detect(folder.resolve()), folder.resolve()))
    return path
