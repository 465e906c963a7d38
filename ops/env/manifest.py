"""Artifact manifests: a YAML (or JSON) list of artifacts that ``env fetch --manifest``
reads, and that ``env fetch --write-manifest`` writes from what it fetched."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ops.atomic import write_atomic
from ops.config.schema import Artifact
from ops.env.artifacts import cache_path, sha256_file


class ManifestError(Exception):
    """A manifest that cannot be read, naming the file, the entry and the key."""


def read_manifest(path: Path) -> list[Artifact]:
    """The artifacts of ``path``: a list, or a mapping with an ``artifacts`` list."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not YAML or JSON: {exc}") from None
    entries = data.get("artifacts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ManifestError(f"{path}: expected a list of artifacts (or artifacts: [...])")
    artifacts = [_artifact(path, index, entry) for index, entry in enumerate(entries)]
    names = [artifact.name for artifact in artifacts]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ManifestError(f"{path}: artifact names repeat: {', '.join(duplicates)}")
    return artifacts


def _artifact(path: Path, index: int, entry: object) -> Artifact:
    try:
        return Artifact.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "entry"
        raise ManifestError(f"{path}: artifacts[{index}].{where}: {first['msg']}") from None


def write_manifest(path: Path, artifacts: list[Artifact], cache_dir: Path) -> Path:
    """The fetched artifacts as a manifest, each with the size of what was downloaded."""
    entries = []
    for artifact in artifacts:
        cached = cache_path(cache_dir, artifact)
        entry = artifact.model_dump(exclude_none=True)
        entry["size"] = cached.stat().st_size
        entry["sha256"] = sha256_file(cached)
        entries.append(entry)
    write_atomic(path, yaml.safe_dump({"artifacts": entries}, sort_keys=False))
    return path
