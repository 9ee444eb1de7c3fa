"""The audit trail: who (which API key, or the command line) changed what, and when.

Owns ``Actor`` and the ``audit_log`` writes and reads. Service functions of the registry record their
own changes here in the same transaction as the change, so a change and its audit row commit together.
It does not decide who may read the trail (the API allows admins only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: an API key (``api_key_id``) or a command-line user (``api_key_id`` None)."""

    name: str
    api_key_id: int | None = None


CLI = Actor(name="cli")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the trail."""

    id: int
    at: datetime
    api_key_id: int | None
    actor: str
    organisation_id: int | None
    organisation: str | None
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


async def record(
    conn: psycopg.AsyncConnection[Any],
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    organisation_id: int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry (in the caller's transaction)."""
    await conn.execute(
        """
        INSERT INTO audit_log (api_key_id, actor, organisation_id, action, entity, entity_id, detail)
        VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)
        """,
        (actor.api_key_id, actor.name, organisation_id, action, entity, entity_id,
         json.dumps(detail or {}, default=str)),
    )  # fmt: skip


async def list_entries(
    conn: psycopg.AsyncConnection[Any],
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    api_key_id: int | None = None,
    organisation_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int,
) -> list[AuditEntry]:
    """Entries matching every given filter, newest first, ids below ``before`` (keyset pagination)."""
    where: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    for column, value in (
        ("a.entity", entity), ("a.entity_id", entity_id), ("a.action", action),
        ("a.api_key_id", api_key_id), ("a.organisation_id", organisation_id),
    ):  # fmt: skip
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.SQL(column)))
            params.append(value)
    if since is not None:
        where.append(sql.SQL("a.at >= %s"))
        params.append(since)
    if until is not None:
        where.append(sql.SQL("a.at < %s"))
        params.append(until)
    if before is not None:
        where.append(sql.SQL("a.id < %s"))
        params.append(before)
    query = sql.SQL(
        """
        SELECT a.id, a.at, a.api_key_id, a.actor, a.organisation_id, o.slug AS organisation,
               a.action, a.entity, a.entity_id, a.detail
        FROM audit_log a LEFT JOIN organisations o ON o.id = a.organisation_id
        WHERE {} ORDER BY a.id DESC LIMIT %s
        """
    ).format(sql.SQL(" AND ").join(where))
    async with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        await cur.execute(query, [*params, limit])
        return await cur.fetchall()
