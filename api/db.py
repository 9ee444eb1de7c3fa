"""The API's database access: the pools the lifespan owns and the per-request connection dependencies.

Owns ``Conn`` (a FastAPI dependency yielding a pooled ``AsyncConnection`` to the primary for the
request, returned to the pool afterwards, autocommit so each registry call manages its own
transaction) and ``ReadConn`` (the same from the read replica's pool when
``HATANG_DATABASE_READ_URL`` is set, else from the primary's). Only read-only routes take
``ReadConn``. A replica that does not answer within ``read_timeout_s`` is a 503, never a silent
fallback to the primary (docs/deploy.md, "Read replicas"). It does not create the pools
(``api.app`` does, in its lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.problems import Problem


def pool(request: Request) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """The application's connection pool."""
    found: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = request.app.state.pool
    return found


async def connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled connection for the duration of the request."""
    async with pool(request).connection() as conn:
        yield conn


async def read_connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled connection to the read replica (or, with none configured, the primary)."""
    replica: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = request.app.state.read_pool
    if replica is None:
        async with pool(request).connection() as conn:
            yield conn
        return
    try:
        conn = await replica.getconn(timeout=request.app.state.settings.api.read_timeout_s)
    except PoolTimeout:
        raise Problem("unavailable", "the read replica is not reachable") from None
    try:
        yield conn
    finally:
        await replica.putconn(conn)


#: A route parameter ``conn: Conn`` receives a pooled connection to the primary (autocommit).
Conn = Annotated[psycopg.AsyncConnection[Any], Depends(connection)]
#: A read-only route's ``conn: ReadConn``: the read replica's pool when one is configured.
ReadConn = Annotated[psycopg.AsyncConnection[Any], Depends(read_connection)]
