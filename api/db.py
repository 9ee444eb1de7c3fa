"""The API's database access: the pool the lifespan owns and the per-request connection dependency.

Owns ``Conn`` (a FastAPI dependency yielding a pooled ``AsyncConnection`` for the request, returned
to the pool afterwards, autocommit so each registry call manages its own transaction). It does not
create the pool (``api.app`` does, in its lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool


def pool(request: Request) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """The application's connection pool."""
    found: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = request.app.state.pool
    return found


async def connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled connection for the duration of the request."""
    async with pool(request).connection() as conn:
        yield conn


#: A route parameter ``conn: Conn`` receives a pooled connection (autocommit).
Conn = Annotated[psycopg.AsyncConnection[Any], Depends(connection)]
