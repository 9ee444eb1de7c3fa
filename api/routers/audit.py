"""``/v1/audit``: the audit trail (who created, changed, suspended or deleted what, and when). Admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.auth import Admin
from api.db import Conn
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import SLUG
from registry import audit as service

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryPublic(BaseModel):
    """One change: when, by which key (``api_key_id``; null for the command line), what."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    api_key_id: int | None
    actor: str
    organisation: str | None
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


@router.get(
    "",
    summary="Read the audit trail, newest first",
    responses=responses(*COMMON, "invalid-cursor", "not-found"),
)
async def list_audit(
    *,
    principal: Admin,
    conn: Conn,
    params: Paging,
    entity: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    api_key_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEntryPublic]:
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_entries(
        conn, entity=entity, entity_id=entity_id, action=action, api_key_id=api_key_id,
        organisation_id=org_id, since=since, until=until, before=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=AuditEntryPublic.model_validate)
