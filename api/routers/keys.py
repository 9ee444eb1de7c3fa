"""``/v1/keys``: API keys. Admins manage every key; operators their own organisation's operator and
viewer keys; viewers none. A key's token is in the creation response only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Writer
from api.db import Conn
from api.fields import Text
from api.pagination import Page, Paging, page
from api.problems import COMMON, Problem, responses
from firmware_contracts.vocabulary import SLUG
from registry import keys as service
from registry.organisations import get_organisation

router = APIRouter(prefix="/v1/keys", tags=["keys"])

KeyId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The key's id.")]


class KeyCreate(BaseModel):
    """A new key: for ``organisation`` (default: the caller's) with ``role``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"organisation": "bn-water", "role": "operator", "name": "ops"}]},
    )

    organisation: str | None = Field(default=None, pattern=SLUG, max_length=63)
    role: Literal["admin", "operator", "viewer"]
    name: Text = Field(default="", max_length=200)


class KeyPublic(BaseModel):
    """A key, without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation: str
    role: Literal["admin", "operator", "viewer"]
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyIssued(KeyPublic):
    """A new key and its token: shown here once, never again."""

    token: str = Field(description="Send as `Authorization: Bearer <token>`. Not retrievable later.")


def _public(row: service.ApiKey) -> KeyPublic:
    return KeyPublic.model_validate(row)


@router.get("", summary="List API keys", responses=responses(*COMMON, "invalid-cursor", "not-found"))
async def list_keys(
    *,
    principal: Writer,
    conn: Conn,
    params: Paging,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    role: Literal["admin", "operator", "viewer"] | None = None,
    include_revoked: bool = False,
) -> Page[KeyPublic]:
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_keys(
        conn, within=principal.within, organisation_id=org_id, role=role, include_revoked=include_revoked,
        after=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=_public)


@router.post("", status_code=201, summary="Issue an API key", responses=responses(*COMMON, "not-found"))
async def create_key(body: KeyCreate, principal: Writer, conn: Conn) -> KeyIssued:
    slug = body.organisation or principal.organisation
    org = await get_organisation(conn, slug=slug, within=principal.within)
    principal.check_write(org.id)
    if not principal.is_admin and body.role == "admin":
        raise Problem("forbidden", "only an admin can issue admin keys")
    issued = await service.create_key(conn, organisation_id=org.id, role=body.role, name=body.name,
                                      actor=principal.actor)  # fmt: skip
    return KeyIssued(**_public(issued.key).model_dump(), token=issued.token)


@router.get("/{key_id}", summary="Read an API key", responses=responses(*COMMON, "not-found"))
async def get_key(key_id: KeyId, principal: Writer, conn: Conn) -> KeyPublic:
    return _public(await service.get_key(conn, key_id=key_id, within=principal.within))


@router.delete(
    "/{key_id}", status_code=204, summary="Revoke an API key (never an organisation's last admin key)",
    responses=responses(*COMMON, "not-found", "conflict"),
)
async def revoke_key(key_id: KeyId, principal: Writer, conn: Conn) -> Response:
    key = await service.get_key(conn, key_id=key_id, within=principal.within)
    if not principal.is_admin and key.role == "admin":
        raise Problem("forbidden", "only an admin can revoke admin keys")
    await service.revoke_key(conn, key_id=key_id, within=principal.within, actor=principal.actor)
    return Response(status_code=204)
