"""The per-asset state (``readiness_assets``, migration 1100) against the definition computed from scratch.

After any sequence of registry changes and ``last_seen`` writes (``device_seen``, migration 1200: ingest's
own upsert, first sightings and later ones, and writes by hand), each asset's row holds its attributes
and ``equipped`` exactly and its ``newest_seen`` within one granularity bucket below the true newest,
and the live counts, for a window that starts on a bucket boundary, equal what the join of every
essential asset to every active device (the query readiness ran before the state existed) gives;
the gaps are the essential assets they do not count as ready.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from firmware_contracts import Limits, load_models
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache
from ingest.queries import load_devices, load_metric_ids
from ingest.sink import UPSERT_SEEN, write_batch
from registry.readiness import queries
from registry.readiness.core import Counts
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet

AsyncConn = psycopg.AsyncConnection[Any]

GRANULARITY = timedelta(minutes=5)
# A bucket boundary (buckets of 5 minutes from 2000-01-01 00:00 UTC): windows start on boundaries.
T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
SECTORS = ("transport", "water")
STATES = ("provisioned", "active", "suspended", "retired")

# The definition, computed from scratch: every essential asset joined to its active devices of a
# model of its own sector (readiness's live query before migration 1100).
_REFERENCE = sql.SQL(
    """
    SELECT a.sector, count(*), count(*) FILTER (WHERE f.asset_id IS NOT NULL),
           count(*) FILTER (WHERE coalesce(f.fresh, false))
    FROM assets a
    LEFT JOIN (
        SELECT d.asset_id, m.sector, bool_or(s.last_seen >= %(since)s) AS fresh
        FROM devices d JOIN device_models m ON m.id = d.model_id
        LEFT JOIN device_seen s ON s.device_id = d.id
        WHERE d.state = 'active' AND d.asset_id IS NOT NULL
        GROUP BY d.asset_id, m.sector
    ) f ON f.asset_id = a.id AND f.sector = a.sector
    WHERE a.essential {filters}
    GROUP BY a.sector
    """
)

# Each asset's row beside the same facts recomputed from the registry.
_ROWS = """
    SELECT a.id, (r.sector, r.area_id, r.organisation_id, r.essential, r.demo)
                 IS NOT DISTINCT FROM (a.sector::text, a.area_id, a.organisation_id, a.essential, a.demo),
           r.asset_id IS NOT NULL, r.equipped, r.newest_seen, f.equipped, f.newest_seen
    FROM assets a
    LEFT JOIN readiness_assets r ON r.asset_id = a.id
    CROSS JOIN LATERAL (
        SELECT count(*) > 0 AS equipped, max(s.last_seen) AS newest_seen
        FROM devices d JOIN device_models m ON m.id = d.model_id
        LEFT JOIN device_seen s ON s.device_id = d.id
        WHERE d.asset_id = a.id AND d.state = 'active' AND m.sector = a.sector
    ) f
    ORDER BY a.id
"""


def _bucket(at: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + (at - epoch) // GRANULARITY * GRANULARITY


@dataclass(frozen=True, slots=True)
class World:
    """The ids of one example's small registry."""

    areas: list[int]  # a district, then its two communes
    organisations: list[int]
    models: list[int]
    assets: list[int]


