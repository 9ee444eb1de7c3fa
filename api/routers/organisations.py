"""``/v1/organisations``: the utilities and departments (admins manage them; others see their own)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Reader
from api.db import Conn
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import SLUG
from registry import organisations as service

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])

SlugPath = Annotated[str, Path(pattern=SLUG, max_length=63, description="The organisation's slug.")]


class OrganisationCreate(BaseModel):
    """A new organisation."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"slug": "bn-water", "name": "Nước sạch Bắc Ninh"}]}
    )

    slug: str = Field(pattern=SLUG, max_length=63)
    name: str = Field(min_length=1, max_length=200)


class OrganisationUpdate(BaseModel):
    """A rename."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class OrganisationPublic(BaseModel):
    """An organisation."""

    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    created_at: datetime
    updated_at: datetime


def _public(row: service.Organisation) -> OrganisationPublic:
    return OrganisationPublic.model_validate(row)


@router.get("", summary="List organisations", responses=responses(*COMMON, "invalid-cursor"))
async def list_organisations(principal: Reader, conn: Conn, params: Paging) -> Page[OrganisationPublic]:
    rows = await service.list_organisations(
        conn, within=principal.within, after=params.after, limit=params.fetch
    )
    return page(rows, params, key=lambda r: r.id, convert=_public)


@router.post("", status_code=201, summary="Create an organisation", responses=responses(*COMMON, "conflict"))
async def create_organisation(body: OrganisationCreate, principal: Admin, conn: Conn) -> OrganisationPublic:
    return _public(
        await service.create_organisation(conn, slug=body.slug, name=body.name, actor=principal.actor)
    )


@router.get("/{slug}", summary="Read an organisation", responses=responses(*COMMON, "not-found"))
async def get_organisation(slug: SlugPath, principal: Reader, conn: Conn) -> OrganisationPublic:
    return _public(await service.get_organisation(conn, slug=slug, within=principal.within))


@router.patch("/{slug}", summary="Rename an organisation", responses=responses(*COMMON, "not-found"))
async def update_organisation(
    slug: SlugPath, body: OrganisationUpdate, principal: Admin, conn: Conn
) -> OrganisationPublic:
    row = await service.update_organisation(
        conn, slug=slug, name=body.name, within=None, actor=principal.actor
    )
    return _public(row)


@router.delete(
    "/{slug}", status_code=204, summary="Delete an organisation that owns nothing",
    responses=responses(*COMMON, "not-found", "conflict"),
)  # fmt: skip
async def delete_organisation(slug: SlugPath, principal: Admin, conn: Conn) -> Response:
    await service.delete_organisation(conn, slug=slug, actor=principal.actor)
    return Response(status_code=204)
