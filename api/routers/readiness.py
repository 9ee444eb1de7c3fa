"""``/v1/readiness``: the plan's 40% target per sector and area — now, on a past day, over time.

Any valid key reads the figures and the history (aggregate counts, the statistics the plan has the
province publish); the gaps list assets, so non-admin keys see only their own organisation's.
Admins record and change targets. The arithmetic and the definitions live in ``registry.readiness``
(docs/readiness.md); this module only reads the clock, maps requests and shapes responses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Reader
from api.db import Conn, ReadConn
from api.fields import Day, Sector, Text
from api.pagination import Paging, encode_cursor
from api.problems import COMMON, Problem, responses
from firmware_contracts.vocabulary import CODE
from hatang.settings import ReadinessSettings
from registry.readiness import Assessment, Counts, Gap, GapReason, Point, Status, service, zones

router = APIRouter(prefix="/v1/readiness", tags=["readiness"])

AreaQuery = Annotated[
    str | None, Query(pattern=CODE, max_length=63, description="Area code; its descendants are included.")
]
OrganisationQuery = Annotated[
    str | None, Query(pattern=CODE, max_length=63, description="Organisation slug (the assets' owner).")
]
DemoQuery = Annotated[
    bool,
    Query(
        description="Count demo assets (the Bắc Ninh demo and simulated fleets, `assets.demo`); "
        "false leaves them out of every figure."
    ),
]
# Longest history one request may ask for (ten years of days).
MAX_HISTORY_DAYS = 3660


class SectorReadiness(BaseModel):
    """One sector's readiness: counts, share, target, status, assets still needed, projection."""

    sector: Sector
    essential: int = Field(description="Essential assets in scope.")
    equipped: int = Field(description="Essential assets with an active device of a fitting model.")
    ready: int = Field(description="Equipped assets whose fitting device reported within the window.")
    ready_share: float | None = Field(description="ready / essential (null without essential assets).")
    equipped_share: float | None
    target_share: Decimal | None = Field(description="The target that applies on this day.")
    deadline: date | None
    target_source: str | None
    required: int | None = Field(description="Ready assets the target asks for: ceil(target × essential).")
    still_needed: int | None = Field(description="Assets that must still become ready; never negative.")
    status: Status
    pace_per_day: float | None = Field(description="Ready share gained per day (fitted on snapshots).")
    projected: date | None = Field(description="Day the target is met at this pace (null: not rising).")
    demo_essential: int | None = Field(
        default=None, description="Of `essential`, demo assets (live figures with demo data included)."
    )
    demo_ready: int | None = Field(default=None, description="Of `ready`, demo assets (same).")


class Totals(BaseModel):
    """All sectors together (no target of its own: the plan sets one per sector)."""

    essential: int
    equipped: int
    ready: int
    ready_share: float | None


class ReadinessPublic(BaseModel):
    """Readiness of every sector in one scope on one day."""

    as_of: date
    source: Literal["live", "snapshot"] = Field(description="live for today, snapshot for a past day.")
    area: str | None
    organisation: str | None
    freshness_window_h: float
    include_demo: bool = Field(description="Whether demo assets are counted.")
    sectors: list[SectorReadiness]
    total: Totals


class HistoryPoint(BaseModel):
    """One day's snapshot of a sector."""

    day: date
    essential: int
    equipped: int
    ready: int
    ready_share: float | None


class SectorHistoryPublic(BaseModel):
    """A sector's daily series and its assessment (with projection) on the last day of it."""

    sector: Sector
    points: list[HistoryPoint]
    latest: SectorReadiness | None


class HistoryPublic(BaseModel):
    """Daily series per sector from the snapshots."""

    start: date
    end: date
    area: str | None
    organisation: str | None
    sectors: list[SectorHistoryPublic]
    zones: list[HistoryPoint] | None = Field(
        description="The zones the 'all zones' target counts, per snapshot day (`essential`: zones, "
        "`equipped`: with an active device, `ready`: low-latency ready); null when scoped to an area "
        "or organisation (zones are the province's)."
    )


