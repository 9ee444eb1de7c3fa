"""Readiness as the API and the command line ask for it: figures, history, gaps and targets.

Owns the keyword-only service functions that resolve a scope (area code, organisation slug), choose
where a day's figures come from (live for today, the daily snapshot for a past day), run the
``queries`` and hand the counts to the pure ``core``. The caller passes ``now`` (the clock is read
at the edge) and an open async connection; nothing here knows about HTTP or formats output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from hatang.settings import ReadinessSettings
from registry import audit
from registry.audit import Actor
from registry.readiness import queries, target_queries
from registry.readiness.cache import LiveCountsCache
from registry.readiness.core import Assessment, Counts, Point, Target, assess
from registry.readiness.errors import FutureDateError, SnapshotMissingError
from registry.readiness.queries import Conn, Gap
from registry.sectors import sector_codes

#: Why an essential asset does not count as ready (docs/readiness.md).
GapReason = Literal["no_device", "device_not_active", "wrong_sector", "never_reported", "silent"]
#: Gap reasons, first cause first.
GAP_REASONS: tuple[GapReason, ...] = get_args(GapReason)


@dataclass(frozen=True, slots=True)
class Report:
    """Readiness of every sector in one scope on one day."""

    as_of: date
    source: Literal["live", "snapshot"]
    area: str | None
    organisation: str | None
    freshness_window: timedelta
    sectors: list[Assessment]
    include_demo: bool = True
    demo: dict[str, Counts] | None = None  # live figures: the demo assets among them, per sector


@dataclass(frozen=True, slots=True)
class SectorHistory:
    """One sector's daily snapshots in a scope, and its assessment on the last day of the series."""

    sector: str
    points: list[Point]
    latest: Assessment | None


@dataclass(frozen=True, slots=True)
class History:
    """Daily series per sector from the snapshots, ``start``..``end`` inclusive."""

    start: date
    end: date
    area: str | None
    organisation: str | None
    sectors: list[SectorHistory]


@dataclass(frozen=True, slots=True)
class Gaps:
    """Essential assets not ready now: counts by reason and sector, and one page of them."""

    summary: dict[str, dict[str, int]]
    items: list[Gap]
    next_after: int | None


