"""The lint gate's data: ruff's JSON output for the target, with its own configuration."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.atomic import write_atomic
from ops.findings import Finding

CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
OUTPUT_CACHE = "proofyard-lint-output.json"


class LintError(Exception):
    """ruff is missing or failed (not: found violations)."""


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0

    def counts(self) -> Counter[str]:
        return Counter(f.rule.removeprefix("ruff.") for f in self.findings)


def ruff_command() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


def run_ruff(
    root: Path,
    files: Sequence[Path],
    args: Sequence[str] = (),
    severity: str = "error",
    timeout_s: float = 600,
    cache_dir: Path | None = None,
) -> LintResult:
    """``ruff check`` on ``files`` from ``root``, so the target's own ruff configuration
    (pyproject.toml, ruff.toml) applies; ruff's own cache goes to ``cache_dir`` (never into
    the target), or is off."""
    relative = [str(path.relative_to(root)) for path in files]
    key = _input_key(root, files, args) if cache_dir else ""
    reused = _cached_output(cache_dir, key) if cache_dir else None
    if reused is not None:
        return LintResult([Finding.from_dict(item) for item in reused], len(files))
    argv = [
        *ruff_command(),
        "check",
        "--output-format",
        "json",
        "--exit-zero",
        *([f"--cache-dir={cache_dir}"] if cache_dir else ["--no-cache"]),
        "--force-exclude",
        *args,
        "--",
        *relative,
    ]
    try:
        result = subprocess.run(
            argv, cwd=root, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LintError(f"cannot run ruff: {exc}") from None
    if result.returncode != 0:
        raise LintError(f"ruff exited {result.returncode}: {result.stderr.strip()[-800:]}")
    try:
        items = json.loads(result.stdout or "[]")
    except ValueError as exc:
        raise LintError(f"ruff printed no JSON: {exc}") from None
    lint = LintResult(files=len(files))
    lines_of: dict[str, list[str]] = {}
    prefix = str(root.resolve()) + "/"
    for item in items:
        code = item.get("code") or "syntax-error"
        filename = item["filename"]  # ruff prints absolute paths
        path_text = filename[len(prefix) :] if filename.startswith(prefix) else filename
        location = item.get("location") or {}
        line = location.get("row")
        if path_text not in lines_of:
            lines_of[path_text] = _lines(root / path_text)
        source = (
            lines_of[path_text][line - 1] if line and 0 < line <= len(lines_of[path_text]) else ""
        )
        lint.findings.append(
            Finding(
                f"ruff.{code}",
                item.get("message", ""),
                path_text,
                line,
                location.get("column"),
                severity=severity,
                context=f"{code}:{source.strip()}",
            )
        )
    if cache_dir:
        payload = {"key": key, "findings": [finding.to_dict() for finding in lint.findings]}
        write_atomic(cache_dir / OUTPUT_CACHE, json.dumps(payload, separators=(",", ":")))
    return lint


def _input_key(root: Path, files: Sequence[Path], args: Sequence[str]) -> str:
    """What ruff's answer depends on: its version, the arguments, every file's contents and
    the target's ruff configuration files."""
    digest = hashlib.sha256(_ruff_version().encode() + "\0".join(args).encode())
    for path in [*files, *(root / name for name in CONFIG_FILES)]:
        if path.is_file():
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _ruff_version() -> str:
    result = subprocess.run(
        [*ruff_command(), "--version"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _cached_output(cache_dir: Path, key: str) -> list[dict] | None:
    try:
        data = json.loads((cache_dir / OUTPUT_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("findings") if data.get("key") == key else None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