async def _one(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def _world(conn: AsyncConn) -> World:
    organisations = [
        await _one(conn, "INSERT INTO organisations (slug, name) VALUES (%s, %s) RETURNING id", (slug, slug))
        for slug in ("org-a", "org-b")
    ]
    district = await _one(
        conn, "INSERT INTO areas (code, name, level) VALUES ('d', 'd', 'district') RETURNING id"
    )
    communes = [
        await _one(
            conn,
            "INSERT INTO areas (code, name, level, parent_id) VALUES (%s, %s, 'commune', %s) RETURNING id",
            (code, code, district),
        )
        for code in ("c1", "c2")
    ]
    models = [
        await _one(
            conn,
            "INSERT INTO device_models (model, version, sector, contract)"
            " VALUES (%s, 1, %s, '{}') RETURNING id",
            (f"m{i}", sector),
        )
        for i, sector in enumerate(("transport", "water", "transport"))
    ]
    world = World(areas=[district, *communes], organisations=organisations, models=models, assets=[])
    for k in range(5):
        world.assets.append(
            await _add_asset(conn, world, sector=SECTORS[k % 2], area=1 + k % 2, org=k % 2, essential=k != 4)
        )
    return world


async def _add_asset(
    conn: AsyncConn, world: World, *, sector: str, area: int, org: int, essential: bool
) -> int:
    asset_id: int = await _one(
        conn,
        "INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, essential)"
        " VALUES ('a-' || gen_random_uuid(), %s, %s, %s, 'site', %s) RETURNING id",
        (world.organisations[org], world.areas[area], sector, essential),
    )
    return asset_id


def _minutes(value: int | None) -> datetime | None:
    return None if value is None else T0 + timedelta(minutes=value)


# Registry changes and last_seen writes; device and asset picks are indexes taken modulo what exists.
# Weighted towards active devices that reported, the rows that count.
_minute = st.integers(-3 * 24 * 60, 30)
_seen = st.one_of(_minute, _minute, st.none())
_state = st.sampled_from(("active", *STATES))
_picks = st.lists(st.integers(0, 63), min_size=1, max_size=4)
OPERATIONS = st.one_of(
    st.tuples(
        st.just("add_devices"),
        st.lists(
            st.tuples(st.one_of(st.none(), st.integers(0, 63)), st.integers(0, 2), _state, _seen),
            min_size=1, max_size=6,
        ),
    ),
    st.tuples(st.just("state"), _picks, st.sampled_from(STATES)),
    st.tuples(st.just("move"), _picks, st.one_of(st.none(), st.integers(0, 63))),
    st.tuples(st.just("model"), _picks, st.integers(0, 2)),
    st.tuples(st.just("delete_devices"), _picks),
    st.tuples(st.just("seen"), _picks, _minute),  # as ingest writes it: first sightings and later ones
    st.tuples(st.just("seen_deleted"), _picks, _minute),  # ingest's write for devices deleted meanwhile
    st.tuples(st.just("seen_back"), _picks, _seen),  # by hand: back, or cleared
    st.tuples(
        st.just("asset"), st.integers(0, 63),
        st.fixed_dictionaries({}, optional={
            "sector": st.sampled_from(SECTORS), "area_id": st.integers(0, 2),
            "organisation_id": st.integers(0, 1), "essential": st.booleans(), "demo": st.booleans(),
        }),
    ),
    st.tuples(st.just("add_asset"), st.sampled_from(SECTORS), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("delete_asset"), st.integers(0, 63)),
    st.tuples(st.just("model_sector"), st.integers(0, 2), st.sampled_from(SECTORS)),
)  # fmt: skip


async def _ingest_seen(conn: AsyncConn, ids: list[int], at: datetime | None) -> None:
    """What ingest runs (ingest.sink): forward only, one statement for several devices."""
    assert at is not None
    await conn.execute(UPSERT_SEEN, {"ids": ids, "ats": [at.timestamp()] * len(ids)})


async def _devices(conn: AsyncConn) -> list[int]:
    cur = await conn.execute("SELECT id FROM devices ORDER BY id")
    return [row[0] for row in await cur.fetchall()]


def _pick(ids: list[int], picks: list[int]) -> list[int]:
    return sorted({ids[k % len(ids)] for k in picks}) if ids else []


async def _apply(conn: AsyncConn, world: World, operation: tuple[Any, ...]) -> None:
    """One registry change or last_seen write, as one statement where the registry makes it one.

    Long because it is one branch per kind of change, each a statement or two.
    """
    kind, *args = operation
    devices = await _devices(conn)
    if kind == "add_devices":
        rows = [
            (
                f"d-{uuid.uuid4()}",
                None if a is None else world.assets[a % len(world.assets)],
                world.models[m],
                state,
                _minutes(seen),
            )
            for a, m, state, seen in args[0]
        ]
        columns = [list(column) for column in zip(*rows, strict=True)]
        # Registered, then seen (by hand: the rows that had a last_seen), as two statements.
        await conn.execute(
            "INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)"
            " SELECT u.external_id, u.model, %s, u.asset, u.state"
            " FROM unnest(%s::text[], %s::bigint[], %s::int[], %s::text[])"
            " AS u(external_id, asset, model, state)",
            (world.organisations[0], *columns[:4]),
        )
        await conn.execute(
            "INSERT INTO device_seen (device_id, last_seen)"
            " SELECT d.id, u.seen FROM unnest(%s::text[], %s::timestamptz[]) AS u(external_id, seen)"
            " JOIN devices d USING (external_id) WHERE u.seen IS NOT NULL",
            (columns[0], columns[4]),
        )
    elif kind in {"state", "move", "model", "delete_devices", "seen", "seen_deleted", "seen_back"}:
        ids = _pick(devices, args[0])
        if not ids:
            return
        if kind == "state":
            await conn.execute("UPDATE devices SET state = %s WHERE id = ANY(%s)", (args[1], ids))
        elif kind == "move":
            asset = None if args[1] is None else world.assets[args[1] % len(world.assets)]
            await conn.execute("UPDATE devices SET asset_id = %s WHERE id = ANY(%s)", (asset, ids))
        elif kind == "model":
            await conn.execute(
                "UPDATE devices SET model_id = %s WHERE id = ANY(%s)", (world.models[args[1]], ids)
            )
        elif kind == "delete_devices":
            await conn.execute("DELETE FROM devices WHERE id = ANY(%s)", (ids,))
        elif kind == "seen":
            await _ingest_seen(conn, ids, _minutes(args[1]))
        elif kind == "seen_deleted":
            await conn.execute("DELETE FROM devices WHERE id = ANY(%s)", (ids,))
            await _ingest_seen(conn, ids, _minutes(args[1]))
        elif args[1] is None:
            await conn.execute("DELETE FROM device_seen WHERE device_id = ANY(%s)", (ids,))
        else:
            await conn.execute(
                "INSERT INTO device_seen (device_id, last_seen) SELECT unnest(%s::bigint[]), %s"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen",
                (ids, _minutes(args[1])),
            )
    elif kind == "asset":
        asset = world.assets[args[0] % len(world.assets)]
        changes = dict(args[1])
        if "area_id" in changes:
            changes["area_id"] = world.areas[changes["area_id"]]
        if "organisation_id" in changes:
            changes["organisation_id"] = world.organisations[changes["organisation_id"]]
        if changes:
            await conn.execute(
                sql.SQL("UPDATE assets SET {} WHERE id = %s").format(
                    sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(key)) for key in changes)
                ),
                (*changes.values(), asset),
            )
    elif kind == "add_asset":
        world.assets.append(
            await _add_asset(conn, world, sector=args[0], area=args[1], org=0, essential=args[2])
        )
    elif kind == "delete_asset" and len(world.assets) > 1:
        asset = world.assets.pop(args[0] % len(world.assets))
        await conn.execute("UPDATE devices SET asset_id = NULL WHERE asset_id = %s", (asset,))
        await conn.execute("DELETE FROM assets WHERE id = %s", (asset,))
    elif kind == "model_sector":
        await conn.execute(
            "UPDATE device_models SET sector = %s WHERE id = %s", (args[1], world.models[args[0]])
        )


