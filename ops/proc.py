"""Running commands: argv lists, a timeout that kills the whole process group, no shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.netpolicy import SubprocessIsolation, isolated_argv


@dataclass(frozen=True)
class CommandResult:
    """What a finished (or killed) command did."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool
    isolation: SubprocessIsolation
    error: str | None = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        """One line saying how the command ended."""
        if self.error:
            return f"could not start {self.argv[0]!r}: {self.error}"
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s and was killed (process group)"
        return f"exited {self.returncode} after {self.duration_s:.2f} s"


PYTHON_PLACEHOLDER = "{python}"


def shell_argv(command: str | Sequence[str], shell: bool) -> list[str]:
    """A command from the config as argv: strings need ``shell: true`` to run through /bin/sh.

    An argv item ``{python}`` stands for the interpreter running the harness.
    """
    if isinstance(command, str):
        if not shell:
            raise ValueError(
                f"command {command!r} is a string: give an argv list or set shell: true"
            )
        return ["/bin/sh", "-c", command]
    return [sys.executable if part == PYTHON_PLACEHOLDER else part for part in command]


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    allow_hosts: Sequence[str] = (),
    isolate: bool = True,
    grace_s: float = 2.0,
    input_text: str | None = None,
    on_start: Callable[[int], None] | None = None,
) -> CommandResult:
    """Run ``argv`` in its own session under the network policy; never raises for the command."""
    wrapped, isolation = isolated_argv(argv, allow_hosts, enabled=isolate)
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    try:
        stdin = subprocess.DEVNULL if input_text is None else subprocess.PIPE
        process = subprocess.Popen(
            wrapped,
            cwd=cwd,
            env=full_env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(list(argv), None, "", "", 0.0, False, isolation, str(exc))
    if on_start is not None:
        on_start(process.pid)  # the process group to kill if the caller must stop it
    timed_out = False
    try:
        payload = None if input_text is None else input_text.encode()
        stdout, stderr = process.communicate(payload, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_process_group(process, grace_s)
        stdout, stderr = process.communicate()
    return CommandResult(
        list(argv),
        process.returncode,
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
        time.perf_counter() - start,
        timed_out,
        isolation,
    )


def stop_process_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process's group, then SIGKILL it after ``grace_s`` seconds."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
