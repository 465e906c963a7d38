"""The pipeline state file: each step's status and the fingerprint of what it ran on."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, TextIO

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
    """``{"version": 1, "steps": {name: {status, fingerprint, attempts, ...}}}``.

    During a run each changed step is appended to a journal beside it (``NAME.journal``,
    one JSON line per change, no fsync): a process killed mid-run loses no finished step,
    and the next load replays the journal. Rewriting the whole file after every step, with
    fsync, cost 3.4 s of a 5.5 s run of 500 no-op steps (``benchmarks/pipeline_bench.py``).
    ``save`` writes the whole file durably and empties the journal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self.steps: dict[str, dict[str, Any]] = {}
        self._changed: set[str] = set()
        self._appending: TextIO | None = None  # the journal, open from the first flush to save
        self._load()
        self._replay()

    def entry(self, name: str) -> dict[str, Any]:
        """The step's entry, to be updated in place; it is journalled at the next flush."""
        self._changed.add(name)
        return self.steps.setdefault(name, {})

    def flush(self) -> None:
        """Append the entries changed since the last flush to the journal."""
        if not self._changed:
            return
        lines = "".join(
            json.dumps({"step": n, "entry": self.steps[n]}, separators=(",", ":")) + "\n"
            for n in sorted(self._changed)
        )
        self._changed.clear()
        if self._appending is None:  # kept open: opening it at every flush cost ~0.1 s a run
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._appending = self.journal.open("a", encoding="utf-8")
        self._appending.write(lines)
        self._appending.flush()  # in the kernel's hands: a killed process loses nothing

    def _replay(self) -> None:
        try:
            text = self.journal.read_text(encoding="utf-8")
        except OSError:
            return
        for line in text.splitlines():
            try:
                change = json.loads(line)
                self.steps[str(change["step"])] = dict(change["entry"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill: that step's change is lost, it runs again

    def _load(self) -> None:
        path = self.path
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
        self._changed.clear()
        if self._appending is not None:
            self._appending.close()
            self._appending = None
        self.journal.unlink(missing_ok=True)

    def comparable(self) -> dict[str, dict[str, Any]]:
        """Status and fingerprint per step: what two runs of the same DAG must agree on."""
        return {
            name: {"status": entry.get("status"), "fingerprint": entry.get("fingerprint")}
            for name, entry in sorted(self.steps.items())
        }
