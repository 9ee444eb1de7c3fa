"""Organisations: the utilities and departments that own assets, devices and API keys.

Owns the ``organisations`` rows (create, read, list, rename, delete while unused). Visibility is
passed in by the caller (``within``: the one organisation a non-admin key may see, None for all); the
registry does not know about roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import psycopg.errors
from psycopg.rows import class_row

from hatang.db import fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, NotFoundError


@dataclass(frozen=True, slots=True)
class Organisation:
    """One organisation."""

    id: int
    slug: str
    name: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = "id, slug, name, created_at, updated_at"


async def get_organisation(
    conn: psycopg.AsyncConnection[Any], *, slug: str, within: int | None = None
) -> Organisation:
    """The organisation ``slug`` (NotFoundError if absent or outside ``within``)."""
    return await fetch_row(
        conn,
        Organisation,
        f"SELECT {_COLUMNS} FROM organisations WHERE slug = %s AND (%s::bigint IS NULL OR id = %s)",
        (slug, within, within),
        missing=NotFoundError("organisation", slug),
    )


async def list_organisations(
    conn: psycopg.AsyncConnection[Any], *, within: int | None = None, after: int | None = None, limit: int
) -> list[Organisation]:
    """Organisations by id, after ``after``."""
    async with conn.cursor(row_factory=class_row(Organisation)) as cur:
        await cur.execute(
            f"""
            SELECT {_COLUMNS} FROM organisations
            WHERE (%(within)s::bigint IS NULL OR id = %(within)s)
              AND (%(after)s::bigint IS NULL OR id > %(after)s)
            ORDER BY id LIMIT %(limit)s
            """,
            {"within": within, "after": after, "limit": limit},
        )
        return await cur.fetchall()


async def create_organisation(
    conn: psycopg.AsyncConnection[Any], *, slug: str, name: str, actor: Actor
) -> Organisation:
    """A new organisation (ConflictError if the slug is taken)."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(Organisation)) as cur:
        await cur.execute(
            f"INSERT INTO organisations (slug, name) VALUES (%s, %s)"
            f" ON CONFLICT (slug) DO NOTHING RETURNING {_COLUMNS}",
            (slug, name),
        )
        row = await cur.fetchone()
        if row is None:
            raise ConflictError("organisation", slug, "slug is taken")
        await record(conn, actor=actor, action="create", entity="organisation", entity_id=slug,
                     organisation_id=row.id, detail={"name": name})  # fmt: skip
    return row


async def ensure_organisation(
    conn: psycopg.AsyncConnection[Any], *, slug: str, name: str, actor: Actor
) -> Organisation:
    """The organisation ``slug``, created with ``name`` if it does not exist yet."""
    try:
        return await get_organisation(conn, slug=slug)
    except NotFoundError:
        return await create_organisation(conn, slug=slug, name=name, actor=actor)


async def update_organisation(
    conn: psycopg.AsyncConnection[Any], *, slug: str, name: str, within: int | None, actor: Actor
) -> Organisation:
    """Rename an organisation."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(Organisation)) as cur:
        await cur.execute(
            f"""
            UPDATE organisations SET name = %s WHERE slug = %s AND (%s::bigint IS NULL OR id = %s)
            RETURNING {_COLUMNS}
            """,
            (name, slug, within, within),
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFoundError("organisation", slug)
        await record(conn, actor=actor, action="update", entity="organisation", entity_id=slug,
                     organisation_id=row.id, detail={"name": name})  # fmt: skip
    return row


async def delete_organisation(conn: psycopg.AsyncConnection[Any], *, slug: str, actor: Actor) -> None:
    """Delete an organisation that owns nothing (ConflictError while it owns keys, assets or devices)."""
    try:
        async with conn.transaction():
            # The trail outlives the organisation: its entries keep the slug (entity_id) but lose the link.
            await conn.execute(
                "UPDATE audit_log SET organisation_id = NULL"
                " WHERE organisation_id = (SELECT id FROM organisations WHERE slug = %s)",
                (slug,),
            )
            cur = await conn.execute("DELETE FROM organisations WHERE slug = %s RETURNING id", (slug,))
            row = await cur.fetchone()
            if row is None:
                raise NotFoundError("organisation", slug)
            await record(conn, actor=actor, action="delete", entity="organisation", entity_id=slug,
                         organisation_id=None, detail={"id": row[0]})  # fmt: skip
    except psycopg.errors.ForeignKeyViolation:
        raise ConflictError("organisation", slug, "still owns API keys, assets or devices") from None
