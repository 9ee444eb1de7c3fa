"""Sectors as data: the plan's five, and any a later plan adds with a row (``sectors``, migration 1002).

Owns the sector rows: list, get, create (audited), and the check that a code names one. Nothing in
hatang spells the list out: readiness iterates over these rows, the API validates against them, the
dashboard and the report take their names from them. Which sectors a target applies to is
``readiness_targets``' business; whether any device model serves a sector is the contracts'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row

from hatang.db import fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, InvalidReferenceError, NotFoundError


@dataclass(frozen=True, slots=True)
class Sector:
    """A sector of the plan: its code, names, place in listings and where it comes from."""

    code: str
    name: str
    name_en: str
    position: int
    source: str


_SELECT = "SELECT code, name, name_en, position, source FROM sectors"


async def list_sectors(conn: psycopg.AsyncConnection[Any]) -> list[Sector]:
    """Every sector, in the plan's order (then by code)."""
    async with conn.cursor(row_factory=class_row(Sector)) as cur:
        await cur.execute(_SELECT + " ORDER BY position, code")
        return await cur.fetchall()


async def sector_codes(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The codes of every sector, in the plan's order."""
    return [s.code for s in await list_sectors(conn)]


async def get_sector(conn: psycopg.AsyncConnection[Any], *, code: str) -> Sector:
    """One sector (NotFoundError when there is none)."""
    return await fetch_row(
        conn, Sector, _SELECT + " WHERE code = %s", (code,), missing=NotFoundError("sector", code)
    )


async def check_sector(conn: psycopg.AsyncConnection[Any], *, code: str, field: str = "sector") -> None:
    """InvalidReferenceError unless ``code`` names a sector."""
    cur = await conn.execute("SELECT 1 FROM sectors WHERE code = %s", (code,))
    if await cur.fetchone() is None:
        raise InvalidReferenceError(field, code, "no such sector")


async def create_sector(conn: psycopg.AsyncConnection[Any], *, sector: Sector, actor: Actor) -> Sector:
    """A new sector (ConflictError if the code is taken)."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO sectors (code, name, name_en, position, source) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO NOTHING RETURNING code",
            (sector.code, sector.name, sector.name_en, sector.position, sector.source),
        )
        if await cur.fetchone() is None:
            raise ConflictError("sector", sector.code, "code is taken")
        await record(
            conn, actor=actor, action="create", entity="sector", entity_id=sector.code, organisation_id=None,
            detail={"name": sector.name, "name_en": sector.name_en, "source": sector.source},
        )  # fmt: skip
    return await get_sector(conn, code=sector.code)
