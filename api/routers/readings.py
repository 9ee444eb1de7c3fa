"""``/v1/readings``, ``/v1/readings/aggregate``, ``/v1/latest`` and ``/v1/device-health``: time-series reads.

A non-admin key sees only its own organisation's devices (an unknown or invisible device is a 404).
The SQL and the rollup logic live in ``timeseries`` (docs/dashboard.md); this module maps
requests, reads the backend the lifespan detected, and shapes responses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

import timeseries
from api.auth import Reader
from api.db import ReadConn
from api.fields import Sector
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import CODE
from hatang.settings import Settings
from timeseries import Backend, Bucket, GroupBy, Scope

router = APIRouter(tags=["readings"])

DEVICE = r"^[a-z0-9][a-z0-9_-]{1,63}$"
METRIC = r"^[a-z][a-z0-9_]{0,62}$"
SectorQuery = Annotated[Sector | None, Query(description="Only devices of this sector.")]
AreaQuery = Annotated[
    str | None, Query(pattern=CODE, max_length=63, description="Area code; its descendants are included.")
]
OrganisationQuery = Annotated[
    str | None, Query(pattern=CODE, max_length=63, description="Only this organisation's devices.")
]
DeviceQuery = Annotated[str | None, Query(pattern=DEVICE, max_length=64, description="One device.")]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Detect the rollup backend once (continuous aggregates exist only where ``ensure`` made them)."""
    database_url: str = app.state.database_url

    def detect() -> Backend:
        with psycopg.connect(database_url) as conn:
            return timeseries.backend_in_use(conn)

    app.state.timeseries_backend = await asyncio.to_thread(detect)
    yield


class ReadingPublic(BaseModel):
    """One stored reading."""

    model_config = ConfigDict(from_attributes=True)

    time: datetime
    value: float


class AggregatePublic(BaseModel):
    """One bucket of one group."""

    model_config = ConfigDict(from_attributes=True)

    bucket: datetime = Field(description="Start of the bucket.")
    group: str = Field(description="Device id, asset id, area code or sector, per `group_by`.")
    count: int
    sum: float
    avg: float
    min: float
    max: float
    last: float = Field(description="The value of the newest reading in the bucket.")
    last_time: datetime


class AggregatesPublic(BaseModel):
    """Aggregates of one metric per group and bucket, ordered by group then bucket."""

    metric: str
    group_by: GroupBy
    bucket: str
    start: datetime = Field(description="Start of the first whole bucket covering the range.")
    end: datetime = Field(description="End of the last whole bucket covering the range.")
    source: Backend = Field(description="`tables` (the platform's rollups) or `continuous` (aggregates).")
    items: list[AggregatePublic]


class LatestPublic(BaseModel):
    """The newest value of one metric of one device."""

    model_config = ConfigDict(from_attributes=True)

    device: str
    metric: str
    unit: str
    time: datetime
    value: float
    sector: Sector
    area: str | None
    asset: str | None
    organisation: str


class HealthPublic(BaseModel):
    """Devices per sector and state: online, silent (active, unseen in the window), suspended, provisioned."""

    window_s: float
    sectors: dict[Sector, dict[str, int]]


def _range(start: datetime | None, end: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    stop = end or datetime.now(UTC)
    return start or stop - default, stop


def _settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


@router.get(
    "/v1/readings",
    summary="Raw readings of one device's metric over a time range",
    responses=responses(*COMMON, "not-found", "invalid-reference", "invalid-cursor"),
)
async def get_readings(
    *,
    principal: Reader,
    conn: ReadConn,
    params: Paging,
    device: Annotated[str, Query(pattern=DEVICE, max_length=64, description="The device's id.")],
    metric: Annotated[str, Query(pattern=METRIC, max_length=63, description="A catalogue metric.")],
    start: Annotated[datetime | None, Query(description="Inclusive; a day before `end` if absent.")] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; now if absent.")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="Oldest or newest first.")] = "asc",
) -> Page[ReadingPublic]:
    first, stop = _range(start, end, timedelta(days=1))
    rows = await timeseries.raw_readings(
        conn, device=device, metric=metric, start=first, end=stop, limit=params.fetch, after=params.after,
        descending=order == "desc", visible_organisation_id=principal.within,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.key, convert=ReadingPublic.model_validate)


@router.get(
    "/v1/readings/aggregate",
    summary="time_bucket aggregates of one metric by device, asset, area or sector",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def get_aggregate(
    *,
    request: Request,
    principal: Reader,
    conn: ReadConn,
    metric: Annotated[str, Query(pattern=METRIC, max_length=63, description="A catalogue metric.")],
    bucket: Annotated[str, Query(max_length=12, description="1m to 1d: `5m`, `1h`, `1d`.")] = "1h",
    group_by: Annotated[GroupBy, Query(description="What one row aggregates.")] = "device",
    start: Annotated[datetime | None, Query(description="Inclusive; a day before `end` if absent.")] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; now if absent.")] = None,
    sector: SectorQuery = None,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    device: DeviceQuery = None,
) -> AggregatesPublic:
    settings = _settings(request).timeseries
    origin = timeseries.check_origin(datetime.fromisoformat(settings.bucket_origin))
    width = Bucket.parse(bucket)
    first, stop = _range(start, end, timedelta(days=1))
    backend: Backend = request.app.state.timeseries_backend
    rows = await timeseries.aggregate(
        conn, metric=metric, group_by=group_by, bucket=width, start=first, end=stop,
        scope=Scope(sector=sector, area=area, organisation=organisation, device=device,
                    visible_organisation_id=principal.within),
        origin=origin, backend=backend, max_rows=settings.max_aggregate_rows,
    )  # fmt: skip
    aligned = timeseries.align(first, stop, width, origin)
    return AggregatesPublic(
        metric=metric, group_by=group_by, bucket=width.label, start=aligned[0], end=aligned[1],
        source=backend, items=[AggregatePublic.model_validate(r) for r in rows],
    )  # fmt: skip


@router.get(
    "/v1/latest",
    summary="The latest value per device and metric",
    responses=responses(*COMMON, "invalid-cursor"),
)
async def get_latest(
    *,
    principal: Reader,
    conn: ReadConn,
    params: Paging,
    metric: Annotated[str | None, Query(pattern=METRIC, max_length=63, description="One metric.")] = None,
    sector: SectorQuery = None,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    device: DeviceQuery = None,
) -> Page[LatestPublic]:
    rows = await timeseries.latest(
        conn, metric=metric, limit=params.fetch, after=params.after,
        scope=Scope(sector=sector, area=area, organisation=organisation, device=device,
                    visible_organisation_id=principal.within),
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.key, convert=LatestPublic.model_validate)


@router.get(
    "/v1/device-health", summary="Devices per sector: online, silent, suspended", responses=responses(*COMMON)
)
async def get_device_health(
    *,
    principal: Reader,
    conn: ReadConn,
    window_s: Annotated[
        float, Query(gt=0, le=30 * 86400, description="Online: an active device seen within this.")
    ] = 900,
    sector: SectorQuery = None,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
) -> HealthPublic:
    counts = await timeseries.health(
        conn, window=timedelta(seconds=window_s),
        scope=Scope(sector=sector, area=area, organisation=organisation,
                    visible_organisation_id=principal.within),
    )  # fmt: skip
    sectors: dict[Any, dict[str, int]] = {}
    for row in counts:
        sectors.setdefault(row.sector, {})[row.state] = row.devices
    return HealthPublic(window_s=window_s, sectors=sectors)
