"""``python -m ops``: the harness's command line (config, and one subcommand per ops module)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from ops.config import ConfigError, load_config
from ops.config.loader import effective_values
from ops.config.reference import reference
from ops.env.cli import EnvUsageError
from ops.env.cli import add_commands as add_env_commands
from ops.kpi.cli import MetricsUsageError
from ops.kpi.cli import add_commands as add_metrics_commands
from ops.logs import LEVELS, configure_logging
from ops.monitor.cli import MonitorUsageError
from ops.monitor.cli import add_commands as add_monitor_commands
from ops.pipeline.cli import PipelineUsageError
from ops.pipeline.cli import add_commands as add_pipeline_commands

log = logging.getLogger("proofyard")


class UserError(Exception):
    """A mistake the user can fix; shown as one line, exit status 2."""


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help="configuration file (default: $PROOFYARD_CONFIG, else ./proofyard.yaml)"
    )
    parser.add_argument("--env", help="environments.NAME overlay (default: $PROOFYARD_ENV)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one value (repeatable)",
    )
    parser.add_argument("--target", help="project to check; overrides target.root")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="proofyard operations: configuration, and one subcommand per ops module.",
    )
    parser.add_argument("--log-level", choices=LEVELS, default="INFO")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="show or validate the configuration")
    config_commands = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = config_commands.add_parser(
        "show", help="print the effective config and each value's origin"
    )
    _config_options(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(handler=_config_show)
    validate = config_commands.add_parser("validate", help="check a configuration file")
    validate.add_argument("file")
    validate.set_defaults(handler=_config_validate)
    reference = config_commands.add_parser(
        "reference", help="print the configuration reference (Markdown, from the schema)"
    )
    reference.set_defaults(handler=_config_reference)
    add_pipeline_commands(commands, _config_options)
    add_env_commands(commands, _config_options)
    add_monitor_commands(commands, _config_options)
    add_metrics_commands(commands, _config_options)
    return parser


def _config_show(args: argparse.Namespace) -> int:
    loaded = load_config(args.config, env_name=args.env, sets=args.set, target=args.target)
    rows = effective_values(loaded)
    if args.json:
        print(json.dumps([{"key": k, "value": v, "origin": o} for k, v, o in rows], indent=2))
        return 0
    print(f"# config: {loaded.path or 'built-in defaults'}; target: {loaded.target_root}")
    width = max(len(key) for key, _, _ in rows)
    for key, value, origin in rows:
        print(f"{key:<{width}}  {json.dumps(value):<30}  # {origin}")
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    print(reference(), end="")
    return 0


def _config_validate(args: argparse.Namespace) -> int:
    loaded = load_config(args.file, environ={})
    print(f"{loaded.path}: valid (target {loaded.target_root})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return args.handler(args)
    except (
        ConfigError,
        UserError,
        PipelineUsageError,
        EnvUsageError,
        MonitorUsageError,
        MetricsUsageError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
