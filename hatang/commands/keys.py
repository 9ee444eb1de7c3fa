"""``hatang keys create``: issue an API key from the command line (how the first admin key is made)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import psycopg

from hatang.errors import CommandError
from hatang.output import add_format_argument, render
from hatang.settings import Settings
from hatang.stack import Stack
from registry.audit import CLI
from registry.keys import ROLES, Role, create_key
from registry.organisations import ensure_organisation


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``keys create``."""
    parser = subparsers.add_parser("keys", help="manage API keys")
    inner = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = inner.add_parser("create", help="issue a key (creating the organisation if needed)")
    create.add_argument("--org", required=True, help="organisation slug, e.g. ubnd-bac-ninh")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default="", help="a label for the key")
    create.add_argument("--org-name", default=None, help="name of the organisation if it is created now")
    add_format_argument(create)
    create.set_defaults(func=_create)


async def issue(database_url: str, *, org: str, role: Role, name: str, org_name: str | None = None) -> str:
    """Issue a key for ``org`` (created if needed); returns the token."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        organisation = await ensure_organisation(conn, slug=org, name=org_name or org, actor=CLI)
        issued = await create_key(conn, organisation_id=organisation.id, role=role, name=name, actor=CLI)
    return issued.token


def _create(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    try:
        token = asyncio.run(issue(stack.database_url, org=args.org, role=args.role, name=args.name,
                                  org_name=args.org_name))  # fmt: skip
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        raise CommandError(str(exc).strip()) from None
    if args.format != "table":
        print(render([{"organisation": args.org, "role": args.role, "key": token}], args.format, key="keys"))
        return 0
    print(
        f"{args.role} key for {args.org} (shown once; send 'Authorization: Bearer <key>'):",
        file=sys.stderr,
    )
    print(token)
    return 0
