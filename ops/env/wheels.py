"""Wheels for offline installs: fetch with ``pip download``, a SHA-256 manifest, verify both
ways (the deps suite's wheelhouse check uses the same code), install with ``--no-index``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.atomic import write_atomic
from ops.deps.wheelhouse import (
    PACKAGE_SUFFIXES,
    ManifestProblem,
    format_manifest,
    sha256_of,
    verify,
)

MANIFEST = "SHA256SUMS"


class WheelsError(Exception):
    """pip failed, or the wheelhouse does not match its manifest."""


def _pip(args: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pip", *args]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WheelsError(f"pip {args[0]}: {exc}") from None
    if result.returncode != 0:
        raise WheelsError(
            f"pip {' '.join(args[:1])} failed ({result.returncode}): "
            f"{result.stderr.strip()[-1500:]}"
        )
    return result


def write_manifest(folder: Path) -> Path:
    hashes = {
        path.name: sha256_of(path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name.endswith(PACKAGE_SUFFIXES)
    }
    manifest = folder / MANIFEST
    write_atomic(manifest, format_manifest(hashes))
    return manifest


def fetch(
    folder: Path,
    requirements: Sequence[Path],
    extra_args: Sequence[str] = (),
    timeout_s: float = 1800,
) -> Path:
    """``pip download`` the pinned requirements into ``folder`` and write its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    args = ["download", "--dest", str(folder), "--only-binary=:all:", *extra_args]
    for path in requirements:
        args += ["-r", str(path)]
    _pip(args, timeout_s)
    return write_manifest(folder)


def check(folder: Path) -> tuple[int, list[ManifestProblem]]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise WheelsError(f"{manifest}: no manifest; run 'python -m ops env wheels fetch'")
    return verify(folder, manifest)


def install(folder: Path, requirements: Sequence[Path], timeout_s: float = 1800) -> None:
    """Verify, then install offline from the wheelhouse only."""
    _, problems = check(folder)
    if problems:
        raise WheelsError(
            "wheelhouse does not match its manifest: "
            + "; ".join(f"{p.file}: {p.message}" for p in problems)
        )
    args = ["install", "--no-index", "--find-links", str(folder)]
    for path in requirements:
        args += ["-r", str(path)]
    _pip(args, timeout_s)
