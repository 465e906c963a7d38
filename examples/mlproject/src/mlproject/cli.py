"""The ``mlproject`` command line."""

from __future__ import annotations

import argparse
import logging

from mlproject import pipeline
from mlproject.service import serve

log = logging.getLogger("mlproject")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlproject", description="Quantise weights and serve their health."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="serve /health on 127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8765)
    commands.add_parser("build", help="prepare, compress, evaluate and report into build/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(name)s: %(message)s")
    if args.command == "serve":
        serve(args.port)
    else:
        for step in (pipeline.prepare, pipeline.compress, pipeline.evaluate, pipeline.report):
            step()
            log.info("%s done", step.__name__)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
