"""Who is calling: ``Authorization: Bearer <key>`` → :class:`Principal`, and what each role may do.

Roles: ``admin`` sees and changes everything city-wide; ``operator`` sees and changes its own
organisation's assets, devices and (operator/viewer) keys; ``viewer`` only reads its own
organisation's data. Other organisations' entities are invisible to non-admins (404, not 403, so
their existence does not leak).

Routers declare what they need with the annotated dependencies below::

    @router.get("/things")
    async def things(principal: Reader, conn: Conn) -> ...:      # any valid key
        rows = await list_things(conn, within=principal.within)  # None for admins, else own org

    @router.post("/things")
    async def create(body: ThingCreate, principal: Writer, conn: Conn) -> ...:  # admin or operator
        principal.check_write(organisation_id)                   # 403 for another org's entity

``Admin`` admits admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.db import pool
from api.gate import STATE_KEY
from api.problems import Problem
from registry.audit import Actor
from registry.keys import ApiKey, Role, authenticate
from registry.organisations import Organisation, get_organisation

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer htg_...`.")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: its key, organisation and role."""

    key_id: int
    organisation_id: int
    organisation: str
    role: Role
    name: str = ""

    @property
    def is_admin(self) -> bool:
        """City-wide rights."""
        return self.role == "admin"

    @property
    def within(self) -> int | None:
        """The one organisation whose data this caller may see; None means every organisation."""
        return None if self.is_admin else self.organisation_id

    @property
    def actor(self) -> Actor:
        """This caller as the audit trail names it."""
        label = f"key {self.key_id}" + (f" ({self.name})" if self.name else "")
        return Actor(name=label, api_key_id=self.key_id)

    def can_write(self, organisation_id: int) -> bool:
        """Whether this caller may change data owned by ``organisation_id``."""
        return self.is_admin or (self.role == "operator" and organisation_id == self.organisation_id)

    def check_write(self, organisation_id: int) -> None:
        """Raise a 403 problem unless this caller may change data of ``organisation_id``."""
        if not self.can_write(organisation_id):
            raise Problem("forbidden", f"a {self.role} key of {self.organisation!r} cannot change this")

    async def owner(self, conn: psycopg.AsyncConnection[Any], slug: str | None) -> Organisation:
        """The organisation to own something new: ``slug``, else the caller's own (404 outside its
        sight, 403 unless it may write there)."""
        org = await get_organisation(conn, slug=slug or self.organisation, within=self.within)
        self.check_write(org.id)
        return org

    async def organisation_filter(self, conn: psycopg.AsyncConnection[Any], slug: str | None) -> int | None:
        """The id behind an ``organisation`` filter (None: no filter; 404 outside the caller's sight)."""
        return None if slug is None else (await get_organisation(conn, slug=slug, within=self.within)).id


async def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    key: ApiKey | None = getattr(request.state, STATE_KEY, None)  # checked by api.gate before the body
    if key is None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem("unauthorized", "send `Authorization: Bearer <key>`")
        conn: psycopg.AsyncConnection[Any]
        async with pool(request).connection() as conn:
            key = await authenticate(conn, token=credentials.credentials)
    if key is None:
        raise Problem("unauthorized", "the key is unknown or revoked")
    return Principal(
        key_id=key.id, organisation_id=key.organisation_id, organisation=key.organisation, role=key.role,
        name=key.name,
    )  # fmt: skip


def require(*roles: Role) -> Any:
    """A dependency admitting callers whose role is one of ``roles`` (403 otherwise)."""

    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in roles:
            raise Problem(
                "forbidden", f"needs one of the roles {', '.join(roles)}; this key is {principal.role}"
            )
        return principal

    return Depends(dependency)


#: Any valid key.
Reader = Annotated[Principal, Depends(_principal)]
#: Admin or operator keys (operators further limited to their own organisation by ``check_write``).
Writer = Annotated[Principal, require("admin", "operator")]
#: Admin keys only.
Admin = Annotated[Principal, require("admin")]
