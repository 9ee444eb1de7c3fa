"""``hatang bench onboarding``: devices onboarded per second through ``POST /v1/bulk/devices``.

Creates a throw-away database on the local PostgreSQL (migrated, areas and organisations loaded, an
admin key issued), serves the API with uvicorn on a free loopback port, streams one NDJSON upload of
``--devices`` new devices (goal: 100,000 in under 60 s, credentials included) and reads the whole
per-row report, then checks every device is stored with a ``$7$`` hash and drops the database.
Prints a table, then one JSON object as its last line (``devices``, ``seconds``, ``devices_s``, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import uvicorn

from api import create_app
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack, free_port
from registry import sync_contracts
from registry.areas import load_areas, packaged_areas
from registry.audit import CLI
from registry.keys import create_key
from registry.organisations import ensure_organisation


def _rows(count: int) -> Iterator[bytes]:
    chunk: list[bytes] = []
    for n in range(count):
        row = {"external_id": f"bench-{n:07d}", "model": "sonde-wq6", "state": "active"}
        chunk.append(json.dumps(row).encode() + b"\n")
        if len(chunk) == 1000:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)


async def _prepare(url: str) -> str:
    """Load the areas and issue an admin key of organisation ``bench``; returns its token."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await load_areas(conn, specs=packaged_areas(), actor=CLI)
        organisation = await ensure_organisation(conn, slug="bench", name="bench", actor=CLI)
        issued = await create_key(
            conn, organisation_id=organisation.id, role="admin", name="bench", actor=CLI
        )
    return issued.token


def measure(settings: Settings, *, devices: int) -> dict[str, Any]:
    """Run the benchmark; returns the figures of the JSON line. Long because a run reads top to
    bottom: scratch database, API and uploads in one ``try`` whose ``finally`` drops it all."""
    stack = Stack.from_settings(settings)
    if stack.postgres is None:
        raise SystemExit("hatang bench onboarding needs the local PostgreSQL (unset HATANG_DATABASE_URL)")
    started = stack.up()
    name = f"hatang_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = stack.postgres.admin_url(name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            sync_contracts(conn)
        token = asyncio.run(_prepare(url))
        app = create_app(settings, database_url=url, mqtt_url=stack.mqtt_url)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            created = secrets_seen = 0
            start = time.perf_counter()
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client,
                client.stream(
                    "POST", "/v1/bulk/devices", content=_rows(devices), headers=headers
                ) as response,
            ):
                response.raise_for_status()
                first = None
                for line in response.iter_lines():
                    if first is None:
                        first = time.perf_counter() - start
                        continue
                    entry = json.loads(line)
                    created += entry["status"] == "created"
                    secrets_seen += "mqtt_secret" in entry
            seconds = time.perf_counter() - start
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM devices WHERE state = 'active' AND mqtt_secret_hash LIKE '$7$%%'"
            ).fetchone()
        stored = int(row[0]) if row else 0
    finally:
        with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if started:
            stack.down(only=started)
    return {
        "devices": devices,
        "created": created,
        "secrets_returned": secrets_seen,
        "stored_with_hash": stored,
        "seconds": round(seconds, 2),
        "devices_s": round(devices / seconds, 1),
        "first_report_byte_s": round(first or 0.0, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "hash_threads": settings.registry.hash_threads,
        "goal_s": 60,
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``hatang bench onboarding``."""
    result = measure(settings, devices=args.devices)
    print(f"{'devices':>8} {'created':>8} {'stored':>8} {'seconds':>8} {'devices/s':>10} {'max RSS MB':>11}")
    print(
        f"{result['devices']:>8} {result['created']:>8} {result['stored_with_hash']:>8} "
        f"{result['seconds']:>8} {result['devices_s']:>10} {result['max_rss_mb']:>11}"
    )
    print(json.dumps(result))
    ok = result["created"] == result["stored_with_hash"] == result["secrets_returned"] == args.devices
    return 0 if ok else 1


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``onboarding`` to ``hatang bench``."""
    parser = subparsers.add_parser("onboarding", help="bulk onboarding of devices through the API")
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the one upload")
    parser.set_defaults(func=run)
