"""A wheelhouse and its SHA-256 manifest (``sha256sum`` format: ``<hex>  <file name>``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip")


@dataclass(frozen=True)
class ManifestProblem:
    rule: str
    file: str
    message: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> tuple[dict[str, str], list[ManifestProblem]]:
    entries: dict[str, str] = {}
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.partition("  ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            problems.append(
                ManifestProblem(
                    "deps.wheel-manifest",
                    f"{path.name}:{number}",
                    f"expected '<sha256>  <file>', got {line!r}",
                )
            )
            continue
        entries[name] = digest.lower()
    return entries, problems


def format_manifest(hashes: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))


def verify(folder: Path, manifest: Path) -> tuple[int, list[ManifestProblem]]:
    """Every manifest entry exists with its hash, and every package file is in the manifest."""
    entries, problems = read_manifest(manifest)
    files = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(PACKAGE_SUFFIXES)
    )
    for name, digest in sorted(entries.items()):
        path = folder / name
        if not path.is_file():
            problems.append(
                ManifestProblem(
                    "deps.wheel-missing",
                    name,
                    f"listed in {manifest.name} but not in the wheelhouse",
                )
            )
        elif sha256_of(path) != digest:
            problems.append(
                ManifestProblem("deps.wheel-hash", name, f"SHA-256 differs from {manifest.name}")
            )
    for name in files:
        if name not in entries:
            problems.append(
                ManifestProblem(
                    "deps.wheel-unlisted", name, f"in the wheelhouse but not in {manifest.name}"
                )
            )
    return len(set(entries) | set(files)), problems
