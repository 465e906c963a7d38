"""``python -m ops monitor watch ... | dashboard RUN``."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ops.config import LoadedConfig, load_config
from ops.kpi.cli import history_of
from ops.kpi.history import new_run
from ops.kpi.ingest import JsonLinesTail, scrape
from ops.kpi.live import LiveKpi
from ops.monitor.dashboard import write_dashboard
from ops.monitor.run import MonitorRun, configured_run, exit_record, open_series
from ops.monitor.summary import write_summary
from ops.usage import UsageError


class MonitorUsageError(UsageError):
    """A run or process that cannot be monitored (one clear line)."""


def add_commands(parser: argparse.ArgumentParser, config_options) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    watch = actions.add_parser("watch", help="sample a process tree (or a command you start)")
    config_options(watch)
    watch.add_argument("--interval", type=float, help="seconds between samples")
    watch.add_argument("--duration", type=float, help="stop after this many seconds")
    watch.add_argument("--pid", type=int, help="watch this process and its children")
    watch.add_argument(
        "--host", action="store_true", help="the machine only, no process (until --duration)"
    )
    watch.add_argument("--reports-dir", help="where reports/monitor/RUN.jsonl goes")
    watch.add_argument("--prometheus", help="also write the last sample to this textfile")
    watch.add_argument("--metrics-file", help="JSON lines of metrics the command appends")
    watch.add_argument("--metrics-url", help="Prometheus text endpoint to scrape (loopback)")
    watch.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    watch.set_defaults(handler=_watch)
    dashboard = actions.add_parser("dashboard", help="render RUN (a .jsonl file or run id)")
    config_options(dashboard)
    dashboard.add_argument("run")
    dashboard.add_argument("--reports-dir")
    dashboard.set_defaults(handler=_dashboard)


def monitor_dir(loaded: LoadedConfig, reports: str | None) -> Path:
    return loaded.reports_dir(reports) / "monitor"


def _load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(args.config, env_name=args.env, sets=args.set, target=args.target)


def build_run(
    loaded: LoadedConfig,
    folder: Path,
    pid: int | None,
    interval: float,
    label: str,
    on_sample=None,
    host: bool = False,
) -> MonitorRun:
    section = loaded.config.monitor
    series = open_series(
        folder, section.keep_runs, {"label": label, "interval_s": interval}, section.max_age_days
    )
    return configured_run(
        series,
        section,
        loaded.config.network.allow_hosts,
        pid,
        interval,
        on_sample=on_sample,
        host=host,
    )


def _status_line(sample: dict[str, Any]) -> None:
    if sys.stderr.isatty():
        process = sample["process"]
        sys.stderr.write(
            f"\rcpu {sample['cpu']['total']:5.1f}%  mem {sample['memory']['percent']:5.1f}%"
            f"  tree cpu {process.get('cpu_percent', 0):6.1f}%  rss "
            f"{process.get('rss_mb', 0):8.1f} MB  procs {process.get('processes', 0)}"
        )
        sys.stderr.flush()


def _prometheus_writer(path: str | None):
    if not path:
        return None
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    gauges = {
        name: Gauge(f"proofyard_{name}", help_text, registry=registry)
        for name, help_text in (
            ("cpu_percent", "system CPU %"),
            ("memory_percent", "system memory %"),
            ("process_rss_mb", "watched tree RSS in MB"),
            ("process_cpu_percent", "watched tree CPU %"),
        )
    }

    def write(sample: dict[str, Any]) -> None:
        gauges["cpu_percent"].set(sample["cpu"]["total"])
        gauges["memory_percent"].set(sample["memory"]["percent"])
        gauges["process_rss_mb"].set(sample["process"].get("rss_mb", 0))
        gauges["process_cpu_percent"].set(sample["process"].get("cpu_percent", 0))
        write_to_textfile(path, registry)  # atomic: a temporary file renamed

    return write


def _wait(
    process: subprocess.Popen | None, run: MonitorRun, duration: float | None, interval: float
) -> int:
    """Until the command exits (its code), the pid is gone, or the duration is up (0)."""
    started = time.monotonic()
    try:
        while True:
            if process is not None and process.poll() is not None:
                return process.returncode
            if process is None and not run.sampler.host and not run.sampler.root.is_running():
                return 0
            if duration and time.monotonic() - started >= duration:
                return 0
            time.sleep(min(0.1, interval))
    except KeyboardInterrupt:
        return 130


def _watch(args: argparse.Namespace) -> int:
    loaded = _load(args)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if sum((bool(command), bool(args.pid), args.host)) != 1:
        raise MonitorUsageError("give one of --pid N, --host or -- COMMAND [ARGS...]")
    label = shlex.join(command) if command else f"pid {args.pid}" if args.pid else "host"
    # before the command starts: what the metrics file holds now is earlier runs' output
    kpi = KpiFeed(loaded, args.metrics_file, args.metrics_url, label)
    process = None
    if command:
        try:
            process = subprocess.Popen(command)
        except OSError as exc:
            raise MonitorUsageError(f"cannot start {command[0]!r}: {exc}") from None
    pid = process.pid if process else args.pid
    prometheus = _prometheus_writer(args.prometheus or loaded.config.monitor.prometheus_textfile)

    def on_sample(sample: dict[str, Any]) -> None:
        _status_line(sample)
        if prometheus:
            prometheus(sample)
        kpi.poll(run)

    interval = args.interval or loaded.config.monitor.interval_s
    try:
        run = build_run(
            loaded,
            monitor_dir(loaded, args.reports_dir),
            pid,
            interval,
            label,
            on_sample,
            host=args.host,
        )
    except Exception as exc:  # psutil.NoSuchProcess for a pid that is gone
        raise MonitorUsageError(f"cannot watch pid {pid}: {exc}") from None
    with run:
        code = _wait(process, run, args.duration, interval)
        exit_status = code if process is not None else None  # a --pid's is not ours to see
        if process is not None and process.poll() is None:
            process.terminate()
            code = process.wait()
            exit_status = None  # stopped by the watch (--duration, Ctrl-C): not a crash
        run.series.write(exit_record(exit_status))
        kpi.poll(run)
        kpi.finish(run, exit_status)
    dashboard = write_dashboard(run.path)
    summary = write_summary(run.path)
    sys.stderr.write(f"\nseries: {run.path}\nsummary: {summary}\ndashboard: {dashboard}\n")
    if loaded.config.monitor.fail_on_alert and any(a.state == "firing" for a in run.alerts):
        return code or 3
    return code


class KpiFeed:
    """The watched process's own metrics: read each interval, recorded in the series,
    checked by the KPI rules live, and added to the history when the watch ends."""

    def __init__(
        self,
        loaded: LoadedConfig,
        metrics_file: str | None,
        metrics_url: str | None,
        job: str,
    ) -> None:
        section = loaded.config.kpi
        self.allow_hosts = loaded.config.network.allow_hosts
        file_name = metrics_file or section.metrics_file
        self.tail = JsonLinesTail(Path(file_name)) if file_name else None
        self.url = metrics_url or section.metrics_url
        self.history = history_of(loaded)
        self.live = LiveKpi(
            section.rules, self.history.runs(), new_run("watch", loaded.target_root, job)
        )
        self.errors: list[str] = []

    def poll(self, run: MonitorRun) -> None:
        readings = self.tail.read() if self.tail else []
        if self.url:
            try:
                readings += scrape(self.url, self.allow_hosts)
            except (OSError, PermissionError, ValueError) as exc:
                if str(exc) not in self.errors:  # reported once; scraping goes on
                    self.errors.append(str(exc))
                    run.record("error", message=f"scraping {self.url}: {exc}")
        for reading in readings:
            run.record(
                "kpi", name=reading.name, value=reading.value, step=reading.step, tags=reading.tags
            )
        for event in self.live.feed(readings):
            run.raise_alert(event)

    def finish(self, run: MonitorRun, exit_status: int | None) -> None:
        """The run joins the history with its exit status whenever it was expected to
        report metrics, so a run that crashed or reported nothing is judged as such."""
        for error in self.tail.errors if self.tail else []:
            run.record("error", message=error)
        for event in self.live.finish(exit_status):
            run.raise_alert(event)
        if self.tail or self.url or self.live.record.metrics:
            self.history.append(self.live.record)


def _dashboard(args: argparse.Namespace) -> int:
    loaded = _load(args)
    path = Path(args.run)
    if not path.is_file():
        path = monitor_dir(loaded, args.reports_dir) / f"{args.run}.jsonl"
    if not path.is_file():
        raise MonitorUsageError(f"no monitoring run {args.run} (looked for {path})")
    print(write_dashboard(path))
    return 0
