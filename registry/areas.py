"""Areas: the administrative hierarchy (province > district > commune) held as data, with history.

Owns reading the areas file (``areas.yaml`` in this package: Bắc Ninh as the 2023 plan knew it) and
loading it idempotently, and the area rows: create, rename, re-parent, retire. A parent is always of a
higher level than its child (a commune may sit directly under the province, as after July 2025), so
the hierarchy cannot form a cycle. Every change of parent or retirement is kept in ``area_links``
(by a trigger of migration 0100), so history is never lost; ``area_history`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Literal

import psycopg
import yaml
from psycopg import sql
from psycopg.rows import class_row

from hatang.db import area_subtree, fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, InvalidReferenceError, NotFoundError

Level = Literal["province", "district", "commune"]
LEVELS: tuple[Level, ...] = ("province", "district", "commune")


@dataclass(frozen=True, slots=True)
class AreaSpec:
    """One area as a file states it."""

    code: str
    name: str
    level: Level
    parent: str | None = None
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class Area:
    """One area row, with its current parent's code."""

    id: int
    code: str
    name: str
    name_en: str
    level: Level
    parent: str | None
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class AreaLink:
    """One period during which an area had a parent (``valid_to`` None: still)."""

    parent: str | None
    valid_from: datetime
    valid_to: datetime | None


def parse_areas(text: str) -> list[AreaSpec]:
    """The areas of a YAML document (a list of mappings), parents before children."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError("an areas file is a list of areas")
    specs = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("level") not in LEVELS:
            raise ValueError(f"area {index}: needs code, name and a level of {LEVELS}")
        specs.append(
            AreaSpec(
                code=str(item["code"]),
                name=str(item["name"]),
                level=item["level"],
                parent=None if item.get("parent") is None else str(item["parent"]),
                name_en=str(item.get("name_en", "")),
            )
        )
    return specs


def packaged_areas() -> list[AreaSpec]:
    """The areas file shipped with the registry (Bắc Ninh, 2023)."""
    return parse_areas(resources.files("registry").joinpath("areas.yaml").read_text(encoding="utf-8"))


_SELECT = """
    SELECT a.id, a.code, a.name, a.name_en, a.level, p.code AS parent, a.created_at, a.updated_at,
           a.retired_at
    FROM areas a LEFT JOIN areas p ON p.id = a.parent_id
