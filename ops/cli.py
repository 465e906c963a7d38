"""``python -m ops``: the harness's command line (config, and one subcommand per ops module).

A subcommand's module is imported only when that command runs: ``python -m ops --help``
then costs a fraction of importing all of them (about 0.45 s, mostly the config schema
and its dependencies), which every smoke run and CI job pays several times.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

from ops.heap import skip_last_collection
from ops.logs import LEVELS, configure_logging
from ops.proc import adopt_orphans
from ops.usage import UsageError

log = logging.getLogger("proofyard")

# name -> (module whose add_commands(parser, config_options) fills it in, one-line help)
SUBCOMMANDS = {
    "pipeline": ("ops.pipeline.cli", "run, plan or inspect configured pipelines"),
    "env": ("ops.env.cli", "check the environment, fetch artifacts and wheels"),
    "monitor": ("ops.monitor.cli", "watch resources, render dashboards"),
    "metrics": ("ops.kpi.cli", "show and export the metric history"),
}
VALUED_OPTIONS = ("--log-level", "--log-format")


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


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not a top-level option)."""
    words = iter(argv)
    for word in words:
        if word in VALUED_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; of the subcommands, only the one ``argv`` names is filled in."""
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
    init = commands.add_parser("init", help="write a starter proofyard.yaml detected from DIR")
    init.add_argument("dir", nargs="?", default=".", help="the project folder (default: .)")
    init.set_defaults(handler=_init)
    wanted = chosen_command(argv)
    for name, (module, help_text) in SUBCOMMANDS.items():
        subcommand = commands.add_parser(name, help=help_text)
        if name == wanted:
            importlib.import_module(module).add_commands(subcommand, _config_options)
    return parser


def _config_show(args: argparse.Namespace) -> int:
    from ops.config import load_config
    from ops.config.loader import effective_values

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


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops.init import write_starter

    path = write_starter(Path(args.dir))
    print(f"wrote {path}; check it with: python -m ops config validate {path}")
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    from ops.config.reference import reference

    print(reference(), end="")
    return 0


def _config_validate(args: argparse.Namespace) -> int:
    from ops.config import ConfigError, load_config

    loaded = load_config(args.file, environ={})
    errors = []
    for name in loaded.environments:  # each overlay applied on its own, as --env NAME would
        try:
            load_config(args.file, env_name=name, environ={})
        except ConfigError as exc:
            errors.append(f"with --env {name}: {exc}")
    errors += [
        f"pipelines.{name}: {problem}"
        for name, pipeline in loaded.config.pipelines.items()
        if (problem := pipeline.graph_problem())
    ]
    if errors:
        raise ConfigError("\n".join(errors))
    overlays = f", environments: {', '.join(loaded.environments)}" if loaded.environments else ""
    print(f"{loaded.path}: valid (target {loaded.target_root}{overlays})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
    configure_logging(args.log_level, args.log_format)
    adopt_orphans()  # whatever a command leaves running ends when it does
    skip_last_collection()
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