async def _check_rows(conn: AsyncConn) -> None:
    """Every asset has its row, attributes and equipped exact, newest_seen within one bucket below."""
    cur = await conn.execute(_ROWS)
    rows = await cur.fetchall()
    cur = await conn.execute("SELECT count(*) FROM readiness_assets")
    assert await cur.fetchone() == (len(rows),)  # no row outlives its asset
    cur = await conn.execute(
        "SELECT count(*) FROM device_seen s WHERE NOT EXISTS (SELECT FROM devices d WHERE d.id = s.device_id)"
    )
    assert await cur.fetchone() == (0,)  # no last_seen outlives its device, none written for a deleted one
    for asset_id, same, present, equipped, newest, want_equipped, want_newest in rows:
        assert present, f"asset {asset_id}: no row"
        assert same, f"asset {asset_id}: attributes"
        assert equipped == want_equipped, f"asset {asset_id}: equipped"
        if want_newest is None:
            assert newest is None, f"asset {asset_id}: newest_seen"
        else:
            assert newest is not None, f"asset {asset_id}: newest_seen"
            assert _bucket(want_newest) <= newest <= want_newest, (
                f"asset {asset_id}: {newest} for {want_newest}"
            )


async def _reference(
    conn: AsyncConn,
    *,
    since: datetime,
    area_ids: list[int] | None,
    organisation_id: int | None,
    include_demo: bool,
    demo_only: bool = False,
) -> dict[str, Counts]:
    parts = []
    if area_ids is not None:
        parts.append(sql.SQL(" AND a.area_id = ANY(%(area_ids)s)"))
    if organisation_id is not None:
        parts.append(sql.SQL(" AND a.organisation_id = %(organisation_id)s"))
    if not include_demo:
        parts.append(sql.SQL(" AND NOT a.demo"))
    if demo_only:
        parts.append(sql.SQL(" AND a.demo"))
    cur = await conn.execute(
        _REFERENCE.format(filters=sql.Composed(parts)),
        {"since": since, "area_ids": area_ids, "organisation_id": organisation_id},
    )
    return {sector: Counts(essential=e, equipped=q, ready=r) for sector, e, q, r in await cur.fetchall()}


