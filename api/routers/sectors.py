"""``/v1/sectors``: the sectors readiness is measured in — data, not code. Everyone reads; admins add.

A later plan adds a sector (the plan already names health and education) with ``POST /v1/sectors``
and a target with ``POST /v1/readiness/targets``; assets, device models and readiness then use it
with no change to hatang (docs/readiness.md, "Sectors").
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Reader
from api.db import Conn
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import SECTOR_CODE
from registry import sectors as service

router = APIRouter(prefix="/v1/sectors", tags=["sectors"])


class SectorCreate(BaseModel):
    """A new sector."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": "health", "name": "Y tế", "name_en": "Health", "position": 6,
                 "source": "a later plan"}
            ]
        },
    )  # fmt: skip

    code: str = Field(pattern=SECTOR_CODE, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    position: int = Field(default=100, ge=0, le=32767, description="Place in listings (the plan's: 1-5).")
    source: str = Field(default="", max_length=500)


class SectorPublic(BaseModel):
    """A sector."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    position: int
    source: str


@router.get("", summary="The sectors, in the plan's order", responses=responses(*COMMON))
async def list_sectors(principal: Reader, conn: Conn) -> list[SectorPublic]:
    return [SectorPublic.model_validate(s) for s in await service.list_sectors(conn)]


@router.post("", status_code=201, summary="Add a sector (admins)", responses=responses(*COMMON, "conflict"))
async def create_sector(body: SectorCreate, principal: Admin, conn: Conn) -> SectorPublic:
    created = await service.create_sector(
        conn,
        sector=service.Sector(
            code=body.code, name=body.name, name_en=body.name_en, position=body.position, source=body.source
        ),
        actor=principal.actor,
    )
    return SectorPublic.model_validate(created)
