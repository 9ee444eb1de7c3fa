"""Alert events on the existing stream endpoints: each client receives the events its key and
filters may see, as ``alert`` frames beside the readings."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from alerts import Subject, open_alert
from api.hub import Hub
from tests.plugins.alerts import add_rule
from tests.plugins.api import Keys


async def _open(db_url: str, rule: int, subject_id: int, area: str) -> int:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM areas WHERE code = %s", (area,))
        row = await cur.fetchone()
        assert row is not None
        subject = Subject(kind="asset", id=subject_id, sector="water", area_id=row[0])
        alert = await open_alert(conn, rule_id=rule, subject=subject, since=datetime.now(UTC), value=None)
    assert alert is not None
    return alert


def _next_alert(ws: WebSocketTestSession, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] == "alert":
            return frame
    raise AssertionError("no alert frame")


def test_alert_events_reach_the_clients_that_may_see_them(
    api_client: TestClient, keys: Keys, db_url: str
) -> None:
    hub: Hub = api_client.app.state.stream_hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while not hub.alerts_following:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rule_a = add_rule(
        db_url, "org-a", kind="silence", scope_kind="sector", scope_value="water", subject="asset"
    )
    rule_b = add_rule(
        db_url, "org-b", kind="silence", scope_kind="sector", scope_value="water", subject="asset"
    )
    with (
        api_client.websocket_connect("/v1/streams/readings", headers=keys["viewer_a"]) as viewer_a,
        api_client.websocket_connect("/v1/streams/readings", headers=keys["viewer_b"]) as viewer_b,
        api_client.websocket_connect("/v1/streams/readings?area=que-vo", headers=keys["admin"]) as que_vo,
    ):
        for ws in (viewer_a, viewer_b, que_vo):
            assert ws.receive_json()["type"] == "hello"
        first = asyncio.run(_open(db_url, rule_a, 1, "tu-son"))
        acked = api_client.post(
            f"/v1/alerts/{first}/acknowledge", json={"note": "ok"}, headers=keys["operator_a"]
        )
        assert acked.status_code == 200
        second = asyncio.run(_open(db_url, rule_b, 2, "que-vo"))
        frames = [_next_alert(viewer_a), _next_alert(viewer_a)]
        assert [(f["alert"]["id"], f["event"]["kind"]) for f in frames] == [
            (first, "opened"),
            (first, "acknowledged"),
        ]
        assert frames[0]["alert"]["rule_vi"] == "Quy tắc thử"
        # Org B's viewer and the Quế Võ client get org B's alert first: org A's never came to them.
        assert (_next_alert(viewer_b)["alert"]["id"], _next_alert(que_vo)["alert"]["id"]) == (second, second)
