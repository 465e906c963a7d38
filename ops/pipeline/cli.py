"""``python -m ops pipeline run|plan|status``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ops.config import LoadedConfig, load_config
from ops.kpi.cli import history_of
from ops.netpolicy import guard_sockets
from ops.pipeline.metrics import pipeline_record
from ops.pipeline.runner import PipelineError, Runner, Selection, plan
from ops.pipeline.state import StateFile
from ops.proc import Limits, prestart_forkserver
from ops.target import Target
from ops.usage import UsageError

log = logging.getLogger("proofyard.pipeline")


class PipelineUsageError(UsageError):
    """A pipeline name or option the user must fix."""


def state_path(loaded: LoadedConfig, name: str) -> Path:
    return loaded.resolve(f".proofyard/pipeline/{name}.state.json")


def logs_dir(loaded: LoadedConfig, reports: str | None = None) -> Path:
    return loaded.reports_dir(reports) / "pipeline"


def add_commands(parser: argparse.ArgumentParser, config_options) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run a pipeline")
    plan_parser = actions.add_parser("plan", help="show what a run would do (same as --dry-run)")
    status = actions.add_parser("status", help="show each step's last recorded status")
    for sub in (run, plan_parser, status):
        config_options(sub)
    for sub in (run, plan_parser):
        sub.add_argument("name")
        sub.add_argument(
            "--resume", action="store_true", help="only failed, not-run or out-of-date steps"
        )
        sub.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="STEP",
            help="run STEP (repeatable) and what it needs, unless that is up to date",
        )
        sub.add_argument(
            "--from",
            dest="start",
            action="append",
            default=[],
            metavar="STEP",
            help="run STEP and every step after it (what it needs must have succeeded)",
        )
        sub.add_argument(
            "--skip",
            action="append",
            default=[],
            metavar="STEP",
            help="do not run STEP; the steps after it run as if it had succeeded",
        )
    status.add_argument("name", nargs="?")
    run.add_argument("--dry-run", action="store_true", help="show the plan, run nothing")
    run.add_argument("--workers", type=int)
    run.add_argument("--keep-going", action="store_true", help="failure policy keep-going")
    run.add_argument("--executor", choices=("local", "dask"), default="local")
    run.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    run.add_argument("--reports-dir", help="where logs and the run summary go")
    run.add_argument(
        "--monitor",
        action="store_true",
        help="sample resources during the run, steps marked on the dashboard",
    )
    run.set_defaults(handler=_run)
    plan_parser.set_defaults(handler=_plan)
    status.set_defaults(handler=_status)


def _load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(args.config, env_name=args.env, sets=args.set, target=args.target)


def _pipeline(loaded: LoadedConfig, name: str):
    pipelines = loaded.config.pipelines
    if name not in pipelines:
        known = ", ".join(sorted(pipelines)) or "none configured"
        raise PipelineUsageError(f"pipelines.{name}: no such pipeline ({known})")
    return pipelines[name]


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(tuple(args.only), tuple(args.start), tuple(args.skip))


def _print_plan(loaded: LoadedConfig, name: str, resume: bool, selection: Selection) -> int:
    try:
        entries = plan(
            _pipeline(loaded, name),
            loaded.target_root,
            StateFile(state_path(loaded, name)),
            resume,
            selection,
        )
    except PipelineError as exc:
        raise PipelineUsageError(str(exc)) from None
    for entry in entries:
        print(f"{entry.action:<4}  {entry.step:<24}  {entry.reason}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    return _print_plan(_load(args), args.name, args.resume, _selection(args))


def _run(args: argparse.Namespace) -> int:
    if args.executor != "dask" and not args.dry_run:  # call steps go to a local forkserver pool
        prestart_forkserver(preload=["ops.pipeline.execute"])
    loaded = _load(args)
    if args.dry_run:
        return _print_plan(loaded, args.name, args.resume, _selection(args))
    pipeline = _pipeline(loaded, args.name)
    network = {
        "allow_hosts": loaded.config.network.allow_hosts,
        "isolate": loaded.config.network.isolate_subprocesses,
    }

    monitor = None
    if args.monitor or loaded.config.monitor.enabled:
        from ops.monitor.detached import DetachedMonitor

        monitor = DetachedMonitor(
            logs_dir(loaded, args.reports_dir).parent / "monitor",
            loaded.config.monitor,
            loaded.config.network.allow_hosts,
            f"pipeline {args.name}",
        ).start()

    def progress(step: str, event: str, detail: str, figures: dict[str, float]) -> None:
        log.info("%s %s%s", step, event, f": {detail}" if detail else "")
        if monitor is not None:
            monitor.mark(
                "pipeline-step", f"{args.name}::{step}", edge=event, detail=detail, **figures
            )

    runner_args = dict(
        workers=args.workers,
        policy="keep-going" if args.keep_going else None,
        network=network,
        limits=Limits.for_config(loaded.config.limits),
        pythonpath=[str(root) for root in Target.for_config(loaded).import_roots()],
        python=loaded.python.path,
        on_event=progress,
    )
    allowed = list(loaded.config.network.allow_hosts)
    if args.executor == "dask" and args.scheduler:
        # the scheduler the user named is the user's choice: reachable, and said so
        address = args.scheduler if "://" in args.scheduler else f"tcp://{args.scheduler}"
        allowed.append(urlsplit(address).hostname or "")
        network["scheduler"] = f"{address}: named by --scheduler, allowed by the network policy"
        log.info("Dask scheduler %s", network["scheduler"])
    # inside it, the local pool's workers take the policy from this process's environment
    with guard_sockets(allowed):
        try:
            with _executors(args, pipeline) as executors:
                runner = Runner(
                    args.name,
                    pipeline,
                    loaded.target_root,
                    state_path(loaded, args.name),
                    logs_dir(loaded, args.reports_dir),
                    executors=executors,
                    **runner_args,
                )
                result = runner.run(args.resume, _selection(args))
        except PipelineError as exc:
            raise PipelineUsageError(str(exc)) from None
    code = 130 if result.interrupted else 0 if result.ok else 1  # 130: as a shell reports SIGINT
    if monitor is not None:
        from ops.monitor.dashboard import write_dashboard
        from ops.monitor.summary import write_summary

        monitor.exited(code)
        monitor.stop()
        write_dashboard(monitor.path)
        write_summary(monitor.path)
        history_of(loaded).append(pipeline_record(args.name, result, code, loaded.target_root))
    summary = runner.logs_dir / "summary.json"
    print(
        json.dumps(
            {
                "pipeline": args.name,
                "ok": result.ok,
                "seconds": round(result.seconds, 3),
                "statuses": result.statuses,
                "summary": str(summary),
            },
            indent=2,
        )
    )
    return code


def _executors(args: argparse.Namespace, pipeline) -> contextlib.AbstractContextManager:
    """Dask's executors with ``--executor dask``; else none (the runner's local pools)."""
    if args.executor != "dask":
        return contextlib.nullcontext(None)
    from ops.pipeline.dask_executor import dask_executors

    return dask_executors(args.scheduler, args.workers or pipeline.workers)


def _status(args: argparse.Namespace) -> int:
    loaded = _load(args)
    names = [args.name] if args.name else sorted(loaded.config.pipelines)
    for name in names:
        _pipeline(loaded, name)
        state = StateFile(state_path(loaded, name))
        print(f"{name}: {state.path}")
        for step in _pipeline(loaded, name).steps:
            entry = state.steps.get(step.name, {})
            print(
                f"  {step.name:<24} {entry.get('status', 'not run'):<10} {entry.get('detail', '')}"
            )
    sys.stdout.flush()
    return 0
