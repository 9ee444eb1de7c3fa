"""``hatang migrate``: apply pending schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``migrate``."""
    parser = subparsers.add_parser("migrate", help="apply pending database migrations (safe to re-run)")
    parser.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    with psycopg.connect(stack.database_url) as conn:
        applied = migrate(conn)
    if applied:
        for migration in applied:
            print(f"applied {migration.version}_{migration.name}")
    else:
        print("schema up to date: nothing to apply")
    return 0
