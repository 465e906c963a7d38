"""``python -m ops env check | fetch [NAME ...] | wheels fetch|verify|install``."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ops.config import LoadedConfig, load_config
from ops.env import wheels
from ops.env.artifacts import ArtifactError, Fetcher, ProgressLine
from ops.env.check import environment_report
from ops.env.manifest import ManifestError, read_manifest, write_manifest
from ops.usage import UsageError

log = logging.getLogger("proofyard.env")


class EnvUsageError(UsageError):
    """An artifact, wheel or environment problem the user must fix (one clear line)."""


def add_commands(parser: argparse.ArgumentParser, config_options) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="report interpreter, packages, hardware, tools")
    fetch = actions.add_parser("fetch", help="fetch the artifacts of env.artifacts")
    fetch.add_argument("names", nargs="*", help="artifact names (default: all)")
    fetch.add_argument("--manifest", help="fetch the artifacts this file lists instead")
    fetch.add_argument("--write-manifest", help="write what was fetched to this manifest")
    wheels_parser = actions.add_parser("wheels", help="wheels for offline installs")
    wheel_actions = wheels_parser.add_subparsers(
        dest="wheels_action", required=True, metavar="ACTION"
    )
    wheel_fetch = wheel_actions.add_parser("fetch", help="pip download pinned requirements")
    wheel_fetch.add_argument("pip_args", nargs="*", help="extra pip download arguments (after --)")
    wheel_verify = wheel_actions.add_parser("verify", help="check files against the manifest")
    wheel_install = wheel_actions.add_parser("install", help="install offline from the wheels")
    project = actions.add_parser(
        "project", help="build the project's virtualenv (target.venv) from its declarations"
    )
    project.add_argument("pip_args", nargs="*", help="extra pip install arguments (after --)")
    for sub in (check, fetch, wheel_fetch, wheel_verify, wheel_install, project):
        config_options(sub)
    check.set_defaults(handler=_check)
    fetch.set_defaults(handler=_fetch)
    wheel_fetch.set_defaults(handler=_wheels_fetch)
    wheel_verify.set_defaults(handler=_wheels_verify)
    wheel_install.set_defaults(handler=_wheels_install)
    project.set_defaults(handler=_project)


def _project(args: argparse.Namespace) -> int:
    from ops.env.project import build

    loaded = load_config(
        args.config, env_name=args.env, sets=args.set, target=args.target, venv_built=False
    )
    python = build(loaded, list(args.pip_args))
    print(f"project environment ready: {python}")
    return 0


def _load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(args.config, env_name=args.env, sets=args.set, target=args.target)


def _check(args: argparse.Namespace) -> int:
    report = environment_report(_load(args))
    print(json.dumps({**report.data, "problems": report.problems}, indent=2))
    return 1 if report.problems else 0


def _fetch(args: argparse.Namespace) -> int:
    loaded = _load(args)
    section = loaded.config.env
    chosen = _chosen(args, section.artifacts)
    fetcher = Fetcher.for_config(loaded, ProgressLine())
    try:
        fetched = fetcher.fetch_all(chosen, section.concurrency)
    except ArtifactError as exc:
        raise EnvUsageError(str(exc)) from None
    for item in fetched:
        how = "downloaded" if item.downloaded else "from cache"
        log.info("%s: %s -> %s", item.name, how, item.path)
    if args.write_manifest:
        written = write_manifest(Path(args.write_manifest), chosen, fetcher.cache_dir)
        log.info("manifest of %d artifact(s): %s", len(chosen), written)
    print(
        json.dumps(
            [{"name": i.name, "path": str(i.path), "downloaded": i.downloaded} for i in fetched],
            indent=2,
        )
    )
    return 0


def _chosen(args: argparse.Namespace, configured: list) -> list:
    """The artifacts named on the command line (default: all), of the manifest if given."""
    listed = configured
    if args.manifest:
        try:
            listed = read_manifest(Path(args.manifest))
        except ManifestError as exc:
            raise EnvUsageError(str(exc)) from None
    known = {artifact.name: artifact for artifact in listed}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        raise EnvUsageError(
            f"{args.manifest or 'env.artifacts'}: no artifact named {', '.join(unknown)} "
            f"(known: {', '.join(known) or 'none'})"
        )
    return [known[name] for name in args.names] if args.names else list(known.values())


def _requirements(loaded: LoadedConfig):
    paths = [loaded.resolve(p) for p in loaded.config.env.requirements]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise EnvUsageError(f"env.requirements: missing {', '.join(missing)}")
    return paths


def _wheels_fetch(args: argparse.Namespace) -> int:
    loaded = _load(args)
    section = loaded.config.env
    try:
        fetched = wheels.fetch(
            loaded.resolve(section.wheelhouse),
            _requirements(loaded),
            args.pip_args,
            python=loaded.python.path,
            approve=section.approve,
        )
    except wheels.WheelsError as exc:
        raise EnvUsageError(str(exc)) from None
    print(f"wrote {fetched.manifest}")
    for name in fetched.refused:
        print(f"refused (not in env.approve): {name}")
    return 1 if fetched.refused else 0


def _wheels_verify(args: argparse.Namespace) -> int:
    loaded = _load(args)
    try:
        inspected, problems = wheels.check(loaded.resolve(loaded.config.env.wheelhouse))
    except wheels.WheelsError as exc:
        raise EnvUsageError(str(exc)) from None
    for problem in problems:
        print(f"{problem.rule}: {problem.file}: {problem.message}")
    print(f"{inspected} wheel(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


def _wheels_install(args: argparse.Namespace) -> int:
    loaded = _load(args)
    try:
        wheels.install(
            loaded.resolve(loaded.config.env.wheelhouse),
            _requirements(loaded),
            python=loaded.python.path,
        )
    except wheels.WheelsError as exc:
        raise EnvUsageError(str(exc)) from None
    print(f"installed from the wheelhouse into {loaded.python.path}")
    return 0
