"""``/open/v1``: the public, read-only open data surface — off unless ``HATANG_OPEN_DATA__ENABLED``.

Readiness per sector, area and zone (JSON and CSV; the CSV of ``/open/v1/readiness.csv`` is
``hatang readiness --format csv`` for the same day), a GeoJSON of essential assets with their
readiness status (no secrets; device identifiers only for organisations that allow it), and hourly
aggregates per area and metric. No key; every response is cacheable (a strong ``ETag`` of the body,
``Cache-Control: public, max-age``, ``304`` on ``If-None-Match``), carries the licence
(``Link: rel="license"``; JSON bodies also name it) and counts against a per-address rate limit
(the ``limits`` library's moving window; ``429`` with ``Retry-After`` beyond it). Switched off,
every path answers 404 as if it did not exist. docs/open-data.md has the decisions.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict

import timeseries
from api.auth import Admin
from api.db import ReadConn
from api.problems import COMMON, Problem, responses
from api.routers.readiness import AreaQuery
from api.routers.readiness_schemas import ReadinessPublic, readiness_public
from api.routers.zones import public as zones_public
from firmware_contracts.vocabulary import CODE, METRIC, SECTOR_CODE
from hatang.settings import OpenDataSettings, Settings
from registry.readiness import public, service, yearly, zones
from registry.readiness.export import AREAS_COLUMNS, sector_row, sectors_csv, to_csv, zones_csv
from timeseries import Bucket, Scope

LICENCES = {"CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/"}
AGGREGATE_COLUMNS = ("bucket", "area", "count", "avg", "min", "max", "last", "last_time")
# Longest range of hourly aggregates one request may ask for.
MAX_AGGREGATE_DAYS = 31


def _settings(request: Request) -> OpenDataSettings:
    found: Settings = request.app.state.settings
    return found.open_data


async def open_access(request: Request) -> None:
    """Answer 404 while open data is off; else count the request against its address's limit."""
    settings = _settings(request)
    if not settings.enabled:
        raise Problem("not-found", "no such resource")
    state = request.app.state
    if getattr(state, "open_limiter", None) is None:
        state.open_limiter = MovingWindowRateLimiter(MemoryStorage())
        state.open_limit = parse(settings.rate_limit)
    limiter: MovingWindowRateLimiter = state.open_limiter
    item: RateLimitItem = state.open_limit
    client = request.client.host if request.client else "unknown"
    if not await limiter.hit(item, "open", client):
        stats = await limiter.get_window_stats(item, "open", client)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise Problem(
            "rate-limited", f"at most {settings.rate_limit} per client", headers={"Retry-After": str(retry)}
        )


def _licence_headers(settings: OpenDataSettings) -> dict[str, str]:
    url = LICENCES.get(settings.licence, f"https://spdx.org/licenses/{settings.licence}.html")
    return {"Link": f'<{url}>; rel="license"', "Cache-Control": f"public, max-age={settings.max_age_s}"}