def _point(p: Point) -> HistoryPoint:
    return HistoryPoint(
        day=p.day,
        essential=p.counts.essential,
        equipped=p.counts.equipped,
        ready=p.counts.ready,
        ready_share=p.counts.ready / p.counts.essential if p.counts.essential else None,
    )


class GapPublic(BaseModel):
    """An essential asset that is not ready, and why."""

    model_config = ConfigDict(from_attributes=True)

    external_id: str
    name: str
    kind: str
    sector: Sector
    area: str
    organisation: str
    reason: GapReason
    devices: int
    active_devices: int
    fitting_devices: int
    last_seen: datetime | None = Field(description="Freshest report of its active fitting devices.")


class GapsPublic(BaseModel):
    """Counts by reason and sector, and one page of the assets."""

    summary: dict[GapReason, dict[Sector, int]]
    items: list[GapPublic]
    next_cursor: str | None


class TargetPublic(BaseModel):
    """A planned share of ready essential assets in a sector by a deadline."""

    model_config = ConfigDict(from_attributes=True)

    sector: Sector
    share: Decimal
    deadline: date
    source: str


class TargetCreate(BaseModel):
    """A new target (a later plan's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sector": "water", "share": "0.8", "deadline": "2030-12-31", "source": "next plan"}]
        },
    )

    sector: Sector
    share: Decimal = Field(gt=0, le=1, max_digits=5, decimal_places=4)
    deadline: Day
    source: Text = Field(default="", max_length=500)


class TargetUpdate(BaseModel):
    """A change to a target's share, deadline or source."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"share": "0.45"}]})

    share: Decimal | None = Field(default=None, gt=0, le=1, max_digits=5, decimal_places=4)
    deadline: Day | None = None
    source: Text | None = Field(default=None, max_length=500)


def _settings(request: Request) -> ReadinessSettings:
    found: ReadinessSettings = request.app.state.settings.readiness
    return found


def _sector(a: Assessment) -> SectorReadiness:
    t = a.target
    return SectorReadiness(
        sector=a.sector,
        essential=a.counts.essential,
        equipped=a.counts.equipped,
        ready=a.counts.ready,
        ready_share=a.ready_share,
        equipped_share=a.equipped_share,
        target_share=None if t is None else t.share,
        deadline=None if t is None else t.deadline,
        target_source=None if t is None else t.source,
        required=a.required,
        still_needed=a.still_needed,
        status=a.status,
        pace_per_day=a.pace_per_day,
        projected=a.projected,
    )


def _with_demo(row: SectorReadiness, demo: dict[str, Counts], known: bool) -> SectorReadiness:
    if not known:
        return row
    counts = demo.get(row.sector)
    row.demo_essential = 0 if counts is None else counts.essential
    row.demo_ready = 0 if counts is None else counts.ready
    return row


