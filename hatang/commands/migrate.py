"""``hatang migrate``: apply pending schema migrations, with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from hatang.errors import CommandError, ExitCode
from hatang.migrate import Migration, MigrationError, available, migrate
from hatang.output import add_format_argument, render
from hatang.progress import bar
from hatang.settings import Settings
from hatang.stack import Stack


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``migrate``."""
    parser = subparsers.add_parser("migrate", help="apply pending database migrations (safe to re-run)")
    add_format_argument(parser)
    parser.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    with (
        psycopg.connect(stack.database_url, connect_timeout=10) as conn,
        bar("migrations", total=len(available())) as progress,
    ):

        def step(migration: Migration, applied_now: bool) -> None:
            progress.advance(description=f"migration {migration.version}")

        try:
            applied = migrate(conn, on_step=step)
        except MigrationError as exc:
            raise CommandError(str(exc), exit_code=ExitCode.FAILED) from None
    rows = [{"version": m.version, "name": m.name} for m in applied]
    if args.format != "table":
        print(render(rows, args.format, key="applied"))
    elif applied:
        for migration in applied:
            print(f"applied {migration.version}_{migration.name}")
    else:
        print("schema up to date: nothing to apply")
    return 0
