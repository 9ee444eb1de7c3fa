"""API keys: issued to an organisation with a role, stored hashed, shown once, revocable.

A key reads ``htg_<prefix>_<secret>``: the prefix (public, unique) finds the row, the secret is only
stored as its SHA-256 (a 256-bit random secret needs no slow hash). Owns issuing, verifying, listing
and revoking; what a role may do is the API's business.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

from hatang.db import fetch_row
from registry.audit import Actor, record
from registry.errors import ConflictError, NotFoundError

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "viewer")

_TOKEN = re.compile(r"htg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored (never its secret)."""

    id: int
    organisation_id: int
    organisation: str
    role: Role
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key and its token, which exists only here: it is shown once and never stored."""

    key: ApiKey
    token: str


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


_SELECT = """
    SELECT k.id, k.organisation_id, o.slug AS organisation, k.role, k.prefix, k.name, k.created_at,
           k.revoked_at, k.last_used_at
    FROM api_keys k JOIN organisations o ON o.id = k.organisation_id
"""


async def create_key(
    conn: psycopg.AsyncConnection[Any], *, organisation_id: int, role: Role, name: str, actor: Actor
) -> IssuedKey:
    """Issue a key for ``organisation_id`` with ``role``."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO api_keys (organisation_id, role, prefix, secret_hash, name)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (organisation_id, role, prefix, _digest(secret), name),
        )
        row = await cur.fetchone()
        assert row is not None
        key = await get_key(conn, key_id=row[0])
        await record(
            conn,
            actor=actor,
            action="create",
            entity="api_key",
            entity_id=str(key.id),
            organisation_id=organisation_id,
            detail={"role": role, "name": name, "prefix": prefix},
        )
    return IssuedKey(key=key, token=f"htg_{prefix}_{secret}")


async def authenticate(conn: psycopg.AsyncConnection[Any], *, token: str) -> ApiKey | None:
    """The unrevoked key ``token`` belongs to, or None; records its use (at most once a minute)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    prefix, secret = match.groups()
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT id, secret_hash FROM api_keys WHERE prefix = %s AND revoked_at IS NULL", (prefix,)
        )
        row = await cur.fetchone()
        if row is None or not hmac.compare_digest(bytes(row[1]), _digest(secret)):
            return None
        await cur.execute(
            "UPDATE api_keys SET last_used_at = now()"
            " WHERE id = %s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            (row[0],),
        )
    return await get_key(conn, key_id=row[0])


_TICKET = re.compile(r"tkt_[A-Za-z0-9_-]{43}")


async def issue_stream_ticket(conn: psycopg.AsyncConnection[Any], *, key_id: int, ttl_s: float) -> str:
    """A single-use ticket standing for key ``key_id`` for ``ttl_s`` seconds (stored as its SHA-256)."""
    ticket = f"tkt_{secrets.token_urlsafe(32)}"
    async with conn.transaction():
        # Expired tickets are cleared as new ones are issued: the table holds seconds' worth.
        await conn.execute("DELETE FROM stream_tickets WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO stream_tickets (digest, api_key_id, expires_at)"
            " VALUES (%s, %s, now() + make_interval(secs => %s))",
            (_digest(ticket), key_id, ttl_s),
        )
    return ticket


async def redeem_stream_ticket(conn: psycopg.AsyncConnection[Any], *, ticket: str) -> ApiKey | None:
    """The unrevoked key an unexpired ``ticket`` stands for, or None; the ticket is used up either way."""
    if _TICKET.fullmatch(ticket) is None:
        return None
    cur = await conn.execute(
        "DELETE FROM stream_tickets t USING api_keys k WHERE t.digest = %s AND k.id = t.api_key_id"
        " RETURNING t.api_key_id, t.expires_at > now() AND k.revoked_at IS NULL",
        (_digest(ticket),),
    )
    row = await cur.fetchone()
    if row is None or not row[1]:
        return None
    return await get_key(conn, key_id=row[0])


async def get_key(conn: psycopg.AsyncConnection[Any], *, key_id: int, within: int | None = None) -> ApiKey:
    """The key ``key_id`` (NotFoundError if absent or outside ``within``)."""
    return await fetch_row(
        conn,
        ApiKey,
        _SELECT + " WHERE k.id = %s AND (%s::bigint IS NULL OR k.organisation_id = %s)",
        (key_id, within, within),
        missing=NotFoundError("api_key", str(key_id)),
    )


async def list_keys(
    conn: psycopg.AsyncConnection[Any],
    *,
    within: int | None,
    organisation_id: int | None = None,
    role: Role | None = None,
    include_revoked: bool = False,
    after: int | None = None,
    limit: int,
) -> list[ApiKey]:
    """Keys by id, after ``after``, filtered."""
    async with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        await cur.execute(
            _SELECT
            + """
            WHERE (%(within)s::bigint IS NULL OR k.organisation_id = %(within)s)
              AND (%(org)s::bigint IS NULL OR k.organisation_id = %(org)s)
              AND (%(role)s::text IS NULL OR k.role = %(role)s)
              AND (%(revoked)s OR k.revoked_at IS NULL)
              AND (%(after)s::bigint IS NULL OR k.id > %(after)s)
            ORDER BY k.id LIMIT %(limit)s
            """,
            {"within": within, "org": organisation_id, "role": role, "revoked": include_revoked,
             "after": after, "limit": limit},
        )  # fmt: skip
        return await cur.fetchall()


async def revoke_key(
    conn: psycopg.AsyncConnection[Any], *, key_id: int, within: int | None, actor: Actor
) -> ApiKey:
    """Revoke a key (idempotent: revoking a revoked key keeps its first revocation time).

    The last unrevoked admin key of an organisation cannot be revoked (ConflictError): nobody could
    then issue keys over the API. Recovery if it is lost anyway: ``hatang keys create --role admin``
    on a machine with database access (docs/registry.md)."""
    async with conn.transaction():
        key = await get_key(conn, key_id=key_id, within=within)
        if key.revoked_at is None and key.role == "admin":
            # Locks the organisation's admin keys: two concurrent revocations cannot both pass.
            cur = await conn.execute(
                "SELECT id FROM api_keys WHERE organisation_id = %s AND role = 'admin' AND revoked_at IS NULL"
                " FOR UPDATE",
                (key.organisation_id,),
            )
            if [row[0] for row in await cur.fetchall()] == [key_id]:
                raise ConflictError(
                    "api_key", str(key_id),
                    "the organisation's last admin key cannot be revoked: issue another admin key first",
                )  # fmt: skip
        if key.revoked_at is None:
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
            await record(conn, actor=actor, action="revoke", entity="api_key", entity_id=str(key_id),
                         organisation_id=key.organisation_id)  # fmt: skip
        return await get_key(conn, key_id=key_id)