def cached(request: Request, body: bytes, media_type: str) -> Response:
    """``body`` with its ETag, Cache-Control and licence; 304 when the client already holds it."""
    settings = _settings(request)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Vary": "Accept-Encoding", **_licence_headers(settings)}
    held = [tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


def _json(request: Request, data: Any) -> Response:
    settings = _settings(request)
    document = {"licence": settings.licence, "attribution": settings.attribution, "data": data}
    return cached(request, orjson.dumps(document, default=_default), "application/json")


def _csv(request: Request, text: str) -> Response:
    return cached(request, (text + "\n").encode(), "text/csv; charset=utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


AtQuery = Annotated[date | None, Query(description="A past day (from its snapshot); today if absent.")]
Format = Literal["json", "csv"]

public_router = APIRouter(prefix="/open/v1", tags=["open data"], dependencies=[Depends(open_access)])
OPEN = (*COMMON, "not-found", "invalid-reference", "rate-limited")


@public_router.get("", summary="What the open data holds, under which licence", responses=responses(*OPEN))
async def index(request: Request) -> Response:
    datasets = {
        "readiness": "/open/v1/readiness[.csv]?at=&area=",
        "areas": "/open/v1/readiness/areas[.csv]?at=",
        "zones": "/open/v1/readiness/zones[.csv]?at=",
        "assets": "/open/v1/assets.geojson?area=&sector=&limit=&after=",
        "hourly": "/open/v1/aggregates/hourly[.csv]?metric=&area=&from=&to=",
    }
    return _json(request, {"datasets": datasets, "documentation": "/docs"})


async def _readiness(request: Request, conn: ReadConn, at: date | None, area: str | None) -> service.Report:
    found: Settings = request.app.state.settings
    return await service.readiness(conn, settings=found.readiness, now=datetime.now(UTC), at=at, area=area)


@public_router.get("/readiness", summary="Readiness per sector (JSON)", responses=responses(*OPEN))
async def readiness_json(
    request: Request, conn: ReadConn, at: AtQuery = None, area: AreaQuery = None
) -> Response:
    return _json(request, readiness_public(await _readiness(request, conn, at, area)))


@public_router.get(
    "/readiness.csv",
    summary="Readiness per sector (CSV, as `hatang readiness --format csv`)",
    responses=responses(*OPEN),
)
async def readiness_csv(
    request: Request, conn: ReadConn, at: AtQuery = None, area: AreaQuery = None
) -> Response:
    return _csv(request, sectors_csv((await _readiness(request, conn, at, area)).sectors))


async def _areas(request: Request, conn: ReadConn, at: date | None) -> list[tuple[str, service.Report]]:
    return [
        (code, await _readiness(request, conn, at, code)) for code, _, _, _ in await yearly.top_areas(conn)
    ]


@public_router.get(
    "/readiness/areas", summary="Readiness per area and sector (JSON)", responses=responses(*OPEN)
)
async def areas_json(request: Request, conn: ReadConn, at: AtQuery = None) -> Response:
    data: list[ReadinessPublic] = [readiness_public(report) for _, report in await _areas(request, conn, at)]
    return _json(request, data)


@public_router.get(
    "/readiness/areas.csv", summary="Readiness per area and sector (CSV)", responses=responses(*OPEN)
)
async def areas_csv(request: Request, conn: ReadConn, at: AtQuery = None) -> Response:
    rows = [
        {"area": code, **{k: v for k, v in sector_row(a).items() if k in AREAS_COLUMNS}}
        for code, report in await _areas(request, conn, at)
        for a in report.sectors
    ]
    return _csv(request, to_csv(rows, AREAS_COLUMNS))


async def _zones(request: Request, conn: ReadConn, at: date | None) -> zones.ZoneReport:
    found: Settings = request.app.state.settings
    return await zones.zone_readiness(conn, settings=found.readiness, now=datetime.now(UTC), at=at)


@public_router.get(
    "/readiness/zones", summary="Low-latency IoT readiness per zone (JSON)", responses=responses(*OPEN)
)
async def zones_json(request: Request, conn: ReadConn, at: AtQuery = None) -> Response:
    return _json(request, zones_public(await _zones(request, conn, at)))


@public_router.get("/readiness/zones.csv", summary="Readiness per zone (CSV)", responses=responses(*OPEN))
async def zones_csv_route(request: Request, conn: ReadConn, at: AtQuery = None) -> Response:
    return _csv(request, zones_csv((await _zones(request, conn, at)).zones))


@public_router.get(
    "/assets.geojson",
    summary="Essential assets with their readiness status (GeoJSON FeatureCollection, one page)",
    responses=responses(*OPEN),
)
async def assets_geojson(
    *,
    request: Request,
    conn: ReadConn,
    area: AreaQuery = None,
    sector: Annotated[str | None, Query(pattern=SECTOR_CODE, max_length=63)] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Assets per page (at most the configured maximum).")
    ] = None,
    after: Annotated[int | None, Query(ge=0, description="The `next_after` of the previous page.")] = None,
) -> Response:
    found: Settings = request.app.state.settings
    size = min(limit or found.open_data.max_features, found.open_data.max_features)
    area_ids = None if area is None else await public.area_ids(conn, code=area)
    since = datetime.now(UTC) - service.window(found.readiness)
    rows = await public.assets(
        conn, since=since, limit=size + 1, after=after, area_ids=area_ids, sector=sector
    )
    more = len(rows) > size
    rows = rows[:size]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [a.lon, a.lat]},
            "properties": {
                "id": a.external_id,
                "name": a.name,
                "kind": a.kind,
                "sector": a.sector,
                "area": a.area,
                "organisation": a.organisation,
                "status": a.status,
                "ready": a.status == "ready",
                **({} if a.devices is None else {"devices": a.devices}),
            },
        }
        for a in rows
    ]
    settings = found.open_data
    document = {
        "type": "FeatureCollection",
        "licence": settings.licence,
        "attribution": settings.attribution,
        "freshness_window_h": found.readiness.freshness_window_h,
        "next_after": rows[-1].id if more else None,
        "features": features,
    }
    return cached(request, orjson.dumps(document), "application/geo+json")


