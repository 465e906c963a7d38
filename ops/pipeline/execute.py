"""Run one step, wherever it is sent: a thread, a worker process or a Dask worker."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.proc import (
    NO_LIMITS,
    LimitExceeded,
    Limits,
    high_water_mark,
    reset_high_water_mark,
    run_command,
    shell_argv,
    soft_limits,
)


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    seconds: float
    detail: str
    output: str
    peak_rss_mb: float | None = None  # the step's largest process; None where unmeasured
    cpu_s: float | None = None
    started: bool = True  # False: queued when the run stopped, so never started


class _CallTimeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _CallTimeout


def add_to_path(folders: list[str]) -> None:
    """The target's import roots, so its ``module:function`` steps import (in a worker)."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)


def _pythonpath_env(folders: list[str]) -> dict[str, str]:
    if not folders:
        return {}
    existing = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([*folders, *([existing] if existing else [])])}


def resolve_callable(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target


# A ``call`` step of a project with its own interpreter runs there, through this script.
CALL_RUNNER = """\
import importlib, json, sys
spec, kwargs, path = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
sys.path[:0] = path
module, _, attr = spec.partition(":")
target = importlib.import_module(module)
for part in attr.split("."):
    target = getattr(target, part)
sys.exit(1 if target(**kwargs) is False else 0)
"""


def execute_step(
    step: dict[str, Any], root: str, on_start: Callable[[int], None] | None = None
) -> StepOutcome:
    """Execute a step definition (a plain dict, so it pickles anywhere); ``on_start`` hears
    the process group of a ``run`` step (local threads only). ``step["python"]`` is the
    project's interpreter: ``{python}`` in ``run``, and where ``call`` steps run when it is
    not the harness's own; ``step["stop_marker"]``, a file whose presence says the run has
    stopped while this step sat queued for a worker, and which this step's failure creates
    where ``step["stops_run"]``."""
    marker = step.get("stop_marker")
    if marker and os.path.exists(marker):
        return StepOutcome(False, 0.0, "not started: the run stopped", "", started=False)
    outcome = _execute(step, root, on_start)
    if marker and step.get("stops_run") and not outcome.ok:
        Path(marker).touch()
    return outcome


def _execute(
    step: dict[str, Any], root: str, on_start: Callable[[int], None] | None
) -> StepOutcome:
    start = time.perf_counter()
    cwd = Path(root, step.get("cwd") or ".")
    python = step.get("python") or sys.executable
    if step.get("call") is not None and python != sys.executable:
        step = {**step, "run": _call_argv(step, python), "shell": False}
    if step.get("run") is not None:
        network = step.get("network") or {}
        result = run_command(
            shell_argv(step["run"], step.get("shell", False), python),
            timeout_s=step["timeout_s"],
            cwd=cwd,
            env={**_pythonpath_env(step.get("pythonpath") or []), **(step.get("env") or {})},
            allow_hosts=network.get("allow_hosts", ()),
            isolate=network.get("isolate", True),
            on_start=on_start,
            limits=Limits(**(step.get("limits") or {})),
            measure=True,
        )
        ok = result.returncode == 0 and not result.timed_out and not result.error
        return StepOutcome(
            ok,
            time.perf_counter() - start,
            result.describe(),
            result.output,
            result.usage.get("peak_rss_mb"),
            result.usage.get("cpu_s"),
        )
    return _call(step, cwd, start)


def _call_argv(step: dict[str, Any], python: str) -> list[str]:
    kwargs = json.dumps(step.get("kwargs") or {})
    path = json.dumps(step.get("pythonpath") or [])
    return [python, "-c", CALL_RUNNER, step["call"], kwargs, path]


def _call(step: dict[str, Any], cwd: Path, start: float) -> StepOutcome:
    """A ``module:function`` step: its output captured; its timeout enforced by SIGALRM
    where this runs in a process's main thread (worker processes), else not at all."""
    buffer = io.StringIO()
    in_main_thread = _can_alarm()
    usage = _OwnUsage(in_main_thread)
    limits = Limits(**(step.get("limits") or {})) if in_main_thread else NO_LIMITS
    if in_main_thread:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, step["timeout_s"])
    try:
        with (
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
            contextlib.chdir(cwd),
            soft_limits(limits),
        ):
            add_to_path(step.get("pythonpath") or [])
            value = resolve_callable(step["call"])(**(step.get("kwargs") or {}))
        ok = value is not False
        detail = "returned False" if not ok else "returned"
    except _CallTimeout:
        ok, detail = False, f"timed out after {step['timeout_s']:g} s"
    except LimitExceeded:
        ok, detail = False, f"exceeded the CPU-time limit ({limits.cpu_s:g} s)"
    except MemoryError as exc:
        ok, detail = False, f"raised {exc!r}"
        if limits.memory_mb:
            detail = f"exceeded the memory limit ({limits.memory_mb:g} MB)"
    except Exception as exc:  # the step's own failure, reported with its traceback
        ok, detail = False, f"raised {exc!r}"
        buffer.write(traceback.format_exc())
    finally:
        if in_main_thread:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return StepOutcome(ok, time.perf_counter() - start, detail, buffer.getvalue(), *usage.figures())


class _OwnUsage:
    """A worker process's own peak RSS and CPU time while a step runs; none in a thread,
    where they would be the whole process's."""

    def __init__(self, own_process: bool) -> None:
        self.measured = own_process and reset_high_water_mark()
        self.cpu_before = time.process_time()

    def figures(self) -> tuple[float | None, float | None]:
        if not self.measured:
            return None, None
        peak = round(high_water_mark() / 2**20, 2)
        return peak, round(time.process_time() - self.cpu_before, 4)


def _can_alarm() -> bool:
    return threading.current_thread() is threading.main_thread()
