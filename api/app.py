"""The API's composition root: ``create_app`` builds the FastAPI application and its lifespan.

The lifespan owns the async connection pool (``app.state.pool``) and loads the firmware contracts into
the database once at start (idempotent), then enters each router module's optional ``lifespan``.
Routers are the modules named in ``ROUTERS`` (``api/routers/<name>.py``), each exposing ``router``
(an ``APIRouter``) and optionally ``lifespan(app) -> AsyncContextManager`` for what it must run in
the background (an MQTT subscription, say). Adding a router means adding a module and its name here.

``app.state`` holds ``settings``, ``pool``, ``read_pool`` (the replica's, or None), ``database_url``
and ``mqtt_url``. Nothing connects at
import time.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from psycopg_pool import AsyncConnectionPool

from api import problems
from api.gate import Gate
from api.metrics import MetricsMiddleware
from hatang.settings import Settings
from registry import sync_contracts
from registry.readiness import LiveCountsCache

# Router modules under api.routers, in the order the OpenAPI document lists them.
ROUTERS: tuple[str, ...] = (
    "health",
    "organisations",
    "keys",
    "areas",
    "assets",
    "models",
    "catalogue",
    "devices",
    "bulk",
    "audit",
    "readiness",
    "zones",
    "sectors",
    "open_data",
    "readings",
    "streams",
    "dashboard",
    "dead_letters",
    "alert_rules",
    "alerts",
    "notification_channels",
)

DESCRIPTION = """\
hatang's REST API: the device registry of Bắc Ninh's IoT-ready infrastructure.

Authenticate with `Authorization: Bearer <key>` (`hatang keys create` issues the first admin key).
Lists are cursor-paginated (`limit`, `cursor` → `next_cursor`). Every error is an RFC 9457
`application/problem+json` document whose `type` is stable; `/problems/<slug>` explains each.
"""


def _sync_contracts(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        sync_contracts(conn)


async def _open_pool(
    settings: Settings, database_url: str
) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """The API's pool on the primary, opened (autocommit connections)."""
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        database_url,
        min_size=settings.api.pool_min,
        max_size=settings.api.pool_max,
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open()
    return pool


async def _open_read_pool(settings: Settings) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None:
    """The pool on the read replica when one is configured, opening in the background; else None."""
    if settings.database_read_url is None:
        return None
    # Checked at each checkout: a replica that went away is noticed before a query fails.
    read_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        settings.database_read_url.get_secret_value(),
        min_size=settings.api.pool_min,
        max_size=settings.api.pool_max,
        kwargs={"autocommit": True},
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    await read_pool.open(wait=False)  # a replica that is down must not stop the API starting
    return read_pool


def create_app(
    settings: Settings,
    *,
    database_url: str,
    mqtt_url: str,
    load_contracts: bool = True,
) -> FastAPI:
    """The application, wired to ``database_url`` (pool opened by the lifespan) and ``mqtt_url``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_contracts:
            await asyncio.to_thread(_sync_contracts, database_url)
        pool = await _open_pool(settings, database_url)
        app.state.pool = pool
        read_pool = await _open_read_pool(settings)
        app.state.read_pool = read_pool
        try:
            async with AsyncExitStack() as stack:
                for module in modules:
                    hook = getattr(module, "lifespan", None)
                    if hook is not None:
                        await stack.enter_async_context(hook(app))
                yield
        finally:
            if read_pool is not None:
                await read_pool.close()
            await pool.close()

    # Swagger UI and ReDoc come from the installed fastapi-offline package, never from a CDN: a city
    # network may have no internet at all. No validator badge (it would call validator.swagger.io).
    app = FastAPIOffline(
        title="hatang",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url="/docs-assets",
        favicon_url="/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.settings = settings
    app.state.readiness_cache = LiveCountsCache(ttl_s=settings.readiness.live_cache_s)
    app.state.database_url = database_url
    app.state.mqtt_url = mqtt_url
    problems.install(app)
    app.add_middleware(
        Gate, max_json_bytes=settings.api.max_json_bytes, max_bulk_bytes=settings.api.bulk_max_bytes
    )
    app.add_middleware(MetricsMiddleware)
    modules = [importlib.import_module(f"api.routers.{name}") for name in ROUTERS]
    for module in modules:
        app.include_router(module.router)
    return app