"""


async def get_area(conn: psycopg.AsyncConnection[Any], *, code: str) -> Area:
    """The area ``code``."""
    return await fetch_row(
        conn, Area, _SELECT + " WHERE a.code = %s", (code,), missing=NotFoundError("area", code)
    )


async def area_codes_under(conn: psycopg.AsyncConnection[Any], *, code: str) -> frozenset[str]:
    """The codes of area ``code`` and of every area under it (NotFoundError if there is none)."""
    cur = await conn.execute(area_subtree(sql.SQL("code = %s"), "code"), (code,))
    codes = frozenset(row[0] for row in await cur.fetchall())
    if not codes:
        raise NotFoundError("area", code)
    return codes


async def list_areas(
    conn: psycopg.AsyncConnection[Any],
    *,
    level: Level | None = None,
    parent: str | None = None,
    include_retired: bool = False,
    after: int | None = None,
    limit: int,
) -> list[Area]:
    """Areas by id, filtered."""
    async with conn.cursor(row_factory=class_row(Area)) as cur:
        await cur.execute(
            _SELECT
            + """
            WHERE (%(level)s::text IS NULL OR a.level = %(level)s)
              AND (%(parent)s::text IS NULL OR p.code = %(parent)s)
              AND (%(retired)s OR a.retired_at IS NULL)
              AND (%(after)s::bigint IS NULL OR a.id > %(after)s)
            ORDER BY a.id LIMIT %(limit)s
            """,
            {"level": level, "parent": parent, "retired": include_retired, "after": after, "limit": limit},
        )
        return await cur.fetchall()


async def _parent_id(conn: psycopg.AsyncConnection[Any], *, level: Level, parent: str | None) -> int | None:
    if parent is None:
        if level != "province":
            raise InvalidReferenceError("parent", "", f"a {level} needs a parent")
        return None
    cur = await conn.execute("SELECT id, level, retired_at FROM areas WHERE code = %s", (parent,))
    row = await cur.fetchone()
    if row is None:
        raise InvalidReferenceError("parent", parent, "no such area")
    if row[2] is not None:
        raise InvalidReferenceError("parent", parent, "the area is retired")
    if LEVELS.index(row[1]) >= LEVELS.index(level):
        raise InvalidReferenceError("parent", parent, f"a {row[1]} cannot hold a {level}")
    return int(row[0])


async def create_area(conn: psycopg.AsyncConnection[Any], *, spec: AreaSpec, actor: Actor) -> Area:
    """A new area (ConflictError if the code is taken)."""
    async with conn.transaction():
        parent_id = await _parent_id(conn, level=spec.level, parent=spec.parent)
        cur = await conn.execute(
            "INSERT INTO areas (code, name, name_en, level, parent_id) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO NOTHING RETURNING id",
            (spec.code, spec.name, spec.name_en, spec.level, parent_id),
        )
        if await cur.fetchone() is None:
            raise ConflictError("area", spec.code, "code is taken")
        await record(
            conn, actor=actor, action="create", entity="area", entity_id=spec.code, organisation_id=None,
            detail={"name": spec.name, "level": spec.level, "parent": spec.parent},
        )  # fmt: skip
        return await get_area(conn, code=spec.code)


async def update_area(
    conn: psycopg.AsyncConnection[Any],
    *,
    code: str,
    name: str | None = None,
    name_en: str | None = None,
    parent: str | None = None,
    retired: bool | None = None,
    actor: Actor,
) -> Area:
    """Rename, re-parent (``parent``) or retire/restore (``retired``) an area; history is kept."""
    async with conn.transaction():
        area = await get_area(conn, code=code)
        changes: dict[str, Any] = {}
        if name is not None and name != area.name:
            changes["name"] = name
        if name_en is not None and name_en != area.name_en:
            changes["name_en"] = name_en
        if parent is not None and parent != area.parent:
            if parent == code:
                raise InvalidReferenceError("parent", parent, "an area cannot be its own parent")
            changes["parent_id"] = await _parent_id(conn, level=area.level, parent=parent)
        if retired is not None and retired != (area.retired_at is not None):
            if retired:
                cur = await conn.execute(
                    "SELECT count(*) FROM areas WHERE parent_id = %s AND retired_at IS NULL", (area.id,)
                )
                row = await cur.fetchone()
                if row is not None and row[0]:
                    raise ConflictError("area", code, "re-parent or retire its current children first")
            changes["retired_at"] = datetime.now().astimezone() if retired else None
        if not changes:
            return area
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)) for column in changes
        )
        await conn.execute(
            sql.SQL("UPDATE areas SET {} WHERE id = %(id)s").format(assignments), {**changes, "id": area.id}
        )
        detail = {k: v for k, v in changes.items() if k != "parent_id"}
        if "parent_id" in changes:
            detail["parent"] = parent
            detail["previous_parent"] = area.parent
        action = (
            "retire" if retired else "restore" if retired is False and "retired_at" in changes else "update"
        )
        await record(conn, actor=actor, action=action, entity="area", entity_id=code, organisation_id=None,
                     detail=detail)  # fmt: skip
        return await get_area(conn, code=code)


async def area_history(conn: psycopg.AsyncConnection[Any], *, code: str) -> list[AreaLink]:
    """Every parent ``code`` has had, oldest first."""
    area = await get_area(conn, code=code)
    async with conn.cursor(row_factory=class_row(AreaLink)) as cur:
        await cur.execute(
            """
            SELECT p.code AS parent, l.valid_from, l.valid_to
            FROM area_links l LEFT JOIN areas p ON p.id = l.parent_id
            WHERE l.area_id = %s ORDER BY l.valid_from, l.id
            """,
            (area.id,),
        )
        return await cur.fetchall()


async def load_areas(conn: psycopg.AsyncConnection[Any], *, specs: list[AreaSpec], actor: Actor) -> int:
    """Create the areas of ``specs`` that are missing and bring names and parents of the others in
    line (a re-parenting is recorded as history); returns how many areas were created or changed."""
    changed = 0
    for spec in specs:
        try:
            area = await get_area(conn, code=spec.code)
        except NotFoundError:
            await create_area(conn, spec=spec, actor=actor)
            changed += 1
            continue
        if (area.name, area.name_en, area.parent) != (spec.name, spec.name_en, spec.parent):
            await update_area(conn, code=spec.code, name=spec.name, name_en=spec.name_en, parent=spec.parent,
                              actor=actor)  # fmt: skip
            changed += 1
    return changed
