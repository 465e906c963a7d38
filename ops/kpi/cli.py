"""``python -m ops metrics show NAME | export --format csv|json|prometheus``."""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import sys
from pathlib import Path

from ops.atomic import write_atomic
from ops.config import LoadedConfig, load_config
from ops.kpi import prometheus
from ops.kpi.charts import safe_name, steps_svg, trend_svg
from ops.kpi.history import History
from ops.usage import UsageError


class MetricsUsageError(UsageError):
    """No such metric, or no history (one clear line)."""


def history_of(loaded: LoadedConfig) -> History:
    section = loaded.config.kpi
    return History(loaded.resolve(section.history_dir), section.keep_runs, section.max_age_days)


def add_commands(parser: argparse.ArgumentParser, config_options) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="a metric's value in every run, and its trend chart")
    show.add_argument("name", help="metric key or fnmatch pattern")
    show.add_argument("--chart", help="write the trend chart (SVG) here")
    export = actions.add_parser("export", help="every metric of every run")
    export.add_argument("--format", choices=("csv", "json", "prometheus"), default="csv")
    for sub in (show, export):
        config_options(sub)
    show.set_defaults(handler=_show)
    export.set_defaults(handler=_export)


def _load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(args.config, env_name=args.env, sets=args.set, target=args.target)


def _show(args: argparse.Namespace) -> int:
    runs = history_of(_load(args)).runs()
    keys = sorted({k for run in runs for k in run.metrics if fnmatch.fnmatchcase(k, args.name)})
    if not keys:
        raise MetricsUsageError(f"no metric matches {args.name!r} in {len(runs)} recorded run(s)")
    for key in keys:
        print(key)
        for run in runs:
            if key in run.metrics:
                entry = run.metrics[key]
                steps = f"  ({len(entry['series'])} steps)" if entry.get("series") else ""
                print(f"  {run.run_id}  {run.commit or '-':>12.12}  {entry['value']:>14.6g}{steps}")
        if args.chart:
            chart = Path(args.chart)
            target = (
                chart
                if len(keys) == 1
                else chart.with_name(f"{chart.stem}-{safe_name(key)}{chart.suffix}")
            )
            charts = {target: trend_svg(key, runs)}
            latest = next((r for r in reversed(runs) if key in r.metrics), None)
            steps = target.with_name(f"{target.stem}-steps{target.suffix}")
            charts[steps] = steps_svg(key, latest) if latest else None
            for path, svg in charts.items():  # one SVG document per file
                if svg:
                    write_atomic(path, svg)
                    print(f"  chart: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    runs = history_of(_load(args)).runs()
    rows = [
        (run.run_id, run.time, run.commit or "", run.machine, key, entry["value"])
        for run in runs
        for key, entry in sorted(run.metrics.items())
    ]
    if args.format == "json":
        print(
            json.dumps(
                [
                    dict(
                        zip(
                            ("run", "time", "commit", "machine", "metric", "value"),
                            row,
                            strict=True,
                        )
                    )
                    for row in rows
                ],
                indent=2,
            )
        )
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["run", "time", "commit", "machine", "metric", "value"])
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        latest = {}
        for run in runs:
            for key, entry in run.metrics.items():
                latest[key] = entry["value"]
        sys.stdout.write(prometheus.render(latest))
    return 0
