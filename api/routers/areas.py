"""``/v1/areas``: the administrative hierarchy. Everyone reads; admins create, re-parent, retire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Reader
from api.db import Conn
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import CODE
from registry import areas as service

router = APIRouter(prefix="/v1/areas", tags=["areas"])

CodePath = Annotated[str, Path(pattern=CODE, max_length=63, description="The area's code.")]
Level = Literal["province", "district", "commune"]


class AreaCreate(BaseModel):
    """A new area under ``parent`` (none for a province)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": "vo-cuong", "name": "Phường Võ Cường", "level": "commune", "parent": "bac-ninh-city"}
            ]
        },
    )

    code: str = Field(pattern=CODE, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    level: Level
    parent: str | None = Field(default=None, pattern=CODE, max_length=63)


class AreaUpdate(BaseModel):
    """A rename, a re-parenting, or retiring (``retired: true``) / restoring an area."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"parent": "bac-ninh"}, {"retired": True}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    parent: str | None = Field(default=None, pattern=CODE, max_length=63)
    retired: bool | None = None


class AreaPublic(BaseModel):
    """An area and its current parent."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    level: Level
    parent: str | None
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None


class AreaLinkPublic(BaseModel):
    """A period with one parent (``valid_to`` null: current)."""

    model_config = ConfigDict(from_attributes=True)

    parent: str | None
    valid_from: datetime
    valid_to: datetime | None


def _public(row: service.Area) -> AreaPublic:
    return AreaPublic.model_validate(row)


@router.get("", summary="List areas", responses=responses(*COMMON, "invalid-cursor"))
async def list_areas(
    *,
    principal: Reader,
    conn: Conn,
    params: Paging,
    level: Level | None = None,
    parent: Annotated[str | None, Query(pattern=CODE, max_length=63)] = None,
    include_retired: bool = False,
) -> Page[AreaPublic]:
    rows = await service.list_areas(
        conn,
        level=level,
        parent=parent,
        include_retired=include_retired,
        after=params.after,
        limit=params.fetch,
    )
    return page(rows, params, key=lambda r: r.id, convert=_public)


@router.post(
    "",
    status_code=201,
    summary="Create an area",
    responses=responses(*COMMON, "conflict", "invalid-reference"),
)
async def create_area(body: AreaCreate, principal: Admin, conn: Conn) -> AreaPublic:
    spec = service.AreaSpec(
        code=body.code, name=body.name, level=body.level, parent=body.parent, name_en=body.name_en
    )
    return _public(await service.create_area(conn, spec=spec, actor=principal.actor))


@router.get("/{code}", summary="Read an area", responses=responses(*COMMON, "not-found"))
async def get_area(code: CodePath, principal: Reader, conn: Conn) -> AreaPublic:
    return _public(await service.get_area(conn, code=code))


@router.get(
    "/{code}/history", summary="Every parent an area has had", responses=responses(*COMMON, "not-found")
)
async def area_history(code: CodePath, principal: Reader, conn: Conn) -> list[AreaLinkPublic]:
    return [AreaLinkPublic.model_validate(link) for link in await service.area_history(conn, code=code)]


@router.patch(
    "/{code}",
    summary="Rename, re-parent, retire or restore an area (history is kept)",
    responses=responses(*COMMON, "not-found", "conflict", "invalid-reference"),
)
async def update_area(code: CodePath, body: AreaUpdate, principal: Admin, conn: Conn) -> AreaPublic:
    row = await service.update_area(
        conn, code=code, name=body.name, name_en=body.name_en, parent=body.parent, retired=body.retired,
        actor=principal.actor,
    )  # fmt: skip
    return _public(row)
