"""Schedule a pipeline: ready steps in parallel up to ``workers``, retries with backoff,
a failure policy, per-step logs, and the state file saved as each step finishes."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.atomic import write_atomic
from ops.config.schema import Pipeline, PipelineStep
from ops.pipeline.execute import StepOutcome, add_to_path, execute_step, resolve_callable
from ops.pipeline.state import StateFile, fingerprint
from ops.proc import NO_LIMITS, Limits, worker_pool

log = logging.getLogger("proofyard.pipeline")


UP_TO_DATE = "up-to-date"
NOT_SELECTED = "not-selected"  # left out by --only, --from or --skip: counts as done
DONE = ("succeeded", UP_TO_DATE, NOT_SELECTED)

INTERRUPT_POLL_S = 0.2  # how soon the scheduler notices a Ctrl-C while steps run


class PipelineError(Exception):
    """The pipeline cannot start (a missing callable, say)."""


@dataclass
class PlanEntry:
    step: str
    action: str  # "run" or "skip"
    reason: str


@dataclass
class RunResult:
    run_id: str
    statuses: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # per step's last attempt
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C stopped it

    @property
    def ok(self) -> bool:
        return all(status in DONE for status in self.statuses.values())


def topological(pipeline: Pipeline) -> list[PipelineStep]:
    order, done = [], set()
    pending = list(pipeline.steps)
    while pending:
        for step in pending:
            if set(step.needs) <= done:
                order.append(step)
                done.add(step.name)
                pending.remove(step)
                break
    return order


def check_callables(pipeline: Pipeline, pythonpath: list[str] = ()) -> None:
    """Every ``call`` step's function imports (with the target's import roots added)."""
    add_to_path(list(pythonpath))
    failed: dict[tuple[str, str], list[str]] = {}  # (callable, error): the steps naming it
    for step in pipeline.steps:
        if step.call:
            try:
                resolve_callable(step.call)
            except Exception as exc:  # any import-time failure of user code is reported
                failed.setdefault((step.call, repr(exc)), []).append(step.name)
    if failed:
        raise PipelineError(
            "; ".join(
                f"{_steps_named(names)}: cannot load {call}: {error}"
                for (call, error), names in failed.items()
            )
        )


def _steps_named(names: list[str]) -> str:
    """``step a``, or ``steps a, b and 498 more`` for many steps with one problem."""
    if len(names) == 1:
        return f"step {names[0]}"
    shown = ", ".join(names[:2])
    rest = len(names) - 2
    return f"steps {shown} and {rest} more" if rest > 1 else f"steps {', '.join(names)}"


@dataclass(frozen=True)
class Selection:
    """Which steps a run covers. ``only``: those steps, always run, and what they need (run
    unless up to date). ``start`` (``--from``): those steps and everything after them; what
    they need must have succeeded before. ``skip``: not run; the steps after them run as if
    they had succeeded. A matrix step's name selects all of its combinations."""

    only: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def resolve(self, pipeline: Pipeline) -> tuple[set[str] | None, set[str], set[str]]:
        """(steps covered or None for all, steps always run, steps skipped)."""
        if self.only and self.start:
            raise PipelineError("give --only or --from, not both")
        names = [step.name for step in pipeline.steps]
        needs = {step.name: set(step.needs) for step in pipeline.steps}
        only, start, skip = (
            self._names(o, names, f)
            for o, f in ((self.only, "--only"), (self.start, "--from"), (self.skip, "--skip"))
        )
        if only:
            return only | _closure(only, needs), only, skip
        if start:
            after = {name: {n for n, ns in needs.items() if name in ns} for name in names}
            return start | _closure(start, after), start, skip
        return None, set(), skip

    @staticmethod
    def _names(given: tuple[str, ...], names: list[str], option: str) -> set[str]:
        chosen = set()
        for name in given:
            matched = [n for n in names if n == name or n.startswith(name + "[")]
            if not matched:
                raise PipelineError(f"{option} {name}: no such step (steps: {', '.join(names)})")
            chosen.update(matched)
        return chosen


