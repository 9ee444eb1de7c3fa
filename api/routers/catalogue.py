"""``/v1/metrics``: the metric catalogue — names, units, ranges and labels in Vietnamese and English.

Read-only and the same for every caller (it is part of the public firmware contracts); the dashboard
names metrics and units with it. Served from the packaged catalogue, no database query.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Reader
from api.problems import COMMON, responses
from firmware_contracts import load_catalogue
from firmware_contracts.vocabulary import Sector

router = APIRouter(prefix="/v1/metrics", tags=["metric catalogue"])


class MetricPublic(BaseModel):
    """One canonical metric: every reading of it is stored in ``unit``."""

    metric: str
    sector: Sector
    unit: str = Field(description="Canonical unit, a SenML symbol (RFC 8428 §12.1, RFC 8798).")
    min: float = Field(description="Smallest plausible value; below is out_of_range.")
    max: float = Field(description="Largest plausible value.")
    label_vi: str = Field(description="The metric's name for people, in Vietnamese.")
    label_en: str = Field(description="The metric's name for people, in English.")
    description: str


@router.get(
    "", summary="The metric catalogue, with labels in Vietnamese and English", responses=responses(*COMMON)
)
async def list_metrics(principal: Reader) -> list[MetricPublic]:
    return [
        MetricPublic(
            metric=m.name,
            sector=m.sector,
            unit=m.unit,
            min=m.min,
            max=m.max,
            label_vi=m.label_vi,
            label_en=m.label_en,
            description=m.description,
        )
        for m in load_catalogue().values()
    ]
