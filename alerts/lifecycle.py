"""The alert lifecycle in the database: open → acknowledged → resolved, each transition idempotent.

Owns :func:`open_alert`, :func:`resolve_alert` (both used by the evaluator and, for resolve, by
hand through the API) and :func:`acknowledge_alert`. Each runs in one transaction with the event it
records and the outbox rows that notify it, so an alert, its event and its notifications commit
together or not at all. "Exactly one open alert per (rule, subject)" is the partial unique index
``alerts_one_open`` (migration 0800): an open that finds one already open does nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from registry.audit import Actor, record

SEVERITY_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}

# opened_at is this row's own time, not its transaction's start (alerts.transitions opens a whole
# batch's alerts in one transaction, and does the same).
_OPEN = """
    INSERT INTO alerts (rule_id, organisation_id, subject_kind, subject_id, sector, area_id, lat, lon,
                        severity, value, since, source_committed_at, opened_at)
    SELECT r.id, r.organisation_id, %(subject_kind)s, %(subject_id)s, %(sector)s, %(area_id)s, %(lat)s,
           %(lon)s, r.severity, %(value)s, %(since)s, %(committed)s, clock_timestamp()
    FROM alert_rules r WHERE r.id = %(rule_id)s AND r.enabled AND r.deleted_at IS NULL
    ON CONFLICT (rule_id, subject_kind, subject_id) WHERE state IN ('open', 'acknowledged') DO NOTHING
    RETURNING id
"""

_EVENT = "INSERT INTO alert_events (alert_id, kind, actor, note) VALUES (%s, %s, %s, %s) RETURNING id, at"

# The event's notification, one outbox row per enabled channel of the organisation that wants it.
_OUTBOX = """
    INSERT INTO notification_outbox (channel_id, alert_id, event_id, payload)
    SELECT c.id, %(alert_id)s, %(event_id)s, %(payload)s::jsonb
    FROM notification_channels c
    WHERE c.organisation_id = %(organisation_id)s AND c.enabled
      AND (CASE c.min_severity WHEN 'info' THEN 0 WHEN 'minor' THEN 1 WHEN 'major' THEN 2 ELSE 3 END)
          <= %(rank)s
"""

_ALERT_DOC = """
    SELECT a.id, a.rule_id, r.name_vi, r.name_en, r.kind, a.severity, a.state, a.subject_kind,
           a.subject_id,
           CASE a.subject_kind WHEN 'device' THEN (SELECT external_id FROM devices WHERE id = a.subject_id)
                               WHEN 'asset' THEN (SELECT external_id FROM assets WHERE id = a.subject_id)
                               ELSE o.slug END,
           o.slug, a.organisation_id, a.sector, ar.code, a.value, a.since, a.opened_at
    FROM alerts a JOIN alert_rules r ON r.id = a.rule_id JOIN organisations o ON o.id = a.organisation_id
    LEFT JOIN areas ar ON ar.id = a.area_id
    WHERE a.id = %s
"""


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about, with where it is (for filters and the map)."""

    kind: str  # device, asset, organisation
    id: int
    sector: str | None = None
    area_id: int | None = None
    lat: float | None = None
    lon: float | None = None


def _payload(
    row: tuple[Any, ...], event: tuple[int, Any], kind: str, actor: str, note: str
) -> dict[str, Any]:
    """The notification document of one event (its id and time), from its alert's ``_ALERT_DOC`` row."""
    event_id, at = event
    (aid, rule_id, name_vi, name_en, rule_kind, severity, state, subject_kind, subject_id, subject_ref,
     org, _org_id, sector, area, value, since, opened_at) = row  # fmt: skip
    return {
        "event": {"id": event_id, "kind": kind, "at": at, "actor": actor, "note": note},
        "alert": {
            "id": aid, "rule_id": rule_id, "rule": {"vi": name_vi, "en": name_en}, "kind": rule_kind,
            "severity": severity, "state": state,
            "subject": {"kind": subject_kind, "id": subject_ref or str(subject_id)},
            "organisation": org, "sector": sector, "area": area, "value": value, "since": since,
            "opened_at": opened_at,
        },
    }  # fmt: skip


async def _notify(conn: psycopg.AsyncConnection[Any], alert_id: int, kind: str, actor: str, note: str) -> int:
    """Record the event ``kind`` of ``alert_id`` and queue its notifications; the event id."""
    cur = await conn.execute(_EVENT, (alert_id, kind, actor, note))
    event = await cur.fetchone()
    assert event is not None
    event_id, at = event
    cur = await conn.execute(_ALERT_DOC, (alert_id,))
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(
        _OUTBOX,
        {
            "alert_id": alert_id, "event_id": event_id,
            "payload": orjson.dumps(_payload(row, (event_id, at), kind, actor, note)).decode(),
            "organisation_id": row[11], "rank": SEVERITY_RANK[row[5]],
        },
    )  # fmt: skip
    return int(event_id)


async def open_alert(
    conn: psycopg.AsyncConnection[Any],
    *,
    rule_id: int,
    subject: Subject,
    since: datetime,
    value: float | None,
    committed: datetime | None = None,
) -> int | None:
    """Open the alert of (rule, subject) unless one is open; its id, or None if one already was.

    The evaluator's threshold decisions go a batch at a time through ``alerts.transitions``.
    """
    async with conn.transaction():
        cur = await conn.execute(
            _OPEN,
            {
                "rule_id": rule_id, "subject_kind": subject.kind, "subject_id": subject.id,
                "sector": subject.sector, "area_id": subject.area_id, "lat": subject.lat, "lon": subject.lon,
                "value": value, "since": since, "committed": committed,
            },
        )  # fmt: skip
        row = await cur.fetchone()
        if row is None:
            return None
        alert_id = int(row[0])
        await _notify(conn, alert_id, "opened", "evaluator", "")
    return alert_id


async def resolve_open(
    conn: psycopg.AsyncConnection[Any], *, rule_id: int, subject_kind: str, subject_id: int
) -> int | None:
    """Resolve the open alert of (rule, subject) because its condition cleared; its id, or None."""
    async with conn.transaction():
        cur = await conn.execute(
            """
            UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = 'evaluator',
                              resolve_note = 'condition cleared'
            WHERE rule_id = %s AND subject_kind = %s AND subject_id = %s AND state IN ('open', 'acknowledged')
            RETURNING id
            """,
            (rule_id, subject_kind, subject_id),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        alert_id = int(row[0])
        await _notify(conn, alert_id, "resolved", "evaluator", "condition cleared")
    return alert_id


async def transition(
    conn: psycopg.AsyncConnection[Any],
    *,
    alert_id: int,
    to: str,
    actor: Actor,
    note: str,
    visible_organisation_id: int | None,
) -> str | None:
    """Acknowledge or resolve ``alert_id`` by hand; the new state, None if not found or not visible.

    Acknowledging an acknowledged alert, or resolving a resolved one, changes nothing and records no
    event (the state is returned as it is).
    """
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT state, organisation_id FROM alerts WHERE id = %s"
            " AND (%s::bigint IS NULL OR organisation_id = %s) FOR UPDATE",
            (alert_id, visible_organisation_id, visible_organisation_id),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        state, organisation_id = row
        if state == "resolved" or (to == "acknowledged" and state == "acknowledged"):
            return str(state)
        if to == "acknowledged":
            await conn.execute(
                "UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = %s,"
                " acknowledge_note = %s WHERE id = %s",
                (actor.name, note, alert_id),
            )
        else:
            await conn.execute(
                "UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = %s,"
                " resolve_note = %s WHERE id = %s",
                (actor.name, note, alert_id),
            )
        await _notify(conn, alert_id, to, actor.name, note)
        await record(
            conn, actor=actor, action="acknowledge" if to == "acknowledged" else "resolve", entity="alert",
            entity_id=str(alert_id), organisation_id=organisation_id, detail={"note": note},
        )  # fmt: skip
    return to