MetricQuery = Annotated[str, Query(pattern=METRIC, max_length=63, description="A catalogue metric.")]
FromQuery = Annotated[datetime | None, Query(alias="from", description="Inclusive; a day before `to`.")]
ToQuery = Annotated[datetime | None, Query(alias="to", description="Exclusive; now if absent.")]


@dataclass(frozen=True, slots=True)
class HourlyRows:
    """One metric's rows per area and hour, as the JSON items and the CSV lines show them."""

    metric: str
    items: list[dict[str, Any]]


async def _hourly(
    *,
    request: Request,
    conn: ReadConn,
    metric: MetricQuery,
    area: AreaQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
) -> HourlyRows:
    """The query of both hourly routes (a dependency, so its parameters are declared once)."""
    found: Settings = request.app.state.settings
    stop = end or datetime.now(UTC)
    first = start or stop - timedelta(days=1)
    if first >= stop or stop - first > timedelta(days=MAX_AGGREGATE_DAYS):
        raise Problem("validation", f"`from` must be before `to`, at most {MAX_AGGREGATE_DAYS} days apart")
    rows = await timeseries.aggregate(
        conn,
        metric=metric,
        group_by="area",
        bucket=Bucket.parse("1h"),
        start=first,
        end=stop,
        scope=Scope(area=area),
        origin=timeseries.check_origin(datetime.fromisoformat(found.timeseries.bucket_origin)),
        backend=request.app.state.timeseries_backend,
        max_rows=found.timeseries.max_aggregate_rows,
    )
    return HourlyRows(metric=metric, items=_aggregate_rows(rows))


Hourly = Annotated[HourlyRows, Depends(_hourly)]


def _aggregate_rows(rows: list[timeseries.AggregateRow]) -> list[dict[str, Any]]:
    return [
        {
            "bucket": r.bucket.isoformat(),
            "area": r.group,
            "count": r.count,
            "avg": r.avg,
            "min": r.min,
            "max": r.max,
            "last": r.last,
            "last_time": r.last_time.isoformat(),
        }
        for r in rows
    ]


@public_router.get(
    "/aggregates/hourly",
    summary="Hourly aggregates of one metric per area (JSON)",
    responses=responses(*OPEN),
)
async def hourly_json(request: Request, hourly: Hourly) -> Response:
    return _json(request, {"metric": hourly.metric, "bucket": "1h", "items": hourly.items})


@public_router.get(
    "/aggregates/hourly.csv",
    summary="Hourly aggregates of one metric per area (CSV)",
    responses=responses(*OPEN),
)
async def hourly_csv(request: Request, hourly: Hourly) -> Response:
    return _csv(request, to_csv(hourly.items, AGGREGATE_COLUMNS))


class OpenDataPermission(BaseModel):
    """Whether the open data may name an organisation's devices."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"device_ids": True}]})

    device_ids: bool


router = APIRouter()
router.include_router(public_router)


@router.put(
    "/v1/organisations/{slug}/open-data",
    tags=["open data"],
    summary="Let the open data name this organisation's devices, or not (admins)",
    responses=responses(*COMMON, "not-found"),
)
async def put_permission(
    slug: Annotated[str, Path(pattern=CODE, max_length=63)],
    body: OpenDataPermission,
    principal: Admin,
    conn: ReadConn,
) -> OpenDataPermission:
    found = await public.set_device_ids_public(conn, slug=slug, public=body.device_ids, actor=principal.actor)
    return OpenDataPermission(device_ids=found)
