"""``/v1/models``: the device models (firmware contracts) the registry knows. Read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from api.auth import Reader
from api.db import Conn
from api.fields import Sector
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import MODEL
from registry import models as service

router = APIRouter(prefix="/v1/models", tags=["device models"])



class ModelSummary(BaseModel):
    """A device model at one version."""

    model_config = ConfigDict(from_attributes=True)

    model: str
    version: int
    sector: Sector
    loaded_at: datetime


class ModelPublic(ModelSummary):
    """A device model and its whole contract."""

    contract: dict[str, Any]


@router.get("", summary="List device models", responses=responses(*COMMON, "invalid-cursor"))
async def list_models(
    *,
    principal: Reader,
    conn: Conn,
    params: Paging,
    sector: Sector | None = None,
    model: Annotated[str | None, Query(pattern=MODEL, max_length=100)] = None,
) -> Page[ModelSummary]:
    rows = await service.list_models(conn, sector=sector, model=model, after=params.after, limit=params.fetch)
    return page(rows, params, key=lambda r: r.id, convert=ModelSummary.model_validate)


@router.get(
    "/{model}/{version}", summary="Read a device model's contract", responses=responses(*COMMON, "not-found")
)
async def get_model(
    model: Annotated[str, Path(pattern=MODEL, max_length=100)],
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Reader,
    conn: Conn,
) -> ModelPublic:
    return ModelPublic.model_validate(await service.get_model(conn, model=model, version=version))
