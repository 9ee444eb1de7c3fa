"""Alert rules, notification channels and alerts as the API manages and reads them.

Owns the service functions behind ``/v1/alert-rules``, ``/v1/alerts`` and
``/v1/notification-channels``: keyword-only, organisation-scoped (``within``: the one organisation
a caller may see, None for every one), audited in the same transaction as the change. Errors are the
registry's (``NotFoundError`` for anything another organisation owns, so its existence does not
leak; ``InvalidReferenceError`` for a scope that names nothing of the organisation's). The rows it
returns are defined in ``alerts.rows`` and re-exported here (``X as X``, mypy's explicit export).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from alerts.lifecycle import transition
from alerts.rows import AlertRow as AlertRow  # noqa: PLC0414
from alerts.rows import ChannelRow as ChannelRow  # noqa: PLC0414
from alerts.rows import DeliveryRow as DeliveryRow  # noqa: PLC0414
from alerts.rows import EventRow as EventRow  # noqa: PLC0414
from alerts.rows import RuleRow as RuleRow  # noqa: PLC0414
from registry import InvalidReferenceError, NotFoundError
from registry.audit import Actor, record

RULE_FIELDS = (
    "name_vi", "name_en", "kind", "severity", "scope_kind", "scope_value", "subject", "metric", "operator",
    "low", "high", "clear_low", "clear_high", "duration_s", "rate_per_hour", "enabled",
)  # fmt: skip


_RULE_SELECT = """
    SELECT r.id, r.organisation_id, o.slug AS organisation, r.name_vi, r.name_en, r.kind, r.severity,
           r.scope_kind, r.scope_value, r.subject, r.metric, r.operator, r.low, r.high, r.clear_low,
           r.clear_high, r.duration_s, r.rate_per_hour, r.enabled, r.created_at, r.updated_at
    FROM alert_rules r JOIN organisations o ON o.id = r.organisation_id
    WHERE r.deleted_at IS NULL
"""

_ALERT_SELECT = """
    SELECT a.id, a.rule_id, r.name_vi AS rule_vi, r.name_en AS rule_en, r.kind, o.slug AS organisation,
           a.organisation_id, a.subject_kind,
           coalesce(CASE a.subject_kind WHEN 'device' THEN d.external_id WHEN 'asset' THEN s.external_id
                                        ELSE o.slug END, a.subject_id::text) AS subject,
           coalesce(s.external_id, da.external_id) AS asset,
           a.sector, ar.code AS area, a.lat, a.lon, a.severity, a.state, a.value, a.since, a.opened_at,
           a.acknowledged_at, a.acknowledged_by, a.acknowledge_note, a.resolved_at, a.resolved_by,
           a.resolve_note
    FROM alerts a JOIN alert_rules r ON r.id = a.rule_id JOIN organisations o ON o.id = a.organisation_id
    LEFT JOIN devices d ON a.subject_kind = 'device' AND d.id = a.subject_id
    LEFT JOIN assets s ON a.subject_kind = 'asset' AND s.id = a.subject_id
    LEFT JOIN assets da ON da.id = d.asset_id
    LEFT JOIN areas ar ON ar.id = a.area_id
