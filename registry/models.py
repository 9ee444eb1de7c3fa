"""Device models as the registry stores them (``device_models``): read-only over the API.

Loaded from the firmware contracts by ``registry.contracts.sync_contracts``; this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from hatang.db import fetch_row
from registry.errors import InvalidReferenceError, NotFoundError


@dataclass(frozen=True, slots=True)
class StoredModel:
    """One device model at one version."""

    id: int
    model: str
    version: int
    sector: str
    contract: dict[str, Any]
    loaded_at: datetime


_COLUMNS = "id, model, version, sector, contract, loaded_at"


async def list_models(
    conn: psycopg.AsyncConnection[Any],
    *,
    sector: str | None = None,
    model: str | None = None,
    after: int | None = None,
    limit: int,
) -> list[StoredModel]:
    """Models by id, filtered by sector and model id."""
    async with conn.cursor(row_factory=class_row(StoredModel)) as cur:
        await cur.execute(
            f"""
            SELECT {_COLUMNS} FROM device_models
            WHERE (%(sector)s::text IS NULL OR sector = %(sector)s)
              AND (%(model)s::text IS NULL OR model = %(model)s)
              AND (%(after)s::int IS NULL OR id > %(after)s)
            ORDER BY id LIMIT %(limit)s
            """,
            {"sector": sector, "model": model, "after": after, "limit": limit},
        )
        return await cur.fetchall()


async def get_model(conn: psycopg.AsyncConnection[Any], *, model: str, version: int) -> StoredModel:
    """The model ``model`` at ``version``."""
    return await fetch_row(
        conn,
        StoredModel,
        f"SELECT {_COLUMNS} FROM device_models WHERE model = %s AND version = %s",
        (model, version),
        missing=NotFoundError("device model", f"{model} v{version}"),
    )


async def resolve_model(conn: psycopg.AsyncConnection[Any], *, model: str, version: int | None) -> int:
    """The row id of ``model`` at ``version`` (newest when None); InvalidReferenceError if none."""
    cur = await conn.execute(
        "SELECT id FROM device_models WHERE model = %s AND (%s::int IS NULL OR version = %s)"
        " ORDER BY version DESC LIMIT 1",
        (model, version, version),
    )
    row = await cur.fetchone()
    if row is None:
        label = model if version is None else f"{model} v{version}"
        raise InvalidReferenceError("model", label, "no such device model")
    return int(row[0])
