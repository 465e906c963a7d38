"""Helpers for the harness's own tests: generated targets and harness runs in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def watch_argv(*args: str) -> list[str]:
    """``python -m ops monitor watch --interval 0.1 ARGS...``."""
    return [sys.executable, "-m", "ops", "monitor", "watch", "--interval", "0.1", *args]


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (text is dedented)."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without PROOFYARD_* variables that could leak into a run."""
    # PYTEST_XDIST_* from an outer xdist worker would make the inner run's plugins believe
    # they run under xdist too (pytest-benchmark then disables itself)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROOFYARD", "PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
    }
    env.pop("PYTEST_ADDOPTS", None)
    return {**env, **extra}


@pytest.fixture
def make_target(tmp_path: Path) -> Callable[..., Path]:
    def make(files: Mapping[str, str], config: str = "", name: str = "target") -> Path:
        root = write_tree(tmp_path / name, files)
        root.mkdir(parents=True, exist_ok=True)
        (root / "proofyard.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        return root

    return make


def harness_argv(*args: str) -> list[str]:
    """``python -m pytest -p no:cacheprovider ARGS`` (run it from the harness root)."""
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def run_ops(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m ops ARGS`` in ``cwd``, the harness importable."""
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture
def run_harness(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m pytest ARGS`` from the harness root, reports under tmp_path."""

    def run(
        *args: str,
        reports: str = "reports",
        timeout: float = 240,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = harness_argv(f"--reports-dir={tmp_path / reports}", *args)
        return subprocess.run(
            argv,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(**(env or {})),
        )

    return run


HARNESS_PLUGINS = (
    "fixtures.config",
    "fixtures.network",
    "fixtures.recording",
    "fixtures.reporting",
)


def run_with_plugins(pytester: pytest.Pytester, *args: str, plugins: tuple[str, ...] = ()):
    """Run pytester's test files with proofyard's plugins (reports under ``out/``)."""
    options = [part for name in (*HARNESS_PLUGINS, *plugins) for part in ("-p", name)]
    return pytester.runpytest_subprocess(*options, f"--reports-dir={pytester.path / 'out'}", *args)
