"""The yearly statistics the plan asks the province to publish (Kế hoạch 333/KH-UBND, IV.5.b).

Owns :func:`gather`: every figure of one year's report — both clauses of the II.2 IoT target
(the zones, and the 40% of essential infrastructure per sector), per area, the targets, and the
year's daily series from the snapshots — as of one day: today for the current year (live), else
the year's last snapshot day (31 December when the job ran that day). Everything comes from the
same service functions as ``/v1/readiness`` and ``/v1/readiness/zones``, so the report's figures
are the API's for that day. Rendering (HTML, PDF, CSV files) is the ``hatang report`` command's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hatang.settings import ReadinessSettings
from registry.readiness import service, zones
from registry.readiness.core import Point, Target
from registry.readiness.errors import FutureDateError, SnapshotMissingError
from registry.readiness.queries import Conn
from registry.readiness.service import History, Report
from registry.readiness.zones import ZoneReport
from registry.sectors import Sector, list_sectors


@dataclass(frozen=True, slots=True)
class AreaReport:
    """One area's readiness per sector (its descendants included)."""

    code: str
    name: str
    name_en: str
    level: str
    report: Report


@dataclass(frozen=True, slots=True)
class YearReport:
    """Every figure of one year's published statistics."""

    year: int
    as_of: date
    generated_at: datetime
    organisation: str | None
    province: Report
    areas: list[AreaReport]
    zones: ZoneReport | None  # None: no zone snapshot that day (zones are measured since migration 1000)
    history: History
    zone_history: list[Point]
    targets: list[Target]
    zone_targets: list[Target]
    sectors: list[Sector]


async def report_day(conn: Conn, *, year: int, today: date) -> date:
    """Today for the current year; for a past year its last snapshot day (errors when there is none)."""
    if year > today.year:
        raise FutureDateError(date(year, 1, 1), today=today)
    if year == today.year:
        return today
    cur = await conn.execute(
        "SELECT max(day) FROM readiness_snapshots WHERE day BETWEEN %s AND %s",
        (date(year, 1, 1), date(year, 12, 31)),
    )
    row = await cur.fetchone()
    if row is None or row[0] is None:
        raise SnapshotMissingError(date(year, 12, 31), area=None, organisation=None)
    found: date = row[0]
    return found


async def top_areas(conn: Conn) -> list[tuple[str, str, str, str]]:
    """The province(s) and their current children, in service: the report's rows by area."""
    cur = await conn.execute(
        """
        SELECT a.code, a.name, a.name_en, a.level FROM areas a
        LEFT JOIN areas p ON p.id = a.parent_id
        WHERE a.retired_at IS NULL AND (a.parent_id IS NULL OR p.parent_id IS NULL)
        ORDER BY a.parent_id NULLS FIRST, a.code
        """
    )
    return list(await cur.fetchall())


async def gather(
    conn: Conn,
    *,
    settings: ReadinessSettings,
    now: datetime,
    year: int,
    organisation: str | None = None,
) -> YearReport:
    """The figures of ``year``'s report as of its day (see :func:`report_day`)."""
    day = await report_day(conn, year=year, today=service.today(now=now, settings=settings))
    province = await service.readiness(conn, settings=settings, now=now, at=day, organisation=organisation)
    areas = [
        AreaReport(
            code=code,
            name=name,
            name_en=name_en,
            level=level,
            report=await service.readiness(
                conn, settings=settings, now=now, at=day, area=code, organisation=organisation
            ),
        )
        for code, name, name_en, level in await top_areas(conn)
    ]
    start = date(year, 1, 1)
    try:
        zone_report: ZoneReport | None = await zones.zone_readiness(conn, settings=settings, now=now, at=day)
    except SnapshotMissingError:
        zone_report = None
    return YearReport(
        year=year,
        as_of=day,
        generated_at=now,
        organisation=organisation,
        province=province,
        areas=areas,
        zones=zone_report,
        history=await service.history(
            conn, settings=settings, start=start, end=day, organisation=organisation
        ),
        zone_history=await zones.series(conn, start=start, end=day),
        targets=await service.targets(conn),
        zone_targets=await zones.zone_targets(conn),
        sectors=await list_sectors(conn),
    )
