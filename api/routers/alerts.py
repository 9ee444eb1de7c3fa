"""``/v1/alerts``: alerts, filtered and paged; acknowledge and resolve by hand.

Every key reads its own organisation's alerts (admins every one; another organisation's alert is a
404); admins and operators of the owning organisation acknowledge and resolve. A thin shell over
``alerts.service`` and ``alerts.lifecycle`` (idempotent transitions, audited, notified).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from alerts import service, transition
from api.auth import Reader, Writer
from api.db import Conn
from api.fields import SLUG, Text
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import Sector
from registry.organisations import get_organisation

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]
State = Literal["open", "acknowledged", "resolved"]
Severity = Literal["critical", "major", "minor", "info"]


class AlertPublic(BaseModel):
    """One alert: which rule, about what, where, since when, and its lifecycle so far."""

    id: int
    rule_id: int
    rule: dict[str, str] = Field(description="The rule's name: {vi, en}.")
    kind: str
    organisation: str
    subject: dict[str, str] = Field(description="{kind: device|asset|organisation, id: external id}.")
    asset: str | None = Field(description="The asset concerned (a device's, or the subject itself).")
    sector: str | None
    area: str | None
    lat: float | None
    lon: float | None
    severity: str
    state: str
    value: float | None = Field(description="The reading (or dead letters per hour) that opened it.")
    since: datetime = Field(description="When the condition began (first breaching reading, last heard).")
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None

    @classmethod
    def of(cls, row: service.AlertRow) -> AlertPublic:
        """The public form of an alert row."""
        return cls(
            id=row.id, rule_id=row.rule_id, rule={"vi": row.rule_vi, "en": row.rule_en}, kind=row.kind,
            organisation=row.organisation, subject={"kind": row.subject_kind, "id": row.subject},
            asset=row.asset,
            sector=row.sector, area=row.area, lat=row.lat, lon=row.lon, severity=row.severity,
            state=row.state,
            value=row.value, since=row.since, opened_at=row.opened_at, acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by, acknowledge_note=row.acknowledge_note,
            resolved_at=row.resolved_at, resolved_by=row.resolved_by, resolve_note=row.resolve_note,
        )  # fmt: skip


class EventPublic(BaseModel):
    """One transition of an alert."""

    id: int
    at: datetime
    kind: str
    actor: str
    note: str


class AlertDetail(AlertPublic):
    """An alert with its events, oldest first."""

    events: list[EventPublic]


class TransitionRequest(BaseModel):
    """A note for the acknowledgement or resolution."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Đội kỹ thuật đang kiểm tra trạm bơm"}]}
    )

    note: Text = Field(default="", max_length=2000)


@router.get(
    "", summary="List alerts, newest first", responses=responses(*COMMON, "invalid-cursor", "not-found")
)
async def list_alerts(
    *,
    principal: Reader, conn: Conn, params: Paging,
    state: Annotated[list[State] | None, Query(description="Repeat for several.")] = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeat for several.")] = None,
    sector: Sector | None = None,
    area: Annotated[str | None, Query(pattern=SLUG, max_length=63, description="With descendants.")] = None,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    since: Annotated[datetime | None, Query(description="Opened at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Opened before.")] = None,
) -> Page[AlertPublic]:  # fmt: skip
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_alerts(
        conn, within=principal.within, states=list(state) if state else None,
        severities=list(severity) if severity else None, sector=sector, area=area, organisation_id=org_id,
        since=since, until=until, before=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=AlertPublic.of)


async def _detail(conn: Conn, alert_id: int, within: int | None) -> AlertDetail:
    row = await service.get_alert(conn, alert_id=alert_id, within=within)
    events = await service.alert_events(conn, alert_id=alert_id)
    return AlertDetail(
        **AlertPublic.of(row).model_dump(),
        events=[EventPublic(id=e.id, at=e.at, kind=e.kind, actor=e.actor, note=e.note) for e in events],
    )


@router.get("/{alert_id}", summary="Read an alert and its events", responses=responses(*COMMON, "not-found"))
async def get_alert(alert_id: _ID, principal: Reader, conn: Conn) -> AlertDetail:
    return await _detail(conn, alert_id, principal.within)


async def _transition(
    alert_id: int, to: str, body: TransitionRequest | None, principal: Writer, conn: Conn
) -> AlertDetail:
    row = await service.get_alert(conn, alert_id=alert_id, within=principal.within)
    org = await get_organisation(conn, slug=row.organisation)
    principal.check_write(org.id)
    await transition(
        conn, alert_id=alert_id, to=to, actor=principal.actor, note=body.note if body else "",
        visible_organisation_id=principal.within,
    )  # fmt: skip
    return await _detail(conn, alert_id, principal.within)


@router.post(
    "/{alert_id}/acknowledge", summary="Acknowledge an alert (idempotent)",
    responses=responses(*COMMON, "not-found"),
)  # fmt: skip
async def acknowledge(
    alert_id: _ID, principal: Writer, conn: Conn, body: TransitionRequest | None = None
) -> AlertDetail:
    return await _transition(alert_id, "acknowledged", body, principal, conn)


@router.post(
    "/{alert_id}/resolve",
    summary="Resolve an alert by hand (idempotent)",
    responses=responses(*COMMON, "not-found"),
)
async def resolve(
    alert_id: _ID, principal: Writer, conn: Conn, body: TransitionRequest | None = None
) -> AlertDetail:
    return await _transition(alert_id, "resolved", body, principal, conn)
