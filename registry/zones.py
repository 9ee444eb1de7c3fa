"""Zones: high-tech zones, concentrated IT parks, research centres and industrial parks, as data.

Owns reading the zones file (``zones.yaml`` in this package: a few of Bắc Ninh's zones from public
knowledge, positions approximate), loading it idempotently, and the zone rows: list, get, create
(audited). A zone is a centre and a radius (which assets lie in it), an optional GeoJSON boundary
(for the map), a kind (``zone_kinds``, seeded by migration 1000: whether the kind counts for the
plan's "every zone" target is data too) and the areas it lies in. Readiness of zones is
``registry.readiness.zones``'s; this module does not measure anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import psycopg
import yaml
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from hatang.db import fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, InvalidReferenceError, NotFoundError


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One zone as a file or a request states it."""

    code: str
    name: str
    kind: str
    lat: float
    lon: float
    radius_m: float
    name_en: str = ""
    areas: tuple[str, ...] = ()
    boundary: dict[str, Any] | None = None
    approximate: bool = True
    source: str = ""


@dataclass(frozen=True, slots=True)
class ZoneKind:
    """A kind of zone and whether the plan's "every zone" target counts it."""

    code: str
    name: str
    name_en: str
    in_target: bool


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone row with its kind's flag and its areas' codes."""

    id: int
    code: str
    name: str
    name_en: str
    kind: str
    in_target: bool
    lat: float
    lon: float
    radius_m: float
    boundary: dict[str, Any] | None
    approximate: bool
    source: str
    areas: list[str] = field(default_factory=list)


def parse_zones(text: str) -> list[ZoneSpec]:
    """The zones of a YAML document (a list of mappings)."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError("a zones file is a list of zones")
    specs = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not {"code", "name", "kind", "lat", "lon", "radius_m"} <= set(item):
            raise ValueError(f"zone {index}: needs code, name, kind, lat, lon and radius_m")
        specs.append(
            ZoneSpec(
                code=str(item["code"]),
                name=str(item["name"]),
                name_en=str(item.get("name_en", "")),
                kind=str(item["kind"]),
                lat=float(item["lat"]),
                lon=float(item["lon"]),
                radius_m=float(item["radius_m"]),
                areas=tuple(str(a) for a in item.get("areas", ())),
                boundary=item.get("boundary"),
                approximate=bool(item.get("approximate", True)),
                source=str(item.get("source", "")),
            )
        )
    return specs


def packaged_zones() -> list[ZoneSpec]:
    """The zones file shipped with the registry."""
    return parse_zones(resources.files("registry").joinpath("zones.yaml").read_text(encoding="utf-8"))


_SELECT = """
    SELECT z.id, z.code, z.name, z.name_en, z.kind, k.in_target, z.lat, z.lon, z.radius_m, z.boundary,
           z.approximate, z.source,
           coalesce((SELECT array_agg(a.code ORDER BY a.code) FROM zone_areas za
                     JOIN areas a ON a.id = za.area_id WHERE za.zone_id = z.id), '{}') AS areas
    FROM zones z JOIN zone_kinds k ON k.code = z.kind
    WHERE z.retired_at IS NULL
"""


async def list_kinds(conn: psycopg.AsyncConnection[Any]) -> list[ZoneKind]:
    """Every kind of zone, in the plan's order."""
    async with conn.cursor(row_factory=class_row(ZoneKind)) as cur:
        await cur.execute("SELECT code, name, name_en, in_target FROM zone_kinds ORDER BY position, code")
        return await cur.fetchall()


async def list_zones(conn: psycopg.AsyncConnection[Any], *, kind: str | None = None) -> list[Zone]:
    """The zones in service, by kind then code."""
    query = _SELECT + (" AND z.kind = %(kind)s" if kind else "") + " ORDER BY k.position, z.code"
    async with conn.cursor(row_factory=class_row(Zone)) as cur:
        await cur.execute(query, {"kind": kind})
        return await cur.fetchall()


async def get_zone(conn: psycopg.AsyncConnection[Any], *, code: str) -> Zone:
    """One zone in service (NotFoundError otherwise)."""
    return await fetch_row(
        conn, Zone, _SELECT + " AND z.code = %s", (code,), missing=NotFoundError("zone", code)
    )


async def _area_ids(conn: psycopg.AsyncConnection[Any], codes: tuple[str, ...]) -> list[int]:
    cur = await conn.execute("SELECT code, id FROM areas WHERE code = ANY(%s)", (list(codes),))
    found = dict(await cur.fetchall())
    for code in codes:
        if code not in found:
            raise InvalidReferenceError("areas", code, "no such area")
    return [found[code] for code in codes]


async def create_zone(conn: psycopg.AsyncConnection[Any], *, spec: ZoneSpec, actor: Actor) -> Zone:
    """A new zone (ConflictError if the code is taken; InvalidReferenceError for an unknown kind/area)."""
    async with conn.transaction():
        kind = await conn.execute("SELECT 1 FROM zone_kinds WHERE code = %s", (spec.kind,))
        if await kind.fetchone() is None:
            raise InvalidReferenceError("kind", spec.kind, "no such kind of zone")
        area_ids = await _area_ids(conn, spec.areas)
        cur = await conn.execute(
            """
            INSERT INTO zones (code, name, name_en, kind, lat, lon, radius_m, boundary, approximate, source)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING RETURNING id
            """,
            (
                spec.code, spec.name, spec.name_en, spec.kind, spec.lat, spec.lon, spec.radius_m,
                None if spec.boundary is None else Jsonb(spec.boundary), spec.approximate, spec.source,
            ),
        )  # fmt: skip
        row = await cur.fetchone()
        if row is None:
            raise ConflictError("zone", spec.code, "code is taken")
        for area_id in area_ids:
            await conn.execute("INSERT INTO zone_areas (zone_id, area_id) VALUES (%s, %s)", (row[0], area_id))
        await record(
            conn, actor=actor, action="create", entity="zone", entity_id=spec.code, organisation_id=None,
            detail={"name": spec.name, "kind": spec.kind, "areas": list(spec.areas)},
        )  # fmt: skip
    return await get_zone(conn, code=spec.code)


async def load_zones(conn: psycopg.AsyncConnection[Any], *, specs: list[ZoneSpec], actor: Actor) -> int:
    """Create the zones of ``specs`` that are missing (existing codes are left as they are)."""
    created = 0
    for spec in specs:
        try:
            await get_zone(conn, code=spec.code)
        except NotFoundError:
            await create_zone(conn, spec=spec, actor=actor)
            created += 1
    return created
