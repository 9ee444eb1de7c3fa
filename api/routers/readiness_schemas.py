"""The shapes ``/v1/readiness`` reads and writes, and the mapping of ``registry.readiness`` values to them.

Owns the pydantic schemas of readiness, its history, gaps and targets, and the functions that turn
the registry's reports into them (:func:`readiness_public` is also what the open data serves). No
routes, no queries, no clock here: ``api.routers.readiness`` does the rest.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.fields import Day, Sector, Text
from registry.readiness import Assessment, Counts, Gap, GapReason, Point, Status, service


class SectorReadiness(BaseModel):
    """One sector's readiness: counts, share, target, status, assets still needed, projection."""

    sector: Sector
    essential: int = Field(description="Essential assets in scope.")
    equipped: int = Field(description="Essential assets with an active device of a fitting model.")
    ready: int = Field(description="Equipped assets whose fitting device reported within the window.")
    ready_share: float | None = Field(description="ready / essential (null without essential assets).")
    equipped_share: float | None
    target_share: Decimal | None = Field(description="The target that applies on this day.")
    deadline: date | None
    target_source: str | None
    required: int | None = Field(description="Ready assets the target asks for: ceil(target × essential).")
    still_needed: int | None = Field(description="Assets that must still become ready; never negative.")
    status: Status
    pace_per_day: float | None = Field(description="Ready share gained per day (fitted on snapshots).")
    projected: date | None = Field(description="Day the target is met at this pace (null: not rising).")
    demo_essential: int | None = Field(
        default=None, description="Of `essential`, demo assets (live figures with demo data included)."
    )
    demo_ready: int | None = Field(default=None, description="Of `ready`, demo assets (same).")


class Totals(BaseModel):
    """All sectors together (no target of its own: the plan sets one per sector)."""

    essential: int
    equipped: int
    ready: int
    ready_share: float | None


class ReadinessPublic(BaseModel):
    """Readiness of every sector in one scope on one day."""

    as_of: date
    source: Literal["live", "snapshot"] = Field(description="live for today, snapshot for a past day.")
    area: str | None
    organisation: str | None
    freshness_window_h: float
    include_demo: bool = Field(description="Whether demo assets are counted.")
    sectors: list[SectorReadiness]
    total: Totals


class HistoryPoint(BaseModel):
    """One day's snapshot of a sector."""

    day: date
    essential: int
    equipped: int
    ready: int
    ready_share: float | None


class SectorHistoryPublic(BaseModel):
    """A sector's daily series and its assessment (with projection) on the last day of it."""

    sector: Sector
    points: list[HistoryPoint]
    latest: SectorReadiness | None


class HistoryPublic(BaseModel):
    """Daily series per sector from the snapshots."""

    start: date
    end: date
    area: str | None
    organisation: str | None
    sectors: list[SectorHistoryPublic]
    zones: list[HistoryPoint] | None = Field(
        description="The zones the 'all zones' target counts, per snapshot day (`essential`: zones, "
        "`equipped`: with an active device, `ready`: low-latency ready); null when scoped to an area "
        "or organisation (zones are the province's)."
    )


def point_public(p: Point) -> HistoryPoint:
    return HistoryPoint(
        day=p.day,
        essential=p.counts.essential,
        equipped=p.counts.equipped,
        ready=p.counts.ready,
        ready_share=p.counts.ready / p.counts.essential if p.counts.essential else None,
    )


class GapPublic(BaseModel):
    """An essential asset that is not ready, and why."""

    model_config = ConfigDict(from_attributes=True)

    external_id: str
    name: str
    kind: str
    sector: Sector
    area: str
    organisation: str
    reason: GapReason
    devices: int
    active_devices: int
    fitting_devices: int
    last_seen: datetime | None = Field(description="Freshest report of its active fitting devices.")


class GapsPublic(BaseModel):
    """Counts by reason and sector, and one page of the assets."""

    summary: dict[GapReason, dict[Sector, int]]
    items: list[GapPublic]
    next_cursor: str | None


class TargetPublic(BaseModel):
    """A planned share of ready essential assets in a sector by a deadline."""

    model_config = ConfigDict(from_attributes=True)

    sector: Sector
    share: Decimal
    deadline: date
    source: str


class TargetCreate(BaseModel):
    """A new target (a later plan's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sector": "water", "share": "0.8", "deadline": "2030-12-31", "source": "next plan"}]
        },
    )

    sector: Sector
    share: Decimal = Field(gt=0, le=1, max_digits=5, decimal_places=4)
    deadline: Day
    source: Text = Field(default="", max_length=500)


class TargetUpdate(BaseModel):
    """A change to a target's share, deadline or source."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"share": "0.45"}]})

    share: Decimal | None = Field(default=None, gt=0, le=1, max_digits=5, decimal_places=4)
    deadline: Day | None = None
    source: Text | None = Field(default=None, max_length=500)


def progress(a: Assessment) -> dict[str, Any]:
    """The fields a sector's readiness and the zones' total both show of an assessment: counts,
    share, target (null without one) and pace (the models validate them)."""
    t = a.target
    return {
        "equipped": a.counts.equipped,
        "ready": a.counts.ready,
        "ready_share": a.ready_share,
        "target_share": None if t is None else t.share,
        "deadline": None if t is None else t.deadline,
        "target_source": None if t is None else t.source,
        "still_needed": a.still_needed,
        "status": a.status,
        "pace_per_day": a.pace_per_day,
        "projected": a.projected,
    }


def sector_public(a: Assessment) -> SectorReadiness:
    return SectorReadiness(
        sector=a.sector,
        essential=a.counts.essential,
        equipped_share=a.equipped_share,
        required=a.required,
        **progress(a),
    )


def with_demo(row: SectorReadiness, demo: dict[str, Counts], known: bool) -> SectorReadiness:
    if not known:
        return row
    counts = demo.get(row.sector)
    row.demo_essential = 0 if counts is None else counts.essential
    row.demo_ready = 0 if counts is None else counts.ready
    return row


def readiness_public(report: service.Report) -> ReadinessPublic:
    """The public shape of a readiness report (also what the open data serves)."""
    demo = report.demo or {}
    essential = sum(a.counts.essential for a in report.sectors)
    ready = sum(a.counts.ready for a in report.sectors)
    return ReadinessPublic(
        as_of=report.as_of,
        source=report.source,
        area=report.area,
        organisation=report.organisation,
        freshness_window_h=report.freshness_window / timedelta(hours=1),
        include_demo=report.include_demo,
        sectors=[with_demo(sector_public(a), demo, report.demo is not None) for a in report.sectors],
        total=Totals(
            essential=essential,
            equipped=sum(a.counts.equipped for a in report.sectors),
            ready=ready,
            ready_share=ready / essential if essential else None,
        ),
    )


def gap_public(gap: Gap) -> GapPublic:
    return GapPublic.model_validate(gap)