def _closure(seeds: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    queue = list(seeds)
    while queue:
        for nxt in edges.get(queue.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def plan(
    pipeline: Pipeline,
    root: Path,
    state: StateFile,
    resume: bool,
    selection: Selection = Selection(),
) -> list[PlanEntry]:
    """What a run would do: with ``resume``, skip steps that succeeded and are up to date;
    ``selection`` narrows the run (see :class:`Selection`)."""
    covered, forced, skipped = selection.resolve(pipeline)
    entries = []
    rerun: set[str] = set()
    for step in topological(pipeline):
        saved = state.steps.get(step.name, {})
        left_out = _left_out(step, saved, covered, skipped, selection, pipeline)
        if left_out:
            entries.append(PlanEntry(step.name, "skip", left_out))
            continue
        reason = _reason(step, saved, root, rerun, resume, selection, forced, covered)
        if reason is None:
            entries.append(PlanEntry(step.name, "skip", "up to date"))
            continue
        rerun.add(step.name)
        entries.append(PlanEntry(step.name, "run", reason))
    return entries


def _left_out(step, saved, covered, skipped, selection: Selection, pipeline) -> str | None:
    """Why the selection leaves ``step`` out, or None when it is covered."""
    if step.name in skipped:
        return "skipped by --skip"
    if covered is None or step.name in covered:
        return None
    if selection.start and _needed_by(step.name, covered, pipeline):
        if saved.get("status") != "succeeded":
            raise PipelineError(
                f"--from: step {step.name} has not succeeded yet and a selected step "
                "needs it (run it first, or use --only)"
            )
    return "not selected"


def _reason(step, saved, root, rerun, resume, selection, forced, covered) -> str | None:
    """Why a covered step runs, or None when it is up to date and may be skipped."""
    if step.name in forced:
        return "selected"
    if not (resume or selection.only):
        return "full run" if covered is None else "after a selected step"
    if saved.get("status") != "succeeded":
        return f"last status: {saved.get('status', 'not run')}"
    if saved.get("fingerprint") != fingerprint(step, root):
        return "definition, inputs or outputs changed"
    if rerun & set(step.needs):
        return "a step it needs will run"
    return None


def _needed_by(name: str, covered: set[str], pipeline: Pipeline) -> bool:
    return any(name in step.needs for step in pipeline.steps if step.name in covered)


class Runner:
    """Runs one pipeline with the given executors; ``run`` returns the RunResult."""

    def __init__(
        self,
        name: str,
        pipeline: Pipeline,
        root: Path,
        state_path: Path,
        logs_dir: Path,
        *,
        workers: int | None = None,
        policy: str | None = None,
        network: dict[str, Any] | None = None,
        limits: Limits = NO_LIMITS,
        pythonpath: list[str] | None = None,
        python: str | None = None,
        executors: tuple[Executor, Executor] | None = None,
        on_event: Callable[[str, str, str, dict[str, float]], None] | None = None,
    ) -> None:
        self.name, self.pipeline, self.root = name, pipeline, root
        self.state = StateFile(state_path)
        self.workers = workers or pipeline.workers
        self.policy = policy or pipeline.policy
        self.network = network or {}
        self.limits = limits
        self.pythonpath = list(pythonpath or [])
        self.python = python or sys.executable  # the project's interpreter
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.logs_dir = logs_dir / self.run_id
        self.external_executors = executors
        self.on_event = on_event or (lambda step, event, detail, figures: None)
        self._interrupts = 0
        self._stop_marker = self.logs_dir / ".stopping"

    def run(self, resume: bool = False, selection: Selection = Selection()) -> RunResult:
        problem = self.pipeline.graph_problem()
        if problem:
            raise PipelineError(problem)
        if self.python == sys.executable:  # else they import in the project's interpreter
            check_callables(self.pipeline, self.pythonpath)
        start = time.perf_counter()
        result = RunResult(self.run_id)
        entries = {e.step: e for e in plan(self.pipeline, self.root, self.state, resume, selection)}
        steps = {step.name: step for step in self.pipeline.steps}
        for name, entry in entries.items():
            if entry.action == "skip":
                result.statuses[name] = UP_TO_DATE if entry.reason == "up to date" else NOT_SELECTED
                result.details[name] = entry.reason
        threads, processes = self.external_executors or (
            ThreadPoolExecutor(self.workers),
            worker_pool(self.workers, "forkserver"),
        )
        self.logs_dir.mkdir(parents=True, exist_ok=True)  # the stop marker's folder, before Ctrl-C
        # Ctrl-C is counted by a handler and acted on by the scheduler between steps, so an
        # interrupt never lands half-way through starting or recording a step.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._count_interrupt) if main else None
        try:
            self._loop(steps, entries, result, threads, processes)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self.external_executors is None:
                threads.shutdown(wait=True, cancel_futures=True)
                processes.shutdown(wait=True, cancel_futures=True)
            self.state.save()
            self._stop_marker.unlink(missing_ok=True)
        result.seconds = time.perf_counter() - start
        write_atomic(self.logs_dir / "summary.json", _summary_json(self.name, result, self.network))
        return result

    def _loop(self, steps, entries, result, threads, processes) -> None:
        schedule = _Schedule({n for n, e in entries.items() if e.action == "run"})
        while schedule.waiting or schedule.running:
            while schedule.interrupts_seen < self._interrupts:
                schedule.interrupts_seen += 1
                result.interrupted = True
                self._interrupted(schedule, processes)
            if self._step(steps, schedule, result, threads, processes):
                return

    def _count_interrupt(self, _signum, _frame) -> None:
        self._interrupts += 1
        self._mark_stopping()  # at once: a queued step must not start before the scheduler sees it

    def _step(self, steps, schedule: _Schedule, result, threads, processes) -> bool:
        """One turn of the scheduler; True when the run is over."""
        if not (schedule.stopping or schedule.held):
            self._start_ready(steps, schedule, result, threads, processes)
        if schedule.stopping and not schedule.running:
            self._close(schedule.waiting, "not-run", "pipeline stopped after a failure", result)
            return True
        if not schedule.running:
            if schedule.sleep_until_retry():
                return False
            if not any(self._ready(steps[n], result) for n in schedule.waiting):
                self._close(schedule.waiting, "skipped", "a step it needs did not succeed", result)
                return True
            return False
        retry_in = schedule.next_retry_in()
        timeout = INTERRUPT_POLL_S if retry_in is None else min(INTERRUPT_POLL_S, retry_in)
        done, _ = wait(list(schedule.running), timeout=timeout, return_when=FIRST_COMPLETED)
        self._collect_done(steps, done, schedule, result)
        self.state.flush()
        return False

    def _collect_done(self, steps, done: set[Future], schedule: _Schedule, result) -> None:
        """Record the finished steps in the order they were sent, which is the order the
        pool's workers took them: each finished ``call`` step's worker took the oldest
        queued step, now marked running."""
        for future in [f for f in schedule.running if f in done]:
            name = schedule.running.pop(future)
            threaded = name in schedule.threaded
            schedule.threaded.discard(name)
            self._collect(steps[name], future, schedule, result)
            if schedule.queued and not threaded and not schedule.stopping:
                self._mark(schedule.queued.popleft(), "running", result)

    def _start_ready(self, steps, schedule: _Schedule, result, threads, processes) -> None:
        now = time.monotonic()
        for name in sorted(schedule.waiting):
            step = steps[name]
            if len(schedule.running) >= self._room(step, schedule):
                return
            if schedule.not_before.get(name, 0) > now or not self._ready(step, result):
                continue
            schedule.waiting.discard(name)
            if any(result.statuses.get(n) in ("failed", "skipped") for n in step.needs):
                self._close({name}, "skipped", "a step it needs failed", result)
                continue
            result.attempts[name] = result.attempts.get(name, 0) + 1
            if len(schedule.running) < self.workers:
                self._mark(name, "running", result)
            else:  # behind a busy worker: marked running when a worker frees
                schedule.queued.append(name)
            future = self._submit(step, result.attempts[name], schedule, threads, processes)
            schedule.running[future] = name

    def _room(self, step: PipelineStep, schedule: _Schedule) -> int:
        """How many steps may be out at once: ``workers``; for a ``call`` step in the local
        pool, while only such steps are out, twice that, so each worker has the next step
        queued behind it. Waiting for each result before sending the next step kept the
        workers idle: 500 no-op steps took 0.19 s longer (``benchmarks/pipeline_bench.py``).
        A queued step that finds the run stopping does not start (see ``stop_marker``)."""
        local_calls = step.call and self.external_executors is None and not schedule.threaded
        return 2 * self.workers if local_calls else self.workers

    def _submit(
        self, step: PipelineStep, attempt: int, schedule: _Schedule, threads, processes
    ) -> Future:
        payload, root = self._payload(step), str(self.root)
        if step.call:
            if self.external_executors is None:
                payload["stop_marker"] = str(self._stop_marker)
                # its failure stops the run: the worker marks it before taking its next step
                last_try = attempt > step.retries
                payload["stops_run"] = self.policy == "stop" and last_try
            return processes.submit(execute_step, payload, root)
        schedule.threaded.add(step.name)
        if self.external_executors is None:  # local threads: keep the process group
            return threads.submit(execute_step, payload, root, schedule.groups.append)
        return threads.submit(execute_step, payload, root)

    def _interrupted(self, schedule: _Schedule, processes) -> None:
        """First Ctrl-C: start nothing new, let running steps finish. Second: kill them."""
        if not schedule.stopping:
            self._stop(schedule)
            log.warning(
                "interrupted: starting no new step; interrupt again to kill the %d running step(s)",
                len(schedule.running) - len(schedule.queued),
            )
            return
        log.warning("interrupted again: killing the running steps")
        for group in schedule.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for worker in getattr(processes, "_processes", {}).values():  # no public handle
            worker.kill()

    def _collect(self, step: PipelineStep, future: Future, schedule: _Schedule, result) -> None:
        outcome = _outcome(future)
        if step.name in schedule.queued:  # it ran before a worker was seen to free
            schedule.queued.remove(step.name)
            if outcome.started:
                self._mark(step.name, "running", result)
        if not outcome.started:  # queued when the run stopped: it waits with the rest
            result.attempts[step.name] -= 1
            if not result.attempts[step.name]:
                del result.attempts[step.name]
            schedule.waiting.add(step.name)
            schedule.held = True  # the failure or Ctrl-C that stops the run is yet to be seen
            return
        retry = self._finish(step, outcome, result)
        if retry is not None:
            schedule.waiting.add(step.name)
            schedule.not_before[step.name] = time.monotonic() + retry
        elif result.statuses[step.name] == "failed" and self.policy == "stop":
            self._stop(schedule)

    def _stop(self, schedule: _Schedule) -> None:
        """Start nothing new: queued ``call`` steps see the marker and do not start."""
        schedule.stopping = True
        self._mark_stopping()

    def _mark_stopping(self) -> None:
        self._stop_marker.touch()

    @staticmethod
    def _close(names: set[str], status: str, detail: str, result: RunResult) -> None:
        for name in names:
            result.statuses[name] = status
            result.details[name] = detail

    def _ready(self, step: PipelineStep, result: RunResult) -> bool:
        return all(result.statuses.get(n) in (*DONE, "failed", "skipped") for n in step.needs)

    def _payload(self, step: PipelineStep) -> dict[str, Any]:
        return {
            **step.model_dump(),
            "network": self.network,
            "limits": asdict(self.limits),
            "pythonpath": self.pythonpath,
            "python": self.python,
        }

    def _mark(self, name: str, status: str, result: RunResult) -> None:
        result.statuses[name] = status
        entry = self.state.entry(name)
        entry.update(status=status, run_id=self.run_id)
        self.on_event(name, status, "", {})

    def _finish(self, step: PipelineStep, outcome: StepOutcome, result: RunResult) -> float | None:
        """Record an attempt; return the delay before a retry, or None when done."""
        name = step.name
        attempt = result.attempts[name]
        self._log_attempt(name, attempt, outcome, result)
        result.details[name] = outcome.detail
        figures = step_figures(outcome)
        result.figures[name] = figures
        entry = self.state.entry(name)
        entry.update(
            attempts=attempt,
            seconds=round(outcome.seconds, 3),
            detail=outcome.detail,
            log=result.logs.get(name),
        )
        if outcome.ok:
            result.statuses[name] = "succeeded"
            entry.update(status="succeeded", fingerprint=fingerprint(step, self.root))
            self.on_event(name, "succeeded", outcome.detail, figures)
            return None
        if attempt <= step.retries:
            delay = step.backoff_s * 2 ** (attempt - 1)
            self.on_event(name, "retrying", f"{outcome.detail}; retry in {delay:g} s", figures)
            return delay
        result.statuses[name] = "failed"
        entry.update(status="failed", fingerprint=None)
        self.on_event(name, "failed", outcome.detail, figures)
        return None

    def _log_attempt(self, name: str, attempt: int, outcome: StepOutcome, result) -> None:
        """Append the attempt to ``logs_dir/STEP.log`` when it printed something or failed,
        or an earlier attempt was logged. A silent success writes no file (its outcome is
        in summary.json): creating 500 files cost ~0.3 s of a 500 no-op step run here."""
        log_path = self.logs_dir / f"{name}.log"
        if not (outcome.output or not outcome.ok or name in result.logs):
            return
        header = f"=== {name} attempt {attempt}: {outcome.detail} ({outcome.seconds:.2f} s)\n"
        previous = log_path.read_text(encoding="utf-8") if name in result.logs else ""
        write_atomic(log_path, previous + header + outcome.output, durable=False)
        result.logs[name] = str(log_path)


@dataclass
class _Schedule:
    """The scheduler's moving parts: steps waiting, futures running, retry times."""

    waiting: set[str]
    running: dict[Future, str] = field(default_factory=dict)
    not_before: dict[str, float] = field(default_factory=dict)
    stopping: bool = False
    interrupts_seen: int = 0
    groups: list[int] = field(default_factory=list)  # process groups of local run steps
    queued: deque[str] = field(default_factory=deque)  # sent to a busy pool, in order
    threaded: set[str] = field(default_factory=set)  # run steps out on threads
    held: bool = False  # a queued step found the run stopping: start nothing more

    def next_retry_in(self) -> float | None:
        times = [t for name, t in self.not_before.items() if name in self.waiting]
        return max(0.0, min(times) - time.monotonic()) if times else None

    def sleep_until_retry(self) -> bool:
        """With nothing running, wait for the next retry; False when none is pending."""
        delay = self.next_retry_in()
        if delay is None:
            return False
        time.sleep(min(delay, 1.0))
        return True


def _outcome(future: Future) -> StepOutcome:
    try:
        return future.result()
    except Exception as exc:  # a worker that died or could not unpickle: the step failed
        return StepOutcome(False, 0.0, f"executor error: {exc!r}", "")


def _summary_json(name: str, result: RunResult, network: dict[str, Any]) -> str:
    import json

    return json.dumps(
        {
            "pipeline": name,
            "network": network,
            "run_id": result.run_id,
            "ok": result.ok,
            "seconds": round(result.seconds, 3),
            "steps": {
                step: {
                    "status": status,
                    "attempts": result.attempts.get(step, 0),
                    "detail": result.details.get(step, ""),
                    "log": result.logs.get(step),
                    **result.figures.get(step, {}),
                }
                for step, status in sorted(result.statuses.items())
            },
        },
        indent=2,
    )


def step_figures(outcome: StepOutcome) -> dict[str, float]:
    """What a step attempt measured: wall seconds, and peak RSS and CPU where known."""
    figures = {"seconds": round(outcome.seconds, 3)}
    if outcome.peak_rss_mb is not None:
        figures["peak_rss_mb"] = outcome.peak_rss_mb
    if outcome.cpu_s is not None:
        figures["cpu_s"] = outcome.cpu_s
    return figures


def failed_upstream(pipeline: Pipeline, step: str, statuses: dict[str, str]) -> list[str]:
    """The steps that failed somewhere above ``step`` and so kept it from running."""
    needs = {s.name: s.needs for s in pipeline.steps}
    seen, queue, failed = set(), list(needs.get(step, ())), []
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        if statuses.get(name) == "failed":
            failed.append(name)
        queue += needs.get(name, ())
    return sorted(failed)
