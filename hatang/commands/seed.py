"""``hatang seed``: the Bắc Ninh demo — areas, zones, firmware contracts, organisations, assets, an admin key.

Idempotent: a second run creates nothing new and prints the same demo admin key, which is kept in
the data directory (``<data_dir>/demo-admin.key``, mode 0600) and re-issued only when it no longer
works (revoked, or the database was reset).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg

from hatang.demo import ADMIN_ORGANISATION, ORGANISATIONS, demo_assets
from hatang.settings import Settings
from hatang.stack import Stack
from registry import BulkOutcome, new_upload_key, onboard, sync_contracts
from registry.areas import load_areas, packaged_areas
from registry.audit import CLI
from registry.keys import authenticate, create_key
from registry.organisations import ensure_organisation
from registry.zones import load_zones, packaged_zones


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``seed``."""
    parser = subparsers.add_parser(
        "seed", help="load the Bắc Ninh demo (idempotent); prints a demo admin key"
    )
    parser.set_defaults(func=_seed)


async def _body() -> AsyncIterator[bytes]:
    for asset in demo_assets():
        row = {
            "external_id": asset.external_id, "organisation": asset.organisation, "area": asset.area,
            "sector": asset.sector, "kind": asset.kind, "name": asset.name, "lat": asset.lat,
            "lon": asset.lon, "essential": asset.essential,
        }  # fmt: skip
        yield json.dumps(row).encode() + b"\n"


def seed(database_url: str, *, key_file: Path) -> tuple[BulkOutcome, str]:
    """Load the demo into ``database_url``; returns what the asset upload did and the admin token."""
    with psycopg.connect(database_url) as sync_conn:
        sync_contracts(sync_conn)
    kept = key_file.read_text().strip() if key_file.exists() else ""
    outcome, token = asyncio.run(_load(database_url, kept))
    if token != kept:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    return outcome, token


async def _load(database_url: str, token: str) -> tuple[BulkOutcome, str]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await load_areas(conn, specs=packaged_areas(), actor=CLI)
        await load_zones(conn, specs=packaged_zones(), actor=CLI)
        admin_org = None
        for slug, name in ORGANISATIONS.items():
            org = await ensure_organisation(conn, slug=slug, name=name, actor=CLI)
            if slug == ADMIN_ORGANISATION:
                admin_org = org
        assert admin_org is not None
        with io.BytesIO() as report:
            outcome = await onboard(
                conn, entity="assets", body=_body(), fmt="ndjson", default_organisation=ADMIN_ORGANISATION,
                writable=None, atomic=True, upload_key=new_upload_key(), report=report, actor=CLI,
            )  # fmt: skip
        if not token or await authenticate(conn, token=token) is None:
            issued = await create_key(
                conn, organisation_id=admin_org.id, role="admin", name="demo", actor=CLI
            )
            token = issued.token
    return outcome, token


def demo_key_file(settings: Settings) -> Path:
    """Where the demo admin key is kept."""
    return settings.stack.data_dir.resolve() / "demo-admin.key"


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    outcome, token = seed(stack.database_url, key_file=demo_key_file(settings))
    print(
        f"hatang seed: {len(ORGANISATIONS)} organisations, {len(packaged_areas())} areas, "
        f"{outcome.created} assets created ({outcome.exists} already there, {outcome.failed} failed)"
    )
    print(f"demo admin key: {token}")
    return 0 if outcome.failed == 0 else 1
