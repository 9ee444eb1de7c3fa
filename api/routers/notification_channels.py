"""``/v1/notification-channels``: where an organisation's alert notifications go, and their delivery log.

Webhooks (``https://`` or ``http://`` URL; each gets a signing secret, shown once at creation) and
e-mail addresses. Admins and operators of the owning organisation manage them; every key of the
organisation reads them and their delivery log. docs/alerts.md describes signing and delivery.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts import service
from api.auth import Reader, Writer
from api.db import Conn
from api.fields import SLUG
from api.pagination import Page, Paging, page
from api.problems import COMMON, Problem, responses
from hatang.settings import Settings

router = APIRouter(prefix="/v1/notification-channels", tags=["alerts"])

_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]
_EMAIL = r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$"


class ChannelCreate(BaseModel):
    """A webhook URL or an e-mail address of ``organisation`` (default: the caller's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"kind": "email", "target": "truc-ban@bn-water.example.vn", "min_severity": "major"}]
        },
    )

    kind: Literal["webhook", "email"]
    target: str = Field(min_length=3, max_length=2000, description="The webhook URL or the e-mail address.")
    min_severity: Literal["critical", "major", "minor", "info"] = "info"
    organisation: str | None = Field(default=None, pattern=SLUG, max_length=63)

    @model_validator(mode="after")
    def _target(self) -> Self:
        if self.kind == "webhook":
            parts = urlsplit(self.target)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.username
                or parts.password
            ):
                raise ValueError("a webhook target is an http(s) URL without credentials")
        elif not re.fullmatch(_EMAIL, self.target):
            raise ValueError("not an e-mail address")
        return self


class ChannelPublic(BaseModel):
    """A channel (never its secret)."""

    id: int
    organisation: str
    kind: str
    target: str
    min_severity: str
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, row: service.ChannelRow) -> ChannelPublic:
        """The public form of a channel row."""
        return cls(
            id=row.id, organisation=row.organisation, kind=row.kind, target=row.target,
            min_severity=row.min_severity, enabled=row.enabled, created_at=row.created_at,
        )  # fmt: skip


class ChannelCreated(ChannelPublic):
    """A new channel; a webhook's signing secret is shown this once."""

    secret: str | None = Field(description="HMAC-SHA256 key of X-Hatang-Signature (webhooks); shown once.")


class DeliveryPublic(BaseModel):
    """One delivery attempt."""

    id: int
    outbox_id: int
    alert_id: int
    event: str
    at: datetime
    ok: bool
    status: int | None
    error: str | None


@router.get("", summary="List notification channels", responses=responses(*COMMON, "invalid-cursor"))
async def list_channels(principal: Reader, conn: Conn, params: Paging) -> Page[ChannelPublic]:
    rows = await service.list_channels(conn, within=principal.within, after=params.after, limit=params.fetch)
    return page(rows, params, key=lambda r: r.id, convert=ChannelPublic.of)


def _private(host: str) -> bool:
    """Whether ``host`` names this machine or a private network by itself (an address or localhost)."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


@router.post(
    "", status_code=201, summary="Add a notification channel", responses=responses(*COMMON, "not-found")
)
async def create_channel(
    request: Request, body: ChannelCreate, principal: Writer, conn: Conn
) -> ChannelCreated:
    settings: Settings = request.app.state.settings
    host = urlsplit(body.target).hostname or ""
    if body.kind == "webhook" and not settings.alerts.webhook_private and _private(host):
        detail = "a webhook may not name a loopback or private address (HATANG_ALERTS__WEBHOOK_PRIVATE)"
        raise Problem("validation", detail, errors=[{"loc": ["body", "target"], "msg": detail}])
    org = await principal.owner(conn, body.organisation)
    row, secret = await service.create_channel(
        conn, organisation_id=org.id, kind=body.kind, target=body.target, min_severity=body.min_severity,
        actor=principal.actor,
    )  # fmt: skip
    return ChannelCreated(**ChannelPublic.of(row).model_dump(), secret=secret)


@router.get("/{channel_id}", summary="Read a notification channel", responses=responses(*COMMON, "not-found"))
async def get_channel(channel_id: _ID, principal: Reader, conn: Conn) -> ChannelPublic:
    return ChannelPublic.of(await service.get_channel(conn, channel_id=channel_id, within=principal.within))


@router.delete(
    "/{channel_id}", status_code=204, summary="Disable a notification channel",
    responses=responses(*COMMON, "not-found"),
)  # fmt: skip
async def delete_channel(channel_id: _ID, principal: Writer, conn: Conn) -> Response:
    channel = await service.get_channel(conn, channel_id=channel_id, within=principal.within)
    principal.check_write(channel.organisation_id)
    await service.delete_channel(conn, channel=channel, actor=principal.actor)
    return Response(status_code=204)


@router.get(
    "/{channel_id}/deliveries", summary="The channel's delivery log, newest first",
    responses=responses(*COMMON, "not-found", "invalid-cursor"),
)  # fmt: skip
async def list_deliveries(
    channel_id: _ID, principal: Reader, conn: Conn, params: Paging
) -> Page[DeliveryPublic]:
    await service.get_channel(conn, channel_id=channel_id, within=principal.within)
    rows = await service.list_deliveries(conn, channel_id=channel_id, before=params.after, limit=params.fetch)
    return page(
        rows, params, key=lambda r: r.id,
        convert=lambda r: DeliveryPublic(
            id=r.id, outbox_id=r.outbox_id, alert_id=r.alert_id, event=r.event, at=r.at, ok=r.ok,
            status=r.status, error=r.error,
        ),
    )  # fmt: skip
