"""``/v1/readiness``: the plan's 40% target per sector and area — now, on a past day, over time.

Any valid key reads the figures and the history (aggregate counts, the statistics the plan has the
province publish); the gaps list assets, so non-admin keys see only their own organisation's.
Admins record and change targets. The arithmetic and the definitions live in ``registry.readiness``
(docs/readiness.md); this module only reads the clock, maps requests and shapes responses (the
shapes and their mapping live in ``api.routers.readiness_schemas``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.auth import Admin, Reader
from api.db import Conn, ReadConn
from api.fields import Day, Sector
from api.pagination import Paging, encode_cursor
from api.problems import COMMON, Problem, responses
from api.routers.readiness_schemas import (
    GapsPublic,
    HistoryPublic,
    ReadinessPublic,
    SectorHistoryPublic,
    TargetCreate,
    TargetPublic,
    TargetUpdate,
    gap_public,
    point_public,
    readiness_public,
    sector_public,
)
from firmware_contracts.vocabulary import CODE
from hatang.settings import ReadinessSettings
from registry.readiness import GapReason, service, zones

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


def _settings(request: Request) -> ReadinessSettings:
    found: ReadinessSettings = request.app.state.settings.readiness
    return found


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
                points=[point_public(p) for p in s.points],
                latest=None if s.latest is None else sector_public(s.latest),
            )
            for s in found.sectors
        ],
        zones=None
        if area is not None or organisation is not None
        else [point_public(p) for p in await zones.series(conn, start=first, end=last)],
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
        items=[gap_public(g) for g in found.items],
        next_cursor=None if found.next_after is None else encode_cursor(found.next_after),
    )


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
