"""``/v1/dead-letters`` over the app: admins list and replay what ingest rejected."""

from __future__ import annotations

import asyncio
import base64
import time

import orjson
import psycopg
from fastapi.testclient import TestClient

from tests.ingest.test_deadletters import _ingest
from tests.plugins.api import Keys
from tests.plugins.ingest import build_fleet


def test_admins_list_and_replay_dead_letters(api_client: TestClient, keys: Keys, db_url: str) -> None:
    prefix = api_client.app.state.settings.topic_prefix  # type: ignore[attr-defined]
    fleet = build_fleet(db_url, prefix, active=2, suspended=1)
    now = int(time.time()) - 60
    payload = orjson.dumps({"t": now, "psi": 40.0})
    asyncio.run(
        _ingest(db_url, prefix, [(fleet.topic(fleet.suspended[0]), payload), (fleet.topic("ghost"), b"{")])
    )

    assert api_client.get("/v1/dead-letters", headers=keys["operator_a"]).status_code == 403
    listed = api_client.get("/v1/dead-letters", headers=keys["admin"], params={"limit": 1})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [item["reason"] for item in body["items"]] == ["unknown_device"]
    following = api_client.get(
        "/v1/dead-letters", headers=keys["admin"], params={"limit": 1, "cursor": body["next_cursor"]}
    ).json()
    letter = following["items"][0]
    assert (letter["reason"], letter["device"], following["next_cursor"]) == (
        "device_not_active", fleet.suspended[0], None,
    )  # fmt: skip
    assert base64.b64decode(letter["payload_base64"]) == payload
    by_device = api_client.get(
        "/v1/dead-letters", headers=keys["admin"], params={"device": fleet.suspended[0]}
    )
    assert [item["id"] for item in by_device.json()["items"]] == [letter["id"]]

    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE devices SET state = 'active' WHERE external_id = %s", (fleet.suspended[0],))
    replayed = api_client.post(f"/v1/dead-letters/{letter['id']}/replay", headers=keys["admin"])
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["stored"], replayed.json()["rejected"]) == (1, [])
    again = api_client.post("/v1/dead-letters/replay", headers=keys["admin"], json={"ids": [letter["id"]]})
    assert [(r["stored"], r["duplicates"]) for r in again.json()] == [(0, 1)]
    assert api_client.post("/v1/dead-letters/999999/replay", headers=keys["admin"]).status_code == 404
    done = api_client.get("/v1/dead-letters", headers=keys["admin"], params={"replayed": "true"}).json()
    assert [(i["id"], i["replay_result"]) for i in done["items"]] == [
        (letter["id"], "stored 0; duplicates 1")
    ]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (1,)
        audit = conn.execute("SELECT count(*) FROM audit_log WHERE entity = 'dead_letter'").fetchone()
    assert audit == (2,)
