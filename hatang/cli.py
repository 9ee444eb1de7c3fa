"""The ``hatang`` command: one console script, one subcommand module per concern.

Each module in ``hatang.commands`` exposes ``register(subparsers)``, adding its subcommand(s) with
``set_defaults(func=...)``; ``func`` takes the parsed namespace and the settings and returns an exit
code. Adding a subcommand means adding a module and naming it in ``COMMANDS`` below.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from hatang.settings import Settings

# Subcommand modules under hatang.commands, in the order ``hatang --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "stack",
    "migrate",
    "run",
    "contracts",
    "ingest",
    "alerts",
    "bench",
    "timeseries",
    "settings",
    "keys",
    "api",
    "seed",
    "broker",
    "simulate",
    "readiness",
    "scheduler",
    "report",
)

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every registered subcommand included."""
    parser = argparse.ArgumentParser(prog="hatang", description=__doc__.splitlines()[0] if __doc__ else None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"hatang.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    func: Handler = args.func
    try:
        return func(args, Settings())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
