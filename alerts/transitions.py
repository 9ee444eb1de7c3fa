"""The evaluator's transitions for a whole batch of decisions: a few statements, not a few per alert.

Owns :class:`Opening` and :func:`apply`. Each call opens and resolves a set of distinct
(rule, device) keys with one ``INSERT ... ON CONFLICT DO NOTHING`` and one conditional ``UPDATE``
(the same idempotent statements as ``alerts.lifecycle``, over arrays), then records every event and
queues every notification with one statement each. Runs inside the caller's transaction. Rows are
written in key order, so two evaluators applying overlapping batches lock alerts in one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from alerts.lifecycle import _ALERT_DOC, SEVERITY_RANK, Subject, _payload

_OPEN_MANY = """
    INSERT INTO alerts (rule_id, organisation_id, subject_kind, subject_id, sector, area_id, lat, lon,
                        severity, value, since, source_committed_at, opened_at)
    SELECT r.id, r.organisation_id, 'device', v.subject_id, v.sector, v.area_id, v.lat, v.lon,
           r.severity, v.value, v.since, v.committed, clock_timestamp()
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::float8[], %s::float8[],
                %s::float8[], %s::timestamptz[], %s::timestamptz[])
         WITH ORDINALITY AS v(rule_id, subject_id, sector, area_id, lat, lon, value, since, committed, n)
    JOIN alert_rules r ON r.id = v.rule_id AND r.enabled AND r.deleted_at IS NULL
    ORDER BY v.n
    ON CONFLICT (rule_id, subject_kind, subject_id) WHERE state IN ('open', 'acknowledged') DO NOTHING
    RETURNING id, rule_id, subject_id
"""

# Locked in id order first (as ingest's last_seen upsert does), then updated: the state is checked
# again on the locked row, so an alert resolved meanwhile by hand or by another evaluator is left.
_RESOLVE_MANY = """
    WITH locked AS (
        SELECT a.id FROM alerts a
        JOIN unnest(%s::bigint[], %s::bigint[]) AS k(rule_id, subject_id)
            ON a.rule_id = k.rule_id AND a.subject_kind = 'device' AND a.subject_id = k.subject_id
        WHERE a.state IN ('open', 'acknowledged')
        ORDER BY a.id
        FOR UPDATE OF a
    )
    UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = 'evaluator',
                      resolve_note = 'condition cleared'
    FROM locked WHERE alerts.id = locked.id AND alerts.state IN ('open', 'acknowledged')
    RETURNING alerts.id, alerts.rule_id, alerts.subject_id
"""

_EVENTS = """
    INSERT INTO alert_events (alert_id, kind, actor, note)
    SELECT alert_id, kind, 'evaluator', note
    FROM unnest(%s::bigint[], %s::text[], %s::text[]) WITH ORDINALITY AS e(alert_id, kind, note, n)
    ORDER BY e.n
    RETURNING alert_id, id, at
"""

_ALERT_DOCS = _ALERT_DOC.replace("a.id = %s", "a.id = ANY(%s)")

_OUTBOX_MANY = """
    INSERT INTO notification_outbox (channel_id, alert_id, event_id, payload)
    SELECT c.id, u.alert_id, u.event_id, u.payload::jsonb
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::int[])
         WITH ORDINALITY AS u(alert_id, event_id, payload, organisation_id, rank, n)
    JOIN notification_channels c ON c.organisation_id = u.organisation_id AND c.enabled
        AND (CASE c.min_severity WHEN 'info' THEN 0 WHEN 'minor' THEN 1 WHEN 'major' THEN 2 ELSE 3 END)
            <= u.rank
    ORDER BY u.n, c.id
"""


# What a transition changed: (alert id, rule id, device id).
Done = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Opening:
    """One alert to open: (rule, device subject), the breach's start and value, its commit time."""

    rule_id: int
    subject: Subject
    since: datetime
    value: float | None
    committed: datetime | None


async def apply(
    conn: psycopg.AsyncConnection[Any], *, opens: Sequence[Opening], resolves: Sequence[tuple[int, int]]
) -> tuple[list[Done], list[Done]]:
    """Open ``opens`` and resolve ``resolves`` ((rule, device) keys), no key twice; the alerts opened
    and those resolved as (alert, rule, device) (an open that found one open, or a resolve that found
    none open, did nothing and records nothing)."""
    opened: list[Done] = []
    resolved: list[Done] = []
    if opens:
        cur = await conn.execute(
            _OPEN_MANY,
            (
                [o.rule_id for o in opens], [o.subject.id for o in opens], [o.subject.sector for o in opens],
                [o.subject.area_id for o in opens], [o.subject.lat for o in opens],
                [o.subject.lon for o in opens], [o.value for o in opens], [o.since for o in opens],
                [o.committed for o in opens],
            ),
        )  # fmt: skip
        opened = [(int(r[0]), int(r[1]), int(r[2])) for r in await cur.fetchall()]
    if resolves:
        cur = await conn.execute(_RESOLVE_MANY, ([k[0] for k in resolves], [k[1] for k in resolves]))
        resolved = [(int(r[0]), int(r[1]), int(r[2])) for r in await cur.fetchall()]
    events = [(a[0], "opened", "") for a in opened]
    events += [(a[0], "resolved", "condition cleared") for a in resolved]
    if events:
        await _notify_many(conn, events)
    return opened, resolved


async def _notify_many(conn: psycopg.AsyncConnection[Any], events: list[tuple[int, str, str]]) -> None:
    """Record each (alert, kind, note) event by the evaluator and queue its notifications."""
    cur = await conn.execute(
        _EVENTS, ([e[0] for e in events], [e[1] for e in events], [e[2] for e in events])
    )
    ids = {int(r[0]): (int(r[1]), r[2]) for r in await cur.fetchall()}
    cur = await conn.execute(_ALERT_DOCS, ([e[0] for e in events],))
    docs = {int(r[0]): r for r in await cur.fetchall()}
    payloads = [
        orjson.dumps(_payload(docs[alert], ids[alert], kind, "evaluator", note)).decode()
        for alert, kind, note in events
    ]
    await conn.execute(
        _OUTBOX_MANY,
        (
            [e[0] for e in events], [ids[e[0]][0] for e in events], payloads,
            [docs[e[0]][11] for e in events], [SEVERITY_RANK[docs[e[0]][5]] for e in events],
        ),
    )  # fmt: skip
