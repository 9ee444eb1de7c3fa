"""Pytest plugin: the API application over the test's own database, and keys of every role.

``api_client`` is a Starlette ``TestClient`` (lifespan run, so the pool is open and contracts loaded)
on a fresh migrated database; ``keys`` loads the packaged areas (Bắc Ninh, 2023) and holds bearer
headers for an admin of the ``city`` organisation and an operator and a viewer of each of ``org-a``
and ``org-b``. ``api_server`` serves the app with a real uvicorn on a free port. ``api_db`` is a
synchronous connection to the same database for arranging and inspecting data.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from hatang.settings import Settings
from hatang.stack import Stack
from registry.areas import load_areas, packaged_areas
from registry.audit import CLI
from registry.keys import Role, create_key
from registry.organisations import ensure_organisation
from tests.plugins.ports import free_port

ORGANISATIONS = {"city": "Thành phố Bắc Ninh", "org-a": "Organisation A", "org-b": "Organisation B"}


@dataclass(frozen=True, slots=True)
class Keys:
    """Bearer headers by label (``admin`` of city; ``operator_a``, ``viewer_a``, ``operator_b``, ...)."""

    headers: dict[str, dict[str, str]]
    org_ids: dict[str, int]

    def __getitem__(self, name: str) -> dict[str, str]:
        return self.headers[name]


async def _issue(db_url: str) -> Keys:
    headers: dict[str, dict[str, str]] = {}
    org_ids: dict[str, int] = {}
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await load_areas(conn, specs=packaged_areas(), actor=CLI)
        for slug, name in ORGANISATIONS.items():
            org_ids[slug] = (await ensure_organisation(conn, slug=slug, name=name, actor=CLI)).id
        wanted: list[tuple[str, str, Role]] = [
            ("admin", "city", "admin"),
            ("operator_a", "org-a", "operator"),
            ("viewer_a", "org-a", "viewer"),
            ("operator_b", "org-b", "operator"),
            ("viewer_b", "org-b", "viewer"),
        ]
        for label, slug, role in wanted:
            issued = await create_key(conn, organisation_id=org_ids[slug], role=role, name=label, actor=CLI)
            headers[label] = {"Authorization": f"Bearer {issued.token}"}
    return Keys(headers=headers, org_ids=org_ids)


@pytest.fixture
def api_settings() -> Settings:
    """Settings for the app under test (defaults; small bulk chunks to exercise chunking)."""
    return Settings(registry={"bulk_chunk_rows": 1000})


@pytest.fixture
def api_client(db_url: str, stack: Stack, api_settings: Settings) -> Iterator[TestClient]:
    """A client of the app on this test's database (lifespan entered)."""
    app = create_app(api_settings, database_url=db_url, mqtt_url=stack.mqtt_url("api"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def keys(db_url: str) -> Keys:
    """The packaged areas, organisations ``city``, ``org-a``, ``org-b`` and a key of each role."""
    return asyncio.run(_issue(db_url))


@pytest.fixture
def api_server(db_url: str, stack: Stack, api_settings: Settings) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port (lifespan run); yields its base URL."""
    app = create_app(api_settings, database_url=db_url, mqtt_url=stack.mqtt_url("api"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the API server stopped"
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def api_db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A synchronous autocommit connection to the test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn
