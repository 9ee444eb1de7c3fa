"""Notifications arrive: a real ``hatang alerts`` notifier, a real HTTP receiver, a real SMTP server.

The webhook receiver is down (connection refused, then 503) while events pile up in the outbox, and
comes back: it then receives every notification exactly once (nothing duplicated in this run), in
order per alert, each body signed with the channel's secret. The back-off is shortened to a second
(``HATANG_ALERTS__RETRY_MAX_S=1``) instead of the production 60 s, and "down for five minutes" is
down for several failed attempts: the guarantee is the same, only the waiting is shorter.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from typing import Any

import orjson
import psycopg
import pytest
from aiosmtpd.controller import Controller

from alerts import Subject, open_alert, transition
from registry.audit import Actor
from tests.plugins.alerts import Evaluators, add_rule
from tests.plugins.ports import free_port

pytestmark = pytest.mark.slow


class _Receiver:
    """A webhook receiver on ``port``: answers ``status`` and records what it accepted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.status = 503
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.refused = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.status == 200:
                    receiver.received.append((dict(self.headers), body))
                else:
                    receiver.refused += 1
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._handler = Handler
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver(free_port())
    yield r
    r.stop()


def _setup(db_url: str, channels: list[tuple[str, str]]) -> tuple[int, list[str | None]]:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO organisations (slug, name) VALUES ('bn-water', 'Nước sạch Bắc Ninh')")
        secrets = []
        for kind, target in channels:
            row = conn.execute(
                "INSERT INTO notification_channels (organisation_id, kind, target, secret)"
                " SELECT id, %s, %s, %s FROM organisations WHERE slug = 'bn-water' RETURNING secret",
                (kind, target, f"s3cret-{kind}" if kind == "webhook" else None),
            ).fetchone()
            assert row is not None
            secrets.append(row[0])
    rule = add_rule(db_url, "bn-water", kind="rejection_rate", scope_kind="organisation",
                    scope_value="bn-water", subject="organisation", rate_per_hour=10)  # fmt: skip
    return rule, secrets


async def _lifecycles(db_url: str, rule: int, alerts: int) -> None:
    """``alerts`` alerts, each opened, acknowledged and resolved (three events, in that order)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for i in range(alerts):
            # Distinct subjects: one open alert per (rule, subject).
            alert = await open_alert(
                conn,
                rule_id=rule,
                subject=Subject(kind="organisation", id=1000 + i),
                since=datetime.now(UTC),
                value=12.0,
            )
            assert alert is not None
            operator = Actor(name="key 7 (truc-ban)")
            await transition(conn, alert_id=alert, to="acknowledged", actor=operator, note="đang xử lý",
                             visible_organisation_id=None)  # fmt: skip
            await transition(
                conn, alert_id=alert, to="resolved", actor=operator, note="", visible_organisation_id=None
            )


def _wait(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_receiver_that_was_down_gets_everything_once_in_order(
    db_url: str, evaluators: Evaluators, receiver: _Receiver
) -> None:
    rule, (secret,) = _setup(db_url, [("webhook", f"http://127.0.0.1:{receiver.port}/hook")])
    asyncio.run(_lifecycles(db_url, rule, alerts=5))
    notifier = evaluators.start(
        "n1", args=("--no-evaluate",), retry_initial_s="0.2", retry_max_s="1", webhook_timeout_s="2"
    )
    # Down: nothing listens, every attempt is refused; the notifier logs it and backs off.
    notifier.wait_log("notification failed; will retry", count=3)
    receiver.start()  # up, but failing with 503 for a while
    _wait(lambda: receiver.refused >= 2)
    receiver.status = 200
    _wait(lambda: len(receiver.received) >= 15)
    with psycopg.connect(db_url) as conn:
        pending = conn.execute(
            "SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL"
        ).fetchone()
        failures = conn.execute("SELECT count(*) FROM notification_deliveries WHERE NOT ok").fetchone()
    assert pending == (0,)
    assert failures is not None
    assert failures[0] >= 5  # the log shows every failed attempt
    assert secret is not None
    by_alert: dict[int, list[str]] = {}
    deliveries = []
    for headers, body in receiver.received:
        expected = hmac.new(
            secret.encode(), headers["X-Hatang-Timestamp"].encode() + b"." + body, hashlib.sha256
        )
        assert headers["X-Hatang-Signature"] == f"sha256={expected.hexdigest()}"
        doc = orjson.loads(body)
        by_alert.setdefault(doc["alert"]["id"], []).append(doc["event"]["kind"])
        deliveries.append(headers["X-Hatang-Delivery"])
    assert len(deliveries) == len(set(deliveries)) == 15  # once each
    assert list(by_alert.values()) == [["opened", "acknowledged", "resolved"]] * 5  # in order per alert
    assert notifier.metric("hatang_alerts_notifications_delivered_total") == 15


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def test_email_goes_out_over_smtp(db_url: str, evaluators: Evaluators) -> None:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rule, _ = _setup(db_url, [("email", "truc-ban@bacninh.gov.vn")])
        asyncio.run(_lifecycles(db_url, rule, alerts=1))
        evaluators.start("n1", args=("--no-evaluate",), smtp_host="127.0.0.1", smtp_port=str(port))
        _wait(lambda: len(inbox.messages) >= 3)
    finally:
        controller.stop()
    subjects = [m["Subject"] for m in inbox.messages]
    assert [s.split(":")[0] for s in subjects] == [
        "[hatang] major opened", "[hatang] major acknowledged", "[hatang] major resolved"
    ]  # fmt: skip
    assert all(m["To"] == "truc-ban@bacninh.gov.vn" for m in inbox.messages)
    assert "Quy tắc thử / Test rule" in str(make_header(decode_header(subjects[0])))
