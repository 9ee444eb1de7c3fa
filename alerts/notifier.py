"""Notifications leave through the outbox: webhooks (HMAC-signed) and e-mail, at least once, in order.

Owns :class:`Notifier`. Each pass claims due outbox rows (``FOR UPDATE SKIP LOCKED``, so notifiers
of several processes share the work without sending a row twice at once), of which only the oldest
undelivered row of each (channel, alert) is eligible: an alert's notifications arrive in the order
of its events even across a receiver's outage. A failed attempt is logged in
``notification_deliveries`` and the row waits for its next attempt with an exponential back-off
(tenacity's ``wait_exponential_jitter``, capped at ``retry_max_s``), so a receiver that is down for
minutes receives everything within ``retry_max_s`` of coming back. Delivery uses httpx and aiosmtplib;
the signature is ``sha256=HMAC(secret, "<timestamp>." + body)`` (docs/alerts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import orjson
import psycopg
import tenacity

from alerts.metrics import AlertMetrics
from hatang.settings import AlertSettings

log = logging.getLogger("hatang.alerts")

_CLAIM = """
    SELECT o.id, o.channel_id, o.alert_id, o.payload, o.attempts, c.kind, c.target, c.secret
    FROM notification_outbox o JOIN notification_channels c ON c.id = o.channel_id
    WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
      AND NOT EXISTS (
          SELECT 1 FROM notification_outbox e
          WHERE e.channel_id = o.channel_id AND e.alert_id = o.alert_id AND e.delivered_at IS NULL
            AND e.id < o.id)
    ORDER BY o.id LIMIT %s
    FOR UPDATE OF o SKIP LOCKED
"""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Hatang-Signature`` header of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    channel_id: int
    alert_id: int
    payload: dict[str, Any]
    attempts: int
    kind: str
    target: str
    secret: str | None


class DeliveryError(Exception):
    """One attempt failed: the receiver's status, or the transport's error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Notifier:
    """Delivers the outbox of one database over one connection (autocommit off per pass)."""

    def __init__(self, *, settings: AlertSettings, metrics: AlertMetrics, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._metrics = metrics
        self._http = http
        self._wait = tenacity.wait_exponential_jitter(
            initial=settings.retry_initial_s, max=settings.retry_max_s, jitter=settings.retry_initial_s / 2
        )

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1`` (tenacity's strategy, persisted per row)."""
        state = tenacity.RetryCallState(tenacity.AsyncRetrying(), None, (), {})
        state.attempt_number = max(1, attempts)
        return float(self._wait(state))

    async def deliver_due(self, conn: psycopg.AsyncConnection[Any], *, limit: int = 100) -> int:
        """One pass: deliver what is due and eligible; the number of rows attempted."""
        async with conn.transaction():
            cur = await conn.execute(_CLAIM, (limit,))
            rows = [_Row(*r) for r in await cur.fetchall()]
            failing: set[int] = set()
            for row in rows:
                if row.channel_id in failing:  # one slow or dead receiver costs one attempt per pass
                    continue
                status: int | None = None
                try:
                    status = await self._send(row)
                except DeliveryError as exc:
                    attempts = row.attempts + 1
                    delay = self.backoff(attempts)
                    await conn.execute(
                        "UPDATE notification_outbox SET attempts = %s, last_error = %s,"
                        " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                        (attempts, str(exc)[:500], delay, row.id),
                    )
                    await conn.execute(
                        "INSERT INTO notification_deliveries (outbox_id, channel_id, ok, status, error)"
                        " VALUES (%s, %s, false, %s, %s)",
                        (row.id, row.channel_id, exc.status, str(exc)[:500]),
                    )
                    self._metrics.failures.labels(row.kind).inc()
                    failing.add(row.channel_id)
                    log.warning(
                        "notification failed; will retry",
                        extra={"outbox": row.id, "channel": row.channel_id, "attempts": attempts,
                               "retry_s": round(delay, 2), "error": str(exc)[:200]},
                    )  # fmt: skip
                    continue
                await conn.execute(
                    "UPDATE notification_outbox SET attempts = attempts + 1, delivered_at = now(),"
                    " last_error = NULL WHERE id = %s",
                    (row.id,),
                )
                await conn.execute(
                    "INSERT INTO notification_deliveries (outbox_id, channel_id, ok, status)"
                    " VALUES (%s, %s, true, %s)",
                    (row.id, row.channel_id, status),
                )
                self._metrics.deliveries.labels(row.kind).inc()
        cur = await conn.execute("SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL")
        pending = await cur.fetchone()
        self._metrics.pending.set(pending[0] if pending else 0)
        return len(rows)

    async def _send(self, row: _Row) -> int | None:
        body = orjson.dumps(row.payload)
        if row.kind == "webhook":
            return await self._webhook(row, body)
        await self._email(row)
        return None

    async def _webhook(self, row: _Row, body: bytes) -> int:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hatang-alerts/1",
            "X-Hatang-Event": str(row.payload.get("event", {}).get("kind", "")),
            "X-Hatang-Delivery": str(row.id),  # the outbox row: receivers de-duplicate on it
            "X-Hatang-Timestamp": timestamp,
        }
        if row.secret:
            headers["X-Hatang-Signature"] = signature(row.secret, timestamp, body)
        try:
            response = await self._http.post(
                row.target, content=body, headers=headers, timeout=self._settings.webhook_timeout_s
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"HTTP {response.status_code}", status=response.status_code)
        return response.status_code

    async def _email(self, row: _Row) -> None:
        cfg = self._settings
        if cfg.smtp_host is None:
            raise DeliveryError("no SMTP server configured (HATANG_ALERTS__SMTP_HOST)")
        alert = row.payload.get("alert", {})
        event = row.payload.get("event", {})
        rule = alert.get("rule", {})
        subject = alert.get("subject", {})
        message = EmailMessage()
        message["From"] = cfg.smtp_sender
        message["To"] = row.target
        message["Subject"] = (
            f"[hatang] {alert.get('severity')} {event.get('kind')}: {rule.get('vi')} / {rule.get('en')}"
            f" ({subject.get('kind')} {subject.get('id')})"
        )
        message["X-Hatang-Delivery"] = str(row.id)
        message.set_content(
            f"Cảnh báo / Alert #{alert.get('id')} {event.get('kind')}\n"
            f"Quy tắc / Rule: {rule.get('vi')} / {rule.get('en')}\n"
            f"Đối tượng / Subject: {subject.get('kind')} {subject.get('id')}\n"
            f"Mức độ / Severity: {alert.get('severity')}\nGiá trị / Value: {alert.get('value')}\n"
            f"Từ / Since: {alert.get('since')}\n\n"
            + orjson.dumps(row.payload, option=orjson.OPT_INDENT_2).decode()
        )
        password = cfg.smtp_password.get_secret_value() if cfg.smtp_password else None
        try:
            await aiosmtplib.send(
                message, hostname=cfg.smtp_host, port=cfg.smtp_port, username=cfg.smtp_username,
                password=password, start_tls=cfg.smtp_starttls, timeout=cfg.webhook_timeout_s,
            )  # fmt: skip
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
