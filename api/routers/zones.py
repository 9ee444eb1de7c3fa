"""``/v1/zones`` and ``/v1/readiness/zones``: the zones of the plan's first IoT clause and their readiness.

Everyone reads; admins add zones. "Low-latency IoT ready" is defined in ``registry.readiness.latency``
(docs/readiness.md); this module only reads the clock, maps requests and shapes responses.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Reader
from api.db import Conn, ReadConn
from api.problems import COMMON, responses
from api.routers.readiness_schemas import progress
from firmware_contracts.vocabulary import CODE, KIND
from hatang.settings import ReadinessSettings
from registry import zones as registry_zones
from registry.readiness import Status
from registry.readiness import zones as service
from registry.readiness.latency import ZoneReason
from registry.readiness.zones import ZoneReport, ZoneStatus

router = APIRouter(tags=["zones"])



class ZoneCreate(BaseModel):
    """A new zone: a centre and a radius (which assets lie in it), its kind and areas."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "thuan-thanh-2", "name": "Khu công nghiệp Thuận Thành II",
                    "name_en": "Thuận Thành II Industrial Park", "kind": "industrial_park",
                    "lat": 21.05, "lon": 106.07, "radius_m": 1200, "areas": ["thuan-thanh"],
                }
            ]
        },
    )  # fmt: skip

    code: str = Field(pattern=CODE, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    kind: str = Field(pattern=KIND, max_length=63)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=50000)
    areas: list[Annotated[str, Field(pattern=CODE, max_length=63)]] = Field(
        default_factory=list, max_length=50
    )
    boundary: dict[str, Any] | None = Field(default=None, description="A GeoJSON Polygon, for the map.")
    approximate: bool = True
    source: str = Field(default="", max_length=500)


class ZonePublic(BaseModel):
    """A zone."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    kind: str
    in_target: bool = Field(description="Whether the plan's 'every zone' target counts this kind.")
    lat: float
    lon: float
    radius_m: float
    boundary: dict[str, Any] | None
    approximate: bool = Field(description="Position from public knowledge, not a survey.")
    source: str
    areas: list[str]


class ZoneReadiness(BaseModel):
    """One zone's low-latency IoT readiness."""

    code: str
    name: str
    name_en: str
    kind: str
    in_target: bool
    lat: float
    lon: float
    approximate: bool
    areas: list[str]
    active_devices: int = Field(description="Active devices on assets within the zone.")
    fresh_devices: int = Field(description="Those that reported within the freshness window.")
    messages: int = Field(description="Messages whose delivery latency was measured in the window.")
    latency_s: float | None = Field(
        description="The bucket bound at or under which the quantile of latency lies (null: none "
        "measured, or above the largest bound)."
    )
    ready: bool
    reason: ZoneReason | None


class ZoneTotals(BaseModel):
    """The zones the target counts: how many, with devices, ready; and the target's status."""

    zones: int
    equipped: int
    ready: int
    ready_share: float | None
    target_share: Decimal | None
    deadline: date | None
    target_source: str | None
    still_needed: int | None
    status: Status
    pace_per_day: float | None
    projected: date | None


class ZoneReadinessPublic(BaseModel):
    """Every zone's readiness on a day and the target over those it counts."""

    as_of: date
    source: Literal["live", "snapshot"]
    freshness_window_h: float
    latency_bound_s: float
    quantile: Decimal
    total: ZoneTotals
    zones: list[ZoneReadiness]


def _settings(request: Request) -> ReadinessSettings:
    found: ReadinessSettings = request.app.state.settings.readiness
    return found


def zone_readiness(z: ZoneStatus) -> ZoneReadiness:
    """The public shape of one zone's status (infinity, 'above every bound', as null)."""
    latency = None if z.latency_s is None or math.isinf(z.latency_s) else z.latency_s
    return ZoneReadiness(
        code=z.code, name=z.name, name_en=z.name_en, kind=z.kind, in_target=z.in_target, lat=z.lat,
        lon=z.lon, approximate=z.approximate, areas=z.areas, active_devices=z.active_devices,
        fresh_devices=z.fresh_devices, messages=z.messages, latency_s=latency, ready=z.ready, reason=z.reason,
    )  # fmt: skip


def public(report: ZoneReport) -> ZoneReadinessPublic:
    """The public shape of a zone report."""
    a = report.assessment
    return ZoneReadinessPublic(
        as_of=report.as_of,
        source=report.source,
        freshness_window_h=report.freshness_window / timedelta(hours=1),
        latency_bound_s=report.latency_bound_s,
        quantile=report.quantile,
        total=ZoneTotals(zones=a.counts.essential, **progress(a)),
        zones=[zone_readiness(z) for z in report.zones],
    )


@router.get(
    "/v1/readiness/zones",
    tags=["readiness"],
    summary="Low-latency IoT readiness of every zone against the plan's 'all zones' target",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def get_zone_readiness(
    *,
    request: Request,
    principal: Reader,
    conn: ReadConn,
    at: Annotated[date | None, Query(description="A past day (from its snapshot); today if absent.")] = None,
) -> ZoneReadinessPublic:
    report = await service.zone_readiness(conn, settings=_settings(request), now=datetime.now(UTC), at=at)
    return public(report)


@router.get(
    "/v1/zones", summary="The zones (high-tech, IT parks, research, industrial)", responses=responses(*COMMON)
)
async def list_zones(
    principal: Reader,
    conn: Conn,
    kind: Annotated[str | None, Query(pattern=KIND, max_length=63)] = None,
) -> list[ZonePublic]:
    return [ZonePublic.model_validate(z) for z in await registry_zones.list_zones(conn, kind=kind)]


@router.post(
    "/v1/zones",
    status_code=201,
    summary="Add a zone (admins)",
    responses=responses(*COMMON, "conflict", "invalid-reference"),
)
async def create_zone(body: ZoneCreate, principal: Admin, conn: Conn) -> ZonePublic:
    zone = await registry_zones.create_zone(
        conn,
        spec=registry_zones.ZoneSpec(
            code=body.code,
            name=body.name,
            name_en=body.name_en,
            kind=body.kind,
            lat=body.lat,
            lon=body.lon,
            radius_m=body.radius_m,
            areas=tuple(body.areas),
            boundary=body.boundary,
            approximate=body.approximate,
            source=body.source,
        ),
        actor=principal.actor,
    )
    return ZonePublic.model_validate(zone)
