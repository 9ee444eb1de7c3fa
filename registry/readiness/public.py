"""What the public (open data) surface may show of individual assets: positions and readiness.

Owns the query behind the GeoJSON of essential assets: each asset with a position, its sector,
kind, area, owner and readiness now (``ready`` or the first reason it is not, as in the gaps), and
its devices' identifiers **only** when the owning organisation allows it
(``organisations.open_data_device_ids``, migration 1001) — never a secret, never a device of an
organisation that did not. And the admin switch for that permission, audited. Counts per sector,
area and zone are the ordinary readiness service's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from registry.audit import Actor, record
from registry.readiness.errors import UnknownOrganisationError
from registry.readiness.queries import _FACTS, _REASON, Conn, area_id, descendants


@dataclass(frozen=True, slots=True)
class PublicAsset:
    """One essential asset as the public sees it."""

    id: int
    external_id: str
    name: str
    kind: str
    sector: str
    area: str
    organisation: str
    lat: float
    lon: float
    status: str  # "ready", or the reason it is not (docs/readiness.md, gaps)
    devices: list[str] | None  # None: the organisation does not publish device identifiers


async def assets(
    conn: Conn,
    *,
    since: datetime,
    limit: int,
    after: int | None = None,
    area_ids: list[int] | None = None,
    sector: str | None = None,
) -> list[PublicAsset]:
    """Up to ``limit`` essential assets with a position, by ascending id after ``after``."""
    filters: list[sql.Composable] = []
    if after is not None:
        filters.append(sql.SQL(" AND a.id > %(after)s"))
    if area_ids is not None:
        filters.append(sql.SQL(" AND a.area_id = ANY(%(area_ids)s)"))
    if sector is not None:
        filters.append(sql.SQL(" AND a.sector = %(sector)s"))
    query = sql.SQL(
        """
        SELECT a.id, a.external_id, a.name, a.kind, a.sector, ar.code, o.slug, a.lat, a.lon,
               coalesce({reason}, 'ready'),
               CASE WHEN o.open_data_device_ids THEN
                   coalesce((SELECT array_agg(d.external_id ORDER BY d.external_id) FROM devices d
                             WHERE d.asset_id = a.id AND d.state = 'active'), '{{}}')
               END
        FROM assets a JOIN areas ar ON ar.id = a.area_id JOIN organisations o ON o.id = a.organisation_id
        {facts}
        WHERE a.essential AND a.lat IS NOT NULL AND a.lon IS NOT NULL {filters}
        ORDER BY a.id LIMIT %(limit)s
        """
    ).format(reason=_REASON, facts=_FACTS, filters=sql.Composed(filters))
    params = {"since": since, "limit": limit, "after": after, "area_ids": area_ids, "sector": sector}
    cur = await conn.execute(query, params)
    return [
        PublicAsset(
            id=r[0], external_id=r[1], name=r[2], kind=r[3], sector=r[4], area=r[5], organisation=r[6],
            lat=r[7], lon=r[8], status=r[9], devices=None if r[10] is None else list(r[10]),
        )
        for r in await cur.fetchall()
    ]  # fmt: skip


async def area_ids(conn: Conn, *, code: str) -> list[int]:
    """The ids of area ``code`` and every area under it (``UnknownAreaError`` when there is none)."""
    return await descendants(conn, await area_id(conn, code=code))


async def set_device_ids_public(conn: Conn, *, slug: str, public: bool, actor: Actor) -> bool:
    """Let (or stop) the open data name ``slug``'s devices; audited. Returns the new value."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE organisations SET open_data_device_ids = %s WHERE slug = %s RETURNING id", (public, slug)
        )
        row = await cur.fetchone()
        if row is None:
            raise UnknownOrganisationError(slug)
        await record(
            conn, actor=actor, action="update", entity="organisation", entity_id=slug, organisation_id=row[0],
            detail={"open_data_device_ids": public},
        )  # fmt: skip
    return public