async def _check_counts(conn: AsyncConn, world: World) -> None:
    """The live counts of every scope equal the definition's, for windows starting on bucket boundaries."""
    for since in (T0 - timedelta(hours=24), T0 - timedelta(minutes=35), T0 - timedelta(days=2)):
        scopes = [
            (None, None),
            *((area, None) for area in world.areas),
            *((None, org) for org in world.organisations),
        ]
        for area, org in scopes:
            area_ids = None if area is None else await queries.descendants(conn, area)
            for include_demo in (True, False):
                live = await queries.live_counts(
                    conn, since=since, area_id=area, organisation_id=org, include_demo=include_demo
                )
                want = await _reference(
                    conn, since=since, area_ids=area_ids, organisation_id=org, include_demo=include_demo
                )
                assert live == want, (since, area, org, include_demo)
                # The gaps are exactly the essential assets not counted as ready.
                gaps = await queries.gap_summary(
                    conn, since=since, area_id=area, organisation_id=org, include_demo=include_demo
                )
                not_ready = {
                    sector: c.essential - c.ready for sector, c in live.items() if c.essential > c.ready
                }
                by_sector: dict[str, int] = {}
                for (_, sector), n in gaps.items():
                    by_sector[sector] = by_sector.get(sector, 0) + n
                assert by_sector == not_ready, (since, area, org, include_demo, "gaps")
            demo = await queries.demo_counts(conn, since=since, area_id=area, organisation_id=org)
            want = await _reference(
                conn, since=since, area_ids=area_ids, organisation_id=org, include_demo=True, demo_only=True
            )
            assert demo == want, (since, area, org, "demo")


async def _example(db_url: str, operations: list[tuple[Any, ...]]) -> None:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        try:
            world = await _world(conn)
            for operation in operations:
                await _apply(conn, world, operation)
                await _check_rows(conn)
            await _check_counts(conn, world)
        finally:
            await conn.rollback()  # every example starts from the empty database


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=14))
def test_the_state_follows_the_definition(db_url: str, operations: list[tuple[Any, ...]]) -> None:
    asyncio.run(_example(db_url, operations))