def today(*, now: datetime, settings: ReadinessSettings) -> date:
    """The province-local calendar day of ``now``."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def window(settings: ReadinessSettings) -> timedelta:
    """The freshness window."""
    return timedelta(hours=settings.freshness_window_h)


async def _scope(conn: Conn, *, area: str | None, organisation: str | None) -> tuple[int | None, int | None]:
    area_id = None if area is None else await queries.area_id(conn, code=area)
    org_id = None if organisation is None else await queries.organisation_id(conn, slug=organisation)
    return area_id, org_id


async def _live(
    conn: Conn,
    *,
    since: datetime,
    area_id: int | None,
    org_id: int | None,
    include_demo: bool,
    cache: LiveCountsCache | None,
) -> tuple[dict[str, Counts], dict[str, Counts] | None]:
    """Today's live counts of a scope (through ``cache`` when given), and of them the demo assets'
    (None when demo assets are left out)."""
    if cache is None:
        counts = await queries.live_counts(
            conn, since=since, area_id=area_id, organisation_id=org_id, include_demo=include_demo
        )
    else:
        counts = await cache.get(
            (area_id, org_id, include_demo),
            lambda: queries.live_counts(
                conn, since=since, area_id=area_id, organisation_id=org_id, include_demo=include_demo
            ),
        )
    demo: dict[str, Counts] | None = None
    if include_demo:
        demo = await queries.demo_counts(conn, since=since, area_id=area_id, organisation_id=org_id)
    return counts, demo


def _by_sector(rows: list[tuple[date, str, Counts]], sectors: list[str]) -> dict[str, list[Point]]:
    found: dict[str, list[Point]] = {sector: [] for sector in sectors}
    for day, sector, counts in rows:
        found.setdefault(sector, []).append(Point(day=day, counts=counts))
    return found


async def readiness(
    conn: Conn,
    *,
    settings: ReadinessSettings,
    now: datetime,
    at: date | None = None,
    area: str | None = None,
    organisation: str | None = None,
    include_demo: bool = True,
    cache: LiveCountsCache | None = None,
) -> Report:
    """Every sector's readiness in a scope: live for today, from the snapshot for a past day.

    With ``cache``, today's live counts of the scope may be up to its ``ttl_s`` old.

    ``area`` (a code) includes its descendants; ``organisation`` (a slug) is the assets' owner.
    ``include_demo=False`` leaves demo assets (``assets.demo``) out of every figure; live reports
    also say how many of the figures are demo (``demo``).
    Raises ``UnknownAreaError``/``UnknownOrganisationError``, ``FutureDateError`` for a day after
    today and ``SnapshotMissingError`` for a past day without a snapshot.

    Long mostly for this docstring: the body is the live-or-snapshot choice and one report.
    """
    current = today(now=now, settings=settings)
    day = current if at is None else at
    if day > current:
        raise FutureDateError(day, today=current)
    area_id, org_id = await _scope(conn, area=area, organisation=organisation)
    past = await queries.series(
        conn,
        start=day - timedelta(days=settings.pace_window_days),
        end=day,
        area_id=area_id,
        organisation_id=org_id,
        include_demo=include_demo,
    )
    demo: dict[str, Counts] | None = None
    if day == current:
        counts, demo = await _live(
            conn, since=now - window(settings), area_id=area_id, org_id=org_id, include_demo=include_demo,
            cache=cache,
        )  # fmt: skip
        source: Literal["live", "snapshot"] = "live"
    else:
        if not await queries.snapshot_taken(conn, day=day):
            raise SnapshotMissingError(day, area=area, organisation=organisation)
        counts = {sector: c for d, sector, c in past if d == day}
        source = "snapshot"
    targets = await target_queries.targets(conn)
    sectors = await sector_codes(conn)
    history = _by_sector([row for row in past if row[0] < day], sectors)
    zero = Counts(essential=0, equipped=0, ready=0)
    return Report(
        as_of=day,
        source=source,
        area=area,
        organisation=organisation,
        freshness_window=window(settings),
        sectors=[
            assess(
                sector=sector,
                counts=counts.get(sector, zero),
                targets=targets,
                as_of=day,
                history=history[sector],
                window_days=settings.pace_window_days,
            )
            for sector in sectors
        ],
        include_demo=include_demo,
        demo=demo,
    )


async def history(
    conn: Conn,
    *,
    settings: ReadinessSettings,
    start: date,
    end: date,
    area: str | None = None,
    organisation: str | None = None,
    include_demo: bool = True,
) -> History:
    """The daily snapshots of a scope per sector, with each sector assessed on its last snapshot day.

    The assessment's pace and projection use the ``pace_window_days`` before that day (read even
    when ``start`` is later), so a short range still projects from a full window.
    """
    area_id, org_id = await _scope(conn, area=area, organisation=organisation)
    fetch_from = min(start, end - timedelta(days=settings.pace_window_days))
    rows = await queries.series(
        conn, start=fetch_from, end=end, area_id=area_id, organisation_id=org_id, include_demo=include_demo
    )
    targets = await target_queries.targets(conn)
    sectors = []
    for sector, points in _by_sector(rows, await sector_codes(conn)).items():
        latest = None
        if points:
            last = points[-1]
            latest = assess(
                sector=sector,
                counts=last.counts,
                targets=targets,
                as_of=last.day,
                history=points,
                window_days=settings.pace_window_days,
            )
        sectors.append(
            SectorHistory(sector=sector, points=[p for p in points if p.day >= start], latest=latest)
        )
    return History(start=start, end=end, area=area, organisation=organisation, sectors=sectors)


async def gaps(
    conn: Conn,
    *,
    settings: ReadinessSettings,
    now: datetime,
    limit: int,
    after: int | None = None,
    area: str | None = None,
    organisation: str | None = None,
    sector: str | None = None,
    reason: str | None = None,
    include_demo: bool = True,
) -> Gaps:
    """Essential assets not ready now, grouped by why; one page by ascending asset id after ``after``."""
    area_id, org_id = await _scope(conn, area=area, organisation=organisation)
    since = now - window(settings)
    counted = await queries.gap_summary(
        conn, since=since, area_id=area_id, organisation_id=org_id, sector=sector, include_demo=include_demo
    )
    sectors = await sector_codes(conn)
    summary: dict[str, dict[str, int]] = {
        why: {s: counted[(why, s)] for s in sectors if (why, s) in counted}
        for why in GAP_REASONS
        if reason is None or why == reason
    }
    items = await queries.gap_page(
        conn,
        since=since,
        limit=limit + 1,
        after=after,
        area_id=area_id,
        organisation_id=org_id,
        sector=sector,
        reason=reason,
        include_demo=include_demo,
    )
    more = len(items) > limit
    items = items[:limit]
    return Gaps(summary=summary, items=items, next_after=items[-1].asset_id if more else None)


async def targets(conn: Conn) -> list[Target]:
    """Every recorded target, by sector and deadline."""
    return await target_queries.targets(conn)


async def create_target(
    conn: Conn, *, actor: Actor, sector: str, share: Decimal, deadline: date, source: str = ""
) -> Target:
    """Record a new target, audited (``TargetExistsError`` when the sector has one for that deadline)."""
    async with conn.transaction():
        target = await target_queries.insert_target(
            conn, target=Target(sector=sector, share=share, deadline=deadline, source=source)
        )
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="readiness_target",
            entity_id=f"{sector}/{deadline.isoformat()}",
            organisation_id=None,
            detail={"share": str(target.share), "deadline": target.deadline.isoformat(), "source": source},
        )
    return target


async def update_target(
    conn: Conn,
    *,
    actor: Actor,
    sector: str,
    deadline: date,
    share: Decimal | None = None,
    new_deadline: date | None = None,
    source: str | None = None,
) -> Target:
    """Change a target's share, deadline or source, audited (``TargetNotFoundError`` when there is none)."""
    async with conn.transaction():
        target = await target_queries.update_target(
            conn, sector=sector, deadline=deadline, share=share, new_deadline=new_deadline, source=source
        )
        changes = {"share": share, "deadline": new_deadline, "source": source}
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity="readiness_target",
            entity_id=f"{sector}/{deadline.isoformat()}",
            organisation_id=None,
            detail={key: str(value) for key, value in changes.items() if value is not None},
        )
    return target
