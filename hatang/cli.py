"""The ``hatang`` command: one console script, one subcommand module per concern.

Each module in ``hatang.commands`` exposes ``register(subparsers)``, adding its subcommand(s) with
``set_defaults(func=...)``; ``func`` takes the parsed namespace and the settings and returns an exit
code. Adding a subcommand means adding a module and naming it in ``COMMANDS`` below.

Expected failures never print a traceback: a handler raises ``CommandError`` (or lets a database or
local-stack error through) and ``main`` prints one line to stderr and returns the documented exit
code (``ExitCode``; docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

import psycopg
from pydantic import ValidationError

from hatang.errors import CommandError, ExitCode
from hatang.settings import Settings
from hatang.stack import StackError

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
    "devices",
    "assets",
    "scheduler",
    "report",
)

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand, or only the one ``argv`` names.

    Importing every command module (the API app, every benchmark) costs about a second of CPU; a
    worker, the API or a one-line command started with ``argv`` pays only for its own module.
    ``hatang --help``, an unknown command or no ``argv`` registers them all.
    """
    parser = argparse.ArgumentParser(
        prog="hatang",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="exit codes: 0 done, 1 done but failed (a check, a goal, rejected rows), 2 usage, "
        "3 a service unreachable, 4 refused (bad input, key or request), 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    words = list(argv or ())
    named = words[0] if words and words[0] in COMMANDS else None
    for name in COMMANDS:
        if named is not None and name != named:
            continue
        module = importlib.import_module(f"hatang.commands.{name}")
        if name == named and hasattr(module, "register_only"):
            module.register_only(subparsers, words[1:])  # a command with its own nested choice
        else:
            module.register(subparsers)
    return parser


def _version() -> str:
    try:
        return version("hatang")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    func: Handler = args.func
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"hatang: invalid settings: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        return func(args, settings)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except CommandError as exc:
        print(f"hatang {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except psycopg.OperationalError as exc:
        print(
            f"hatang {args.command}: the database is unreachable ({_first_line(exc)}); "
            "start the local stack with `hatang stack up` or set HATANG_DATABASE_URL",
            file=sys.stderr,
        )
        return ExitCode.UNREACHABLE
    except StackError as exc:
        print(f"hatang {args.command}: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