# Writes through device_seen, spelled out (the property above finds them too, by chance): a first
# sighting (the upsert's INSERT path), later ones within and across a bucket (its UPDATE path), a
# device deleted after it was seen, one seen after it moved to another asset, and ingest's write for a
# device deleted in the same transaction (nothing written).
WRITES_THROUGH_DEVICE_SEEN: list[list[tuple[Any, ...]]] = [
    [("add_devices", [(0, 0, "active", None), (0, 0, "active", None)]), ("seen", [0, 1], -60),
     ("seen", [0], -58), ("seen", [0], -40), ("seen", [1], 10)],
    [("add_devices", [(0, 0, "active", None), (0, 0, "active", -30)]), ("seen", [1], -20),
     ("delete_devices", [1]), ("seen", [0], -100)],
    [("add_devices", [(0, 0, "active", None), (2, 0, "active", -300)]), ("seen", [0], -10),
     ("move", [0], 2), ("seen", [0], -5), ("move", [0], 0), ("seen", [0], 20)],
    [("add_devices", [(1, 1, "active", -30)]), ("seen_deleted", [0], 5),
     ("add_devices", [(1, 1, "active", None)]), ("seen", [0], 10)],
    [("add_devices", [(0, 0, "active", -30)]), ("seen_back", [0], -3000), ("seen_back", [0], None),
     ("seen", [0], -3001)],
]  # fmt: skip


@pytest.mark.parametrize("operations", WRITES_THROUGH_DEVICE_SEEN)
def test_writes_through_device_seen_keep_the_state(db_url: str, operations: list[tuple[Any, ...]]) -> None:
    asyncio.run(_example(db_url, operations))


def test_the_migration_backfills_existing_rows(db_url: str) -> None:
    """``readiness_assets_rebuild()`` (what migration 1100 ran) recomputes what the triggers keep."""
    asyncio.run(_backfill(db_url))


async def _backfill(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        world = await _world(conn)
        await _apply(
            conn, world, ("add_devices", [(0, 0, "active", -10), (1, 1, "active", None), (2, 1, "active", 0)])
        )
        await conn.execute("DELETE FROM readiness_assets WHERE asset_id = %s", (world.assets[0],))
        await conn.execute("UPDATE readiness_assets SET equipped = false, newest_seen = NULL")
        await conn.execute(
            "INSERT INTO readiness_assets VALUES (-1, 'water', 1, 1, true, false, false, NULL)"
        )
        await conn.execute("SELECT readiness_assets_rebuild()")
        await _check_rows(conn)
        await _check_counts(conn, world)


def test_the_granularity_is_what_the_docs_say(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT readiness_seen_granularity()").fetchone() == (GRANULARITY,)


async def _ingest(fleet: IngestFleet, device: str, at: float) -> None:
    """One valid reading of ``device`` through ingest's own batch and sink, committed."""
    async with await psycopg.AsyncConnection.connect(fleet.db_url) as conn:
        cache = DeviceCache(models=load_models(), limits=Limits())
        cache.apply(await load_devices(conn), replace=True)
        batch = Batch()
        payload = orjson.dumps({"t": at, "psi": 40.0})
        intake(batch, Delivery(fleet.topic(device), payload, 1, 1, at, 0),
               layout=TopicLayout(fleet.prefix, DEVICE_MOUNT), devices=cache,
               metric_ids=await load_metric_ids(conn))  # fmt: skip
        written = await write_batch(conn, batch, upserts(batch), max_dead_payload=65536)
        await conn.commit()
        assert written.inserted == 1


async def _ready_water(db_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        counts = await queries.live_counts(conn, since=datetime.now(UTC) - timedelta(hours=24))
        return counts["water"].ready


def test_a_fresh_devices_first_reading_makes_its_asset_ready_at_once(ingest_fleet: IngestFleet) -> None:
    """A device that never reported, on an asset with no other report, and one whose asset has been
    silent for days: the first valid reading through ingest counts the asset as ready in the same
    commit, whatever the granularity."""
    fleet = ingest_fleet
    never, silent = fleet.active[0], fleet.active[1]  # on the fleet's two assets
    with psycopg.connect(fleet.db_url) as conn:
        conn.execute(
            "INSERT INTO device_seen (device_id, last_seen) SELECT id, now() - interval '3 days'"
            " FROM devices WHERE asset_id = (SELECT asset_id FROM devices WHERE external_id = %s)"
            " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen",
            (silent,),
        )
    assert asyncio.run(_ready_water(fleet.db_url)) == 0
    asyncio.run(_ingest(fleet, never, time.time() - 1))
    assert asyncio.run(_ready_water(fleet.db_url)) == 1
    asyncio.run(_ingest(fleet, silent, time.time() - 1))
    assert asyncio.run(_ready_water(fleet.db_url)) == 2
