"""Wheels for offline installs: fetch with ``pip download``, a SHA-256 manifest, verify both
ways (the deps suite's wheelhouse check uses the same code), install with ``--no-index``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

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


def _pip(
    args: Sequence[str], timeout_s: float, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    argv = [python, "-m", "pip", *args]
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


@dataclass(frozen=True)
class Fetched:
    manifest: Path
    refused: tuple[str, ...] = ()  # files pip brought that the approve list does not name


def distribution_of(filename: str) -> str | None:
    """The canonical distribution name of a wheel or sdist file name."""
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(parse_wheel_filename(filename)[0])
        return canonicalize_name(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def fetch(
    folder: Path,
    requirements: Sequence[Path],
    extra_args: Sequence[str] = (),
    timeout_s: float = 1800,
    python: str = sys.executable,
    approve: Sequence[str] | None = None,
) -> Fetched:
    """``pip download`` the pinned requirements (by the project's interpreter, so the
    wheels match its Python and platform) into ``folder`` and write its manifest. With
    ``approve``, only files of those distributions enter ``folder``; the rest are refused."""
    folder.mkdir(parents=True, exist_ok=True)
    approved = None if approve is None else {canonicalize_name(name) for name in approve}
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as staging:
        args = ["download", "--dest", staging, "--only-binary=:all:", *extra_args]
        for path in requirements:
            args += ["-r", str(path)]
        _pip(args, timeout_s, python)
        refused = []
        for downloaded in sorted(Path(staging).iterdir()):
            if approved is not None and distribution_of(downloaded.name) not in approved:
                refused.append(downloaded.name)
                continue
            shutil.move(downloaded, folder / downloaded.name)
    return Fetched(write_manifest(folder), tuple(refused))


def check(folder: Path) -> tuple[int, list[ManifestProblem]]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise WheelsError(f"{manifest}: no manifest; run 'python -m ops env wheels fetch'")
    return verify(folder, manifest)


def install(
    folder: Path,
    requirements: Sequence[Path],
    timeout_s: float = 1800,
    python: str = sys.executable,
) -> None:
    """Verify, then install offline from the wheelhouse only, into ``python``'s environment
    (the project's, ``target.python``)."""
    _, problems = check(folder)
    if problems:
        raise WheelsError(
            "wheelhouse does not match its manifest: "
            + "; ".join(f"{p.file}: {p.message}" for p in problems)
        )
    args = ["install", "--no-index", "--find-links", str(folder)]
    for path in requirements:
        args += ["-r", str(path)]
    _pip(args, timeout_s, python)