"""


async def _check_scope(
    conn: psycopg.AsyncConnection[Any], *, organisation_id: int, scope_kind: str, scope_value: str
) -> None:
    """Raise unless the scope names something of ``organisation_id`` (or a known sector, area, model)."""
    queries = {
        "device": "SELECT 1 FROM devices WHERE external_id = %s AND organisation_id = %s",
        "asset": "SELECT 1 FROM assets WHERE external_id = %s AND organisation_id = %s",
        "organisation": "SELECT 1 FROM organisations WHERE slug = %s AND id = %s",
        "area": "SELECT 1 FROM areas WHERE code = %s AND %s::bigint IS NOT NULL",
        "model": "SELECT 1 FROM device_models WHERE model = %s AND %s::bigint IS NOT NULL",
        # Sectors are data (migration 1002): a later plan's sector is a row.
        "sector": "SELECT 1 FROM sectors WHERE code = %s AND %s::bigint IS NOT NULL",
    }
    cur = await conn.execute(queries[scope_kind], (scope_value, organisation_id))
    if await cur.fetchone() is None:
        raise InvalidReferenceError("scope.value", scope_value, f"no {scope_kind} of the rule's organisation")


async def _check_metric(conn: psycopg.AsyncConnection[Any], metric: str | None) -> None:
    if metric is None:
        return
    cur = await conn.execute("SELECT 1 FROM metrics WHERE name = %s", (metric,))
    if await cur.fetchone() is None:
        raise InvalidReferenceError("metric", metric, "not a canonical metric")


async def get_rule(conn: psycopg.AsyncConnection[Any], *, rule_id: int, within: int | None) -> RuleRow:
    """One rule (NotFoundError if absent or another organisation's)."""
    async with conn.cursor(row_factory=class_row(RuleRow)) as cur:
        await cur.execute(
            _RULE_SELECT + " AND r.id = %s AND (%s::bigint IS NULL OR r.organisation_id = %s)",
            (rule_id, within, within),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError("alert rule", str(rule_id))
    return row


async def list_rules(
    conn: psycopg.AsyncConnection[Any], *, within: int | None, organisation_id: int | None,
    kind: str | None, after: int | None, limit: int,
) -> list[RuleRow]:  # fmt: skip
    """Rules by id, after the cursor ``after``."""
    async with conn.cursor(row_factory=class_row(RuleRow)) as cur:
        await cur.execute(
            _RULE_SELECT
            + """ AND (%(within)s::bigint IS NULL OR r.organisation_id = %(within)s)
                  AND (%(org)s::bigint IS NULL OR r.organisation_id = %(org)s)
                  AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
                  AND (%(after)s::bigint IS NULL OR r.id > %(after)s)
                ORDER BY r.id LIMIT %(limit)s""",
            {"within": within, "org": organisation_id, "kind": kind, "after": after, "limit": limit},
        )
        return await cur.fetchall()


async def create_rule(
    conn: psycopg.AsyncConnection[Any], *, organisation_id: int, values: dict[str, Any], actor: Actor
) -> RuleRow:
    """Create a rule of ``organisation_id`` from validated ``values``; audited."""
    async with conn.transaction():
        await _check_scope(
            conn, organisation_id=organisation_id, scope_kind=values["scope_kind"],
            scope_value=values["scope_value"],
        )  # fmt: skip
        await _check_metric(conn, values.get("metric"))
        columns = [name for name in RULE_FIELDS if name in values]
        query = sql.SQL("INSERT INTO alert_rules (organisation_id, {}) VALUES (%s, {}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        cur = await conn.execute(query, (organisation_id, *(values[c] for c in columns)))
        row = await cur.fetchone()
        assert row is not None
        rule_id = int(row[0])
        await record(
            conn, actor=actor, action="create", entity="alert_rule", entity_id=str(rule_id),
            organisation_id=organisation_id, detail={c: values[c] for c in columns},
        )  # fmt: skip
    return await get_rule(conn, rule_id=rule_id, within=None)


async def update_rule(
    conn: psycopg.AsyncConnection[Any], *, rule: RuleRow, values: dict[str, Any], actor: Actor
) -> RuleRow:
    """Change a rule (already validated as a whole by the caller); audited."""
    async with conn.transaction():
        merged = {name: getattr(rule, name) for name in RULE_FIELDS} | values
        await _check_scope(
            conn, organisation_id=rule.organisation_id, scope_kind=merged["scope_kind"],
            scope_value=merged["scope_value"],
        )  # fmt: skip
        await _check_metric(conn, merged.get("metric"))
        columns = [name for name in RULE_FIELDS if name in values]
        if columns:
            query = sql.SQL("UPDATE alert_rules SET {}, updated_at = now() WHERE id = %s").format(
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
            )
            await conn.execute(query, (*(values[c] for c in columns), rule.id))
        await record(
            conn, actor=actor, action="update", entity="alert_rule", entity_id=str(rule.id),
            organisation_id=rule.organisation_id, detail=values,
        )  # fmt: skip
    return await get_rule(conn, rule_id=rule.id, within=None)


async def delete_rule(conn: psycopg.AsyncConnection[Any], *, rule: RuleRow, actor: Actor) -> None:
    """Retire a rule (its alerts stay, open ones are resolved); audited."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE alert_rules SET deleted_at = now(), enabled = false, updated_at = now() WHERE id = %s",
            (rule.id,),
        )
        cur = await conn.execute(
            "SELECT id FROM alerts WHERE rule_id = %s AND state IN ('open', 'acknowledged')", (rule.id,)
        )
        for (alert_id,) in await cur.fetchall():
            await transition(
                conn, alert_id=alert_id, to="resolved", actor=actor, note="rule deleted",
                visible_organisation_id=None,
            )  # fmt: skip
        await record(
            conn, actor=actor, action="delete", entity="alert_rule", entity_id=str(rule.id),
            organisation_id=rule.organisation_id,
        )  # fmt: skip


async def list_alerts(
    conn: psycopg.AsyncConnection[Any], *, within: int | None, states: list[str] | None,
    severities: list[str] | None, sector: str | None, area: str | None, organisation_id: int | None,
    since: datetime | None, until: datetime | None, before: int | None, limit: int,
) -> list[AlertRow]:  # fmt: skip
    """Alerts newest first (keyset on id); ``area`` with its descendants; ``since``/``until``: opening."""
    query = (
        _ALERT_SELECT
        + """
        WHERE (%(within)s::bigint IS NULL OR a.organisation_id = %(within)s)
          AND (%(org)s::bigint IS NULL OR a.organisation_id = %(org)s)
          AND (%(states)s::text[] IS NULL OR a.state = ANY(%(states)s))
          AND (%(severities)s::text[] IS NULL OR a.severity = ANY(%(severities)s))
          AND (%(sector)s::text IS NULL OR a.sector = %(sector)s)
          AND (%(area)s::text IS NULL OR a.area_id IN (
                WITH RECURSIVE sub AS (SELECT id FROM areas WHERE code = %(area)s
                                       UNION SELECT c.id FROM areas c JOIN sub ON c.parent_id = sub.id)
                SELECT id FROM sub))
          AND (%(since)s::timestamptz IS NULL OR a.opened_at >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR a.opened_at < %(until)s)
          AND (%(before)s::bigint IS NULL OR a.id < %(before)s)
        ORDER BY a.id DESC LIMIT %(limit)s
        """
    )
    params = {
        "within": within, "org": organisation_id, "states": states, "severities": severities,
        "sector": sector, "area": area, "since": since, "until": until, "before": before, "limit": limit,
    }  # fmt: skip
    async with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get_alert(conn: psycopg.AsyncConnection[Any], *, alert_id: int, within: int | None) -> AlertRow:
    """One alert (NotFoundError if absent or another organisation's)."""
    async with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        await cur.execute(
            _ALERT_SELECT + " WHERE a.id = %s AND (%s::bigint IS NULL OR a.organisation_id = %s)",
            (alert_id, within, within),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError("alert", str(alert_id))
    return row


async def alert_events(conn: psycopg.AsyncConnection[Any], *, alert_id: int) -> list[EventRow]:
    """The transitions of one alert, in order."""
    async with conn.cursor(row_factory=class_row(EventRow)) as cur:
        await cur.execute(
            "SELECT id, alert_id, at, kind, actor, note FROM alert_events WHERE alert_id = %s ORDER BY id",
            (alert_id,),
        )
        return await cur.fetchall()


async def event_by_id(
    conn: psycopg.AsyncConnection[Any], *, event_id: int
) -> tuple[EventRow, AlertRow] | None:
    """An event and its alert (streams), or None."""
    async with conn.cursor(row_factory=class_row(EventRow)) as cur:
        await cur.execute(
            "SELECT id, alert_id, at, kind, actor, note FROM alert_events WHERE id = %s", (event_id,)
        )
        event = await cur.fetchone()
    if event is None:
        return None
    return event, await get_alert(conn, alert_id=event.alert_id, within=None)


_CHANNEL_SELECT = """
    SELECT c.id, o.slug AS organisation, c.organisation_id, c.kind, c.target, c.min_severity, c.enabled,
           c.created_at
    FROM notification_channels c JOIN organisations o ON o.id = c.organisation_id
"""


async def list_channels(
    conn: psycopg.AsyncConnection[Any], *, within: int | None, after: int | None, limit: int
) -> list[ChannelRow]:
    """Channels by id."""
    async with conn.cursor(row_factory=class_row(ChannelRow)) as cur:
        await cur.execute(
            _CHANNEL_SELECT + " WHERE (%(within)s::bigint IS NULL OR c.organisation_id = %(within)s)"
            " AND (%(after)s::bigint IS NULL OR c.id > %(after)s) ORDER BY c.id LIMIT %(limit)s",
            {"within": within, "after": after, "limit": limit},
        )
        return await cur.fetchall()


async def get_channel(
    conn: psycopg.AsyncConnection[Any], *, channel_id: int, within: int | None
) -> ChannelRow:
    """One channel (NotFoundError if absent or another organisation's)."""
    async with conn.cursor(row_factory=class_row(ChannelRow)) as cur:
        await cur.execute(
            _CHANNEL_SELECT + " WHERE c.id = %s AND (%s::bigint IS NULL OR c.organisation_id = %s)",
            (channel_id, within, within),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError("notification channel", str(channel_id))
    return row


async def create_channel(
    conn: psycopg.AsyncConnection[Any], *, organisation_id: int, kind: str, target: str, min_severity: str,
    actor: Actor,
) -> tuple[ChannelRow, str | None]:  # fmt: skip
    """Create a channel; for a webhook, also its new signing secret (returned this once)."""
    secret = secrets.token_urlsafe(32) if kind == "webhook" else None
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO notification_channels (organisation_id, kind, target, secret, min_severity)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (organisation_id, kind, target, secret, min_severity),
        )
        row = await cur.fetchone()
        assert row is not None
        channel_id = int(row[0])
        await record(
            conn, actor=actor, action="create", entity="notification_channel", entity_id=str(channel_id),
            organisation_id=organisation_id, detail={"kind": kind, "target": target},
        )  # fmt: skip
    return await get_channel(conn, channel_id=channel_id, within=None), secret


async def delete_channel(conn: psycopg.AsyncConnection[Any], *, channel: ChannelRow, actor: Actor) -> None:
    """Disable a channel: nothing more is queued for it (its delivery log stays); audited."""
    async with conn.transaction():
        await conn.execute("UPDATE notification_channels SET enabled = false WHERE id = %s", (channel.id,))
        await record(
            conn, actor=actor, action="delete", entity="notification_channel", entity_id=str(channel.id),
            organisation_id=channel.organisation_id,
        )  # fmt: skip


async def list_deliveries(
    conn: psycopg.AsyncConnection[Any], *, channel_id: int, before: int | None, limit: int
) -> list[DeliveryRow]:
    """A channel's delivery attempts, newest first."""
    async with conn.cursor(row_factory=class_row(DeliveryRow)) as cur:
        await cur.execute(
            """
            SELECT d.id, d.outbox_id, o.alert_id, e.kind AS event, d.at, d.ok, d.status, d.error
            FROM notification_deliveries d JOIN notification_outbox o ON o.id = d.outbox_id
            JOIN alert_events e ON e.id = o.event_id
            WHERE d.channel_id = %s AND (%s::bigint IS NULL OR d.id < %s) ORDER BY d.id DESC LIMIT %s
            """,
            (channel_id, before, before, limit),
        )
        return await cur.fetchall()
