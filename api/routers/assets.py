"""``/v1/assets``: essential-infrastructure items. Admins see and change all; operators their own
organisation's; viewers read their own organisation's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Reader, Writer
from api.db import Conn
from api.fields import ASSET_ID, KIND, SLUG, Metadata, Sector, Text
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import CODE
from registry import assets as service

router = APIRouter(prefix="/v1/assets", tags=["assets"])

AssetPath = Annotated[str, Path(pattern=ASSET_ID, max_length=128, description="The asset's external id.")]


class AssetCreate(BaseModel):
    """A new asset, owned by ``organisation`` (default: the caller's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "ps-tien-du-01", "organisation": "bn-water", "area": "tien-du",
                    "sector": "water", "kind": "pumping_station", "name": "Trạm bơm Tiên Du 1",
                    "lat": 21.123, "lon": 106.02, "essential": True,
                }
            ]
        },
    )  # fmt: skip

    external_id: str = Field(pattern=ASSET_ID, max_length=128)
    organisation: str | None = Field(default=None, pattern=SLUG, max_length=63)
    area: str = Field(pattern=CODE, max_length=63)
    sector: Sector
    kind: str = Field(pattern=KIND, max_length=63, description="intersection, substation, water_main, ...")
    name: Text = Field(default="", max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    essential: bool = Field(
        default=True, description="Counts as essential infrastructure for the 40% target."
    )
    metadata: Metadata = Field(default_factory=dict)
    demo: bool = Field(
        default=False,
        description="Demonstration data (a demo or simulated asset): labelled, and left out of readiness "
        "figures on request (`include_demo=false`).",
    )


class AssetUpdate(BaseModel):
    """Fields to change (absent fields stay; ``lat``/``lon`` may be set to null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"essential": False}]})

    area: str | None = Field(default=None, pattern=CODE, max_length=63)
    sector: Sector | None = None
    kind: str | None = Field(default=None, pattern=KIND, max_length=63)
    name: Text | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    essential: bool | None = None
    metadata: Metadata | None = None
    demo: bool | None = None


class AssetPublic(BaseModel):
    """An asset."""

    model_config = ConfigDict(from_attributes=True)

    external_id: str
    organisation: str
    area: str
    sector: Sector
    kind: str
    name: str
    lat: float | None
    lon: float | None
    essential: bool
    metadata: dict[str, object]
    demo: bool = Field(description="Demonstration data (a demo or simulated asset).")
    created_at: datetime
    updated_at: datetime


def _public(row: service.Asset) -> AssetPublic:
    return AssetPublic.model_validate(row)


@router.get("", summary="List assets", responses=responses(*COMMON, "invalid-cursor", "not-found"))
async def list_assets(
    *,
    principal: Reader,
    conn: Conn,
    params: Paging,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    area: Annotated[str | None, Query(pattern=CODE, max_length=63)] = None,
    sector: Sector | None = None,
    kind: Annotated[str | None, Query(pattern=KIND, max_length=63)] = None,
    essential: bool | None = None,
    demo: Annotated[bool | None, Query(description="Only demo (true) or only real (false) assets.")] = None,
) -> Page[AssetPublic]:
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_assets(
        conn, within=principal.within, organisation_id=org_id, area=area, sector=sector, kind=kind,
        essential=essential, demo=demo, after=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=_public)


@router.post(
    "", status_code=201, summary="Create an asset",
    responses=responses(*COMMON, "not-found", "conflict", "invalid-reference"),
)  # fmt: skip
async def create_asset(body: AssetCreate, principal: Writer, conn: Conn) -> AssetPublic:
    org = await principal.owner(conn, body.organisation)
    row = await service.create_asset(
        conn, external_id=body.external_id, organisation_id=org.id, area=body.area, sector=body.sector,
        kind=body.kind, name=body.name, lat=body.lat, lon=body.lon, essential=body.essential,
        metadata=body.metadata, demo=body.demo, actor=principal.actor,
    )  # fmt: skip
    return _public(row)


@router.get("/{external_id}", summary="Read an asset", responses=responses(*COMMON, "not-found"))
async def get_asset(external_id: AssetPath, principal: Reader, conn: Conn) -> AssetPublic:
    return _public(await service.get_asset(conn, external_id=external_id, within=principal.within))


@router.patch(
    "/{external_id}",
    summary="Change an asset",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def update_asset(
    external_id: AssetPath, body: AssetUpdate, principal: Writer, conn: Conn
) -> AssetPublic:
    asset = await service.get_asset(conn, external_id=external_id, within=principal.within)
    principal.check_write(asset.organisation_id)
    changes = body.model_dump(exclude_unset=True)
    for field in ("area", "sector", "kind", "name", "essential", "metadata", "demo"):
        if field in changes and changes[field] is None:
            del changes[field]  # null means "leave as it is" for fields that cannot be empty
    row = await service.update_asset(conn, external_id=external_id, changes=changes, within=principal.within,
                                     actor=principal.actor)  # fmt: skip
    return _public(row)


@router.delete(
    "/{external_id}", status_code=204, summary="Delete an asset no device is fitted to",
    responses=responses(*COMMON, "not-found", "conflict"),
)  # fmt: skip
async def delete_asset(external_id: AssetPath, principal: Writer, conn: Conn) -> Response:
    asset = await service.get_asset(conn, external_id=external_id, within=principal.within)
    principal.check_write(asset.organisation_id)
    await service.delete_asset(conn, external_id=external_id, within=principal.within, actor=principal.actor)
    return Response(status_code=204)