@router.get(
    "",
    summary="Readiness per sector against the plan's target",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def get_readiness(
    *,
    request: Request,
    principal: Reader,
    conn: ReadConn,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    at: Annotated[Day | None, Query(description="A past day (from its snapshot); today if absent.")] = None,
    include_demo: DemoQuery = True,
) -> ReadinessPublic:
    settings = _settings(request)
    report = await service.readiness(
        conn, settings=settings, now=datetime.now(UTC), at=at, area=area, organisation=organisation,
        include_demo=include_demo,
        cache=request.app.state.readiness_cache,
    )  # fmt: skip
    return readiness_public(report)


def readiness_public(report: service.Report) -> ReadinessPublic:
    """The public shape of a readiness report (also what the open data serves)."""
    demo = report.demo or {}
    essential = sum(a.counts.essential for a in report.sectors)
    ready = sum(a.counts.ready for a in report.sectors)
    return ReadinessPublic(
        as_of=report.as_of,
        source=report.source,
        area=report.area,
        organisation=report.organisation,
        freshness_window_h=report.freshness_window / timedelta(hours=1),
        include_demo=report.include_demo,
        sectors=[_with_demo(_sector(a), demo, report.demo is not None) for a in report.sectors],
        total=Totals(
            essential=essential,
            equipped=sum(a.counts.equipped for a in report.sectors),
            ready=ready,
            ready_share=ready / essential if essential else None,
        ),
    )


@router.get(
    "/history",
    summary="Daily readiness per sector from the snapshots, with a projection",
    responses=responses(*COMMON, "not-found"),
)
async def get_history(
    *,
    request: Request,
    principal: Reader,
    conn: ReadConn,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    start: Annotated[Day | None, Query(alias="from", description="First day; 90 days before `to`.")] = None,
    end: Annotated[Day | None, Query(alias="to", description="Last day; today if absent.")] = None,
    include_demo: DemoQuery = True,
) -> HistoryPublic:
    settings = _settings(request)
    last = end or service.today(now=datetime.now(UTC), settings=settings)
    first = start or last - timedelta(days=90)
    if first > last or (last - first).days > MAX_HISTORY_DAYS:
        raise Problem("validation", f"`from` must be before `to`, at most {MAX_HISTORY_DAYS} days apart")
    found = await service.history(
        conn, settings=settings, start=first, end=last, area=area, organisation=organisation,
        include_demo=include_demo,
    )  # fmt: skip
    return HistoryPublic(
        start=found.start,
        end=found.end,
        area=found.area,
        organisation=found.organisation,
        sectors=[
            SectorHistoryPublic(
                sector=s.sector,
                points=[_point(p) for p in s.points],
                latest=None if s.latest is None else _sector(s.latest),
            )
            for s in found.sectors
        ],
        zones=None
        if area is not None or organisation is not None
        else [_point(p) for p in await zones.series(conn, start=first, end=last)],
    )


@router.get(
    "/gaps",
    summary="Essential assets not ready, grouped by why",
    responses=responses(*COMMON, "not-found", "invalid-cursor"),
)
async def get_gaps(
    *,
    request: Request,
    principal: Reader,
    conn: ReadConn,
    params: Paging,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    sector: Sector | None = None,
    reason: GapReason | None = None,
    include_demo: DemoQuery = True,
) -> GapsPublic:
    if not principal.is_admin:
        # Other organisations' assets are invisible to non-admins: as unknown as a slug that is not.
        if organisation is not None and organisation != principal.organisation:
            raise Problem(
                "not-found", f"no organisation {organisation!r}", entity="organisation", key=organisation
            )
        organisation = principal.organisation
    found = await service.gaps(
        conn,
        settings=_settings(request),
        now=datetime.now(UTC),
        limit=params.limit,
        after=params.after,
        area=area,
        organisation=organisation,
        sector=sector,
        reason=reason,
        include_demo=include_demo,
    )
    return GapsPublic(
        summary=found.summary,
        items=[_gap(g) for g in found.items],
        next_cursor=None if found.next_after is None else encode_cursor(found.next_after),
    )


def _gap(gap: Gap) -> GapPublic:
    return GapPublic.model_validate(gap)


@router.get("/targets", summary="The targets readiness is measured against", responses=responses(*COMMON))
async def list_targets(principal: Reader, conn: ReadConn) -> list[TargetPublic]:
    return [TargetPublic.model_validate(t) for t in await service.targets(conn)]


@router.post(
    "/targets", status_code=201, summary="Record a target (admins)", responses=responses(*COMMON, "conflict")
)
async def create_target(body: TargetCreate, principal: Admin, conn: Conn) -> TargetPublic:
    target = await service.create_target(
        conn,
        actor=principal.actor,
        sector=body.sector,
        share=body.share,
        deadline=body.deadline,
        source=body.source,
    )
    return TargetPublic.model_validate(target)


@router.put(
    "/targets/{sector}/{deadline}",
    summary="Change a target (admins)",
    responses=responses(*COMMON, "not-found", "conflict"),
)
async def update_target(
    sector: Annotated[Sector, Path()],
    deadline: Annotated[date, Path(description="The target's current deadline.")],
    body: TargetUpdate,
    principal: Admin,
    conn: Conn,
) -> TargetPublic:
    target = await service.update_target(
        conn,
        actor=principal.actor,
        sector=sector,
        deadline=deadline,
        share=body.share,
        new_deadline=body.deadline,
        source=body.source,
    )
    return TargetPublic.model_validate(target)
