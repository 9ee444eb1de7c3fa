"""Assets: the essential-infrastructure items sensors are fitted to (intersection, substation, ...).

Owns the ``assets`` rows: create, read, list with filters, update, delete while no device is fitted.
Each has a sector (a row of ``sectors``: the plan's five, and any added since), a kind (free data,
``docs/registry.md`` lists the common ones), an area, an owner organisation, a location, and whether it
counts as essential infrastructure for the 40 % target. Visibility (``within``) comes from the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.rows import class_row

from hatang.db import fetch_id, fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, InvalidReferenceError, NotFoundError


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset row, with its organisation's slug and area's code."""

    id: int
    external_id: str
    organisation_id: int
    organisation: str
    area: str
    sector: str
    kind: str
    name: str
    lat: float | None
    lon: float | None
    essential: bool
    metadata: dict[str, Any]
    demo: bool
    created_at: datetime
    updated_at: datetime


_SELECT = """
    SELECT s.id, s.external_id, s.organisation_id, o.slug AS organisation, a.code AS area, s.sector, s.kind,
           s.name, s.lat, s.lon, s.essential, s.metadata, s.demo, s.created_at, s.updated_at
    FROM assets s JOIN organisations o ON o.id = s.organisation_id JOIN areas a ON a.id = s.area_id
"""


async def get_asset(conn: psycopg.AsyncConnection[Any], *, external_id: str, within: int | None) -> Asset:
    """The asset ``external_id`` (NotFoundError if absent or outside ``within``)."""
    return await fetch_row(
        conn,
        Asset,
        _SELECT + " WHERE s.external_id = %s AND (%s::bigint IS NULL OR s.organisation_id = %s)",
        (external_id, within, within),
        missing=NotFoundError("asset", external_id),
    )


async def list_assets(
    conn: psycopg.AsyncConnection[Any],
    *,
    within: int | None,
    organisation_id: int | None = None,
    area: str | None = None,
    sector: str | None = None,
    kind: str | None = None,
    essential: bool | None = None,
    demo: bool | None = None,
    after: int | None = None,
    limit: int,
) -> list[Asset]:
    """Assets by id, filtered (``area`` matches the area itself, not its children)."""
    async with conn.cursor(row_factory=class_row(Asset)) as cur:
        await cur.execute(
            _SELECT
            + """
            WHERE (%(within)s::bigint IS NULL OR s.organisation_id = %(within)s)
              AND (%(org)s::bigint IS NULL OR s.organisation_id = %(org)s)
              AND (%(area)s::text IS NULL OR a.code = %(area)s)
              AND (%(sector)s::text IS NULL OR s.sector = %(sector)s)
              AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
              AND (%(essential)s::boolean IS NULL OR s.essential = %(essential)s)
              AND (%(demo)s::boolean IS NULL OR s.demo = %(demo)s)
              AND (%(after)s::bigint IS NULL OR s.id > %(after)s)
            ORDER BY s.id LIMIT %(limit)s
            """,
            {"within": within, "org": organisation_id, "area": area, "sector": sector, "kind": kind,
             "essential": essential, "demo": demo, "after": after, "limit": limit},
        )  # fmt: skip
        return await cur.fetchall()


async def area_id(conn: psycopg.AsyncConnection[Any], *, code: str) -> int:
    """The id of the unretired area ``code`` (InvalidReferenceError otherwise)."""
    return await fetch_id(
        conn,
        "SELECT id FROM areas WHERE code = %s AND retired_at IS NULL",
        (code,),
        missing=InvalidReferenceError("area", code, "no such area, or it is retired"),
    )


async def create_asset(
    conn: psycopg.AsyncConnection[Any],
    *,
    external_id: str,
    organisation_id: int,
    area: str,
    sector: str,
    kind: str,
    name: str = "",
    lat: float | None = None,
    lon: float | None = None,
    essential: bool = True,
    metadata: dict[str, Any] | None = None,
    demo: bool = False,
    actor: Actor,
) -> Asset:
    """A new asset (ConflictError if the external id is taken)."""
    async with conn.transaction():
        area_row = await area_id(conn, code=area)
        cur = await conn.execute(
            """
            INSERT INTO assets
                (external_id, organisation_id, area_id, sector, kind, name, lat, lon, essential, metadata,
                 demo)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)
            ON CONFLICT (external_id) DO NOTHING RETURNING id
            """,
            (external_id, organisation_id, area_row, sector, kind, name, lat, lon, essential,
             json.dumps(metadata or {}), demo),
        )  # fmt: skip
        if await cur.fetchone() is None:
            raise ConflictError("asset", external_id, "external id is taken")
        await record(
            conn, actor=actor, action="create", entity="asset", entity_id=external_id,
            organisation_id=organisation_id, detail={"area": area, "sector": sector, "kind": kind},
        )  # fmt: skip
        return await get_asset(conn, external_id=external_id, within=None)


_UPDATABLE = ("area", "sector", "kind", "name", "lat", "lon", "essential", "metadata", "demo")


async def update_asset(
    conn: psycopg.AsyncConnection[Any],
    *,
    external_id: str,
    changes: dict[str, Any],
    within: int | None,
    actor: Actor,
) -> Asset:
    """Change the given fields (any of area, sector, kind, name, lat, lon, essential, metadata, demo)."""
    async with conn.transaction():
        asset = await get_asset(conn, external_id=external_id, within=within)
        values: dict[str, Any] = {}
        for field, value in changes.items():
            if field not in _UPDATABLE:
                raise ValueError(f"asset field {field!r} cannot be changed")
            if field == "area":
                values["area_id"] = await area_id(conn, code=value)
            elif field == "metadata":
                values["metadata"] = json.dumps(value)
            else:
                values[field] = value
        if values:
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                for column in values
            )
            await conn.execute(
                sql.SQL("UPDATE assets SET {} WHERE id = %(id)s").format(assignments),
                {**values, "id": asset.id},
            )
            await record(conn, actor=actor, action="update", entity="asset", entity_id=external_id,
                         organisation_id=asset.organisation_id, detail=changes)  # fmt: skip
        return await get_asset(conn, external_id=external_id, within=None)


async def delete_asset(
    conn: psycopg.AsyncConnection[Any], *, external_id: str, within: int | None, actor: Actor
) -> None:
    """Delete an asset no device is fitted to (ConflictError otherwise)."""
    try:
        async with conn.transaction():
            asset = await get_asset(conn, external_id=external_id, within=within)
            await conn.execute("DELETE FROM assets WHERE id = %s", (asset.id,))
            await record(conn, actor=actor, action="delete", entity="asset", entity_id=external_id,
                         organisation_id=asset.organisation_id)  # fmt: skip
    except psycopg.errors.ForeignKeyViolation:
        raise ConflictError(
            "asset", external_id, "devices are fitted to it; move or delete them first"
        ) from None
