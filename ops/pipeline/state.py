"""The pipeline state file: each step's status and the fingerprint of what it ran on."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ops.atomic import move_aside, write_atomic
from ops.config.schema import PipelineStep

log = logging.getLogger("proofyard.pipeline")

STATE_VERSION = 1


def files_of(root: Path, patterns: list[str]) -> list[Path]:
    return sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})


def fingerprint(step: PipelineStep, root: Path) -> str:
    """Hash of the step's definition and the contents of its input and output files."""
    digest = hashlib.sha256(step.model_dump_json().encode())
    for kind, patterns in (("in", step.inputs), ("out", step.outputs)):
        for path in files_of(root, patterns):
            digest.update(f"{kind}:{path.relative_to(root)}:".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class StateFile:
    """``{"version": 1, "steps": {name: {status, fingerprint, attempts, ...}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.steps: dict[str, dict[str, Any]] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            data, problem = None, str(exc)
        else:
            problem = "expected an object with 'steps'"
        if isinstance(data, dict) and isinstance(data.get("steps"), dict):
            self.steps = data["steps"]
            return
        moved = move_aside(path, lambda: True)
        log.warning(
            "pipeline state %s is unreadable (%s)%s: every step runs again",
            path,
            problem,
            f"; moved aside to {moved.name}" if moved else "",
        )

    def save(self) -> None:
        document = {"version": STATE_VERSION, "steps": dict(sorted(self.steps.items()))}
        # compact: the C encoder; an indented dump of 500 steps cost ~10 ms per save
        write_atomic(self.path, json.dumps(document, separators=(",", ":"), sort_keys=True))

    def comparable(self) -> dict[str, dict[str, Any]]:
        """Status and fingerprint per step: what two runs of the same DAG must agree on."""
        return {
            name: {"status": entry.get("status"), "fingerprint": entry.get("fingerprint")}
            for name, entry in sorted(self.steps.items())
        }
