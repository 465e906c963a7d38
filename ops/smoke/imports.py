"""Import every module of the target in isolation and classify each outcome."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ops.deps.imports import file_imports
from ops.importnames import distribution_for_import
from ops.netpolicy import isolated_argv
from ops.proc import NO_LIMITS, Limits, stop_process_group, supervised_argv
from ops.target import Target

SERVER = Path(__file__).with_name("import_server.py")
Outcome = Literal["ok", "error", "optional-missing", "timeout", "crashed"]


@dataclass(frozen=True)
class ImportResult:
    module: str
    outcome: Outcome
    seconds: float
    detail: str = ""


def optional_distributions(pyproject: dict[str, Any]) -> dict[str, str]:
    """Canonical names of distributions declared only in extras, mapped to their extra."""
    project = pyproject.get("project", {})
    required = {_requirement_name(text) for text in project.get("dependencies", [])}
    optional = {}
    for extra, texts in project.get("optional-dependencies", {}).items():
        for text in texts:
            name = _requirement_name(text)
            if name and name not in required:
                optional.setdefault(name, extra)
    return optional


def _requirement_name(text: str) -> str | None:
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None


def classify(module: str, answer: dict[str, Any], optional: dict[str, str]) -> ImportResult:
    """Turn an import server answer into an outcome; missing optional deps are not failures."""
    status = answer["status"]
    seconds = float(answer.get("seconds", 0.0))
    if status == "ok":
        return ImportResult(module, "ok", seconds)
    if status == "timeout":
        return ImportResult(
            module,
            "timeout",
            seconds,
            f"import did not finish within {seconds:.1f} s and was killed\n"
            + answer.get("output", ""),
        )
    if status == "crashed":
        return ImportResult(
            module, "crashed", seconds, answer.get("message", "") + "\n" + answer.get("output", "")
        )
    missing = answer.get("missing")
    if answer.get("type") in ("ModuleNotFoundError", "ImportError") and missing:
        extra = optional.get(distribution_for_import(missing))
        if extra is not None:
            return ImportResult(
                module,
                "optional-missing",
                seconds,
                f"optional dependency {missing!r} (extra [{extra}]) is not installed",
            )
    return ImportResult(
        module,
        "error",
        seconds,
        f"{answer.get('type')}: {answer.get('message')}\n{answer.get('traceback', '')}",
    )


class ImportRunner:
    """A running import server (it also runs the docs suite's examples, see
    :meth:`run_examples`); use as a context manager."""

    def __init__(
        self,
        import_roots: Sequence[Path],
        cwd: Path,
        allow_hosts: Sequence[str] = (),
        isolate: bool = True,
        preload: Sequence[str] = (),
        limits: Limits = NO_LIMITS,
        python: str = sys.executable,
    ) -> None:
        """``python``: the project's interpreter, where the server and every import run."""
        command = [python, "-I", str(SERVER), *map(str, import_roots)]
        command += [f"--preload={spec}" for spec in preload]
        command += limits.options()  # applied in each import's child, not the warm parent
        argv, self.isolation = isolated_argv(command, allow_hosts, isolate)
        self._process = subprocess.Popen(
            supervised_argv(argv),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(self, module: str, timeout_s: float) -> dict[str, Any]:
        """The server's raw answer for one module."""
        self.send(module, timeout_s)
        return self.receive()

    def run_examples(self, spec: dict, cwd: Path, results: Path, timeout_s: float) -> dict:
        """The server's answer for a spec of ``ops/docs/example_runner.py``, run in a child
        in ``cwd``; the examples' outcomes are in ``results``."""
        request = {"examples": spec, "cwd": str(cwd), "results": str(results)}
        self._send({**request, "timeout_s": timeout_s})
        return self.receive()

    def send(self, module: str, timeout_s: float) -> None:
        self._send({"module": module, "timeout_s": timeout_s})

    def _send(self, request: dict[str, Any]) -> None:
        assert self._process.stdin
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def receive(self) -> dict[str, Any]:
        assert self._process.stdout
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"import server exited with {self._process.wait()}")
        return json.loads(line)

    @property
    def stdout(self):
        return self._process.stdout

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process_group(self._process, grace_s=2.0)

    def __enter__(self) -> ImportRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def import_all(
    runners: Sequence[ImportRunner], modules: Sequence[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Import ``modules`` spread over several servers at once (each still one fresh child
    per module), for a serial session on a machine with more than one core."""
    pending = list(modules)
    busy: dict[ImportRunner, str] = {}
    answers: dict[str, dict[str, Any]] = {}
    while pending or busy:
        for runner in runners:
            if runner not in busy and pending:
                busy[runner] = pending.pop(0)
                runner.send(busy[runner], timeout_s)
        ready, _, _ = select.select([runner.stdout for runner in busy], [], [])
        for runner in [r for r in busy if r.stdout in ready]:
            answers[busy.pop(runner)] = runner.receive()
    return answers


def third_party_imports(target: Target) -> list[str]:
    """What the warm parent may preload: the modules the target's packages import
    unconditionally that are not its own, as ``module`` or ``module:name,...`` for
    ``from module import name`` (taking the names matters: pydantic, for one, loads its
    classes only when they are first asked for, which cost every child ~100 ms)."""
    own = {name.split(".")[0] for name in target.package_dirs}
    wanted: dict[str, set[str]] = {}
    for _module, path in target.modules():
        uses, _unparsable = file_imports(path, str(path))  # the child's import reports it
        for use in uses:
            if not use.optional and use.module not in own and use.module != "__main__":
                wanted.setdefault(use.dotted, set()).update(use.names)
    return [
        f"{module}:{','.join(sorted(names))}" if names else module
        for module, names in sorted(wanted.items())
    ]


def slowest(results: Iterable[ImportResult], count: int) -> list[ImportResult]:
    return sorted(results, key=lambda r: r.seconds, reverse=True)[:count]
