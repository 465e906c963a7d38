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
    """ruff is missing (not: found violations, nor failed on a file)."""


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0

    def counts(self) -> Counter[str]:
        return Counter(f.rule.removeprefix("ruff.") for f in self.findings)


def ruff_command() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


ARGV_BUDGET = 100_000  # characters of file names per ruff call: far below any ARG_MAX


def run_ruff(
    root: Path,
    files: Sequence[Path],
    args: Sequence[str] = (),
    severity: str = "error",
    timeout_s: float = 600,
    cache_dir: Path | None = None,
    argv_budget: int = ARGV_BUDGET,
) -> LintResult:
    """``ruff check`` on ``files`` from ``root``, so the target's own ruff configuration
    (pyproject.toml, ruff.toml) applies; ruff's own cache goes to ``cache_dir`` (never into
    the target), or is off.

    No one file loses the gate for the rest: an unreadable file is a finding of its own,
    files go to ruff in batches (never one argv past the system's limit), and a batch ruff
    fails on is split until the file it fails on is found and reported as a finding.
    """
    version = _ruff_version()
    readable, unreadable = _readable(root, files, severity)
    key = _input_key(root, readable, args, version) if cache_dir else ""
    reused = _cached_output(cache_dir, key) if cache_dir else None
    if reused is not None:
        findings = [Finding.from_dict(item) for item in reused]
        return LintResult([*unreadable, *findings], len(files))
    options = [
        "check",
        "--output-format",
        "json",
        "--exit-zero",
        *([f"--cache-dir={cache_dir}"] if cache_dir else ["--no-cache"]),
        "--force-exclude",
        *args,
        "--",
    ]
    relative = [str(path.relative_to(root)) for path in readable]
    items: list[dict] = []
    crashed: list[Finding] = []
    for batch in _batches(relative, argv_budget):
        _lint_batch(root, options, batch, timeout_s, items, crashed, severity)
    lint = LintResult([*unreadable, *crashed], files=len(files))
    lint.findings += _findings(root, items, severity)
    if cache_dir and not crashed:
        payload = {"key": key, "findings": [f.to_dict() for f in lint.findings[len(unreadable) :]]}
        write_atomic(cache_dir / OUTPUT_CACHE, json.dumps(payload, separators=(",", ":")))
    return lint


def split_by_size(files: Sequence[Path], max_bytes: int) -> tuple[list[Path], list[Path]]:
    """The files to lint, and those over ``max_bytes`` (unreadable ones stay in the first
    list: linting reports them)."""
    small, large = [], []
    for path in files:
        try:
            (large if path.stat().st_size > max_bytes else small).append(path)
        except OSError:
            small.append(path)
    return small, large


def _ruff_version() -> str:
    """``ruff --version``; LintError where ruff cannot run."""
    try:
        result = subprocess.run(
            [*ruff_command(), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LintError(f"cannot run ruff: {exc}") from None
    if result.returncode != 0:
        raise LintError(f"cannot run ruff: {result.stderr.strip()[-400:]}")
    return result.stdout.strip()


def _readable(root: Path, files: Sequence[Path], severity: str) -> tuple[list[Path], list[Finding]]:
    readable, unreadable = [], []
    for path in files:
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            relative = path.relative_to(root).as_posix()
            message = f"cannot read {relative}: {exc.strerror or exc}; not linted"
            unreadable.append(
                Finding("quality.unreadable", message, relative, severity=severity, context="read")
            )
        else:
            readable.append(path)
    return readable, unreadable


def _batches(names: list[str], budget: int) -> list[list[str]]:
    batches: list[list[str]] = []
    size = budget + 1
    for name in names:
        if size + len(name) + 1 > budget:
            batches.append([])
            size = 0
        batches[-1].append(name)
        size += len(name) + 1
    return batches


def _lint_batch(
    root: Path,
    options: list[str],
    batch: list[str],
    timeout_s: float,
    items: list[dict],
    crashed: list[Finding],
    severity: str,
) -> None:
    """Lint one batch; where ruff fails, halve it until the failing file is alone."""
    try:
        result = subprocess.run(
            [*ruff_command(), *options, *batch],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        result = None
        failure = f"ruff did not finish: {exc}"
    else:
        failure = f"ruff exited {result.returncode}: {result.stderr.strip()[-400:]}"
        if result.returncode == 0:
            try:
                items += json.loads(result.stdout or "[]")
                return
            except ValueError as exc:
                failure = f"ruff printed no JSON: {exc}"
    if len(batch) == 1:
        crashed.append(
            Finding(
                "quality.lint-crash",
                f"{failure}; this file was not linted",
                batch[0],
                severity=severity,
                context="ruff",
            )
        )
        return
    middle = len(batch) // 2
    for half in (batch[:middle], batch[middle:]):
        _lint_batch(root, options, half, timeout_s, items, crashed, severity)


def _findings(root: Path, items: list[dict], severity: str) -> list[Finding]:
    findings = []
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
        findings.append(
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
    return findings


def _input_key(root: Path, files: Sequence[Path], args: Sequence[str], version: str) -> str:
    """What ruff's answer depends on: its version, the arguments, every file's contents and
    the target's ruff configuration files."""
    digest = hashlib.sha256(version.encode() + "\0".join(args).encode())
    for path in [*files, *(root / name for name in CONFIG_FILES)]:
        if path.is_file():
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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
