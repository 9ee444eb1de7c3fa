"""``/v1/dead-letters`` over the app: admins list and replay what ingest rejected; operators their
own organisation's letters only."""

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

    assert api_client.get("/v1/dead-letters", headers=keys["viewer_a"]).status_code == 403
    assert api_client.get("/v1/dead-letters", headers=keys["operator_a"]).json()["items"] == []
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


def test_operators_read_and_replay_their_own_organisations_dead_letters(
    api_client: TestClient, keys: Keys, db_url: str
) -> None:
    prefix = api_client.app.state.settings.topic_prefix  # type: ignore[attr-defined]
    fleet = build_fleet(db_url, prefix, active=1, suspended=2)
    ours, theirs = fleet.suspended
    with psycopg.connect(db_url) as conn:  # one suspended device of org-a, one of org-b
        for device, org in ((ours, "org-a"), (theirs, "org-b")):
            conn.execute(
                "UPDATE devices SET organisation_id = %s WHERE external_id = %s", (keys.org_ids[org], device)
            )
    payload = orjson.dumps({"t": int(time.time()) - 60, "psi": 41.0})
    asyncio.run(_ingest(db_url, prefix, [(fleet.topic(ours), payload), (fleet.topic(theirs), payload),
                                         (fleet.topic("ghost"), b"{")]))  # fmt: skip

    everything = api_client.get("/v1/dead-letters", headers=keys["admin"]).json()["items"]
    assert len(everything) == 3  # the positive check: all three letters exist
    by_device = {item["device"]: item["id"] for item in everything}
    mine = api_client.get("/v1/dead-letters", headers=keys["operator_a"])
    assert mine.status_code == 200, mine.text
    assert [(i["device"], i["reason"]) for i in mine.json()["items"]] == [(ours, "device_not_active")]
    others = api_client.get("/v1/dead-letters", headers=keys["operator_b"]).json()["items"]
    assert [i["device"] for i in others] == [theirs]
    assert api_client.get("/v1/dead-letters", headers=keys["viewer_a"]).status_code == 403

    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE devices SET state = 'active' WHERE external_id = %s", (ours,))
    replayed = api_client.post(f"/v1/dead-letters/{by_device[ours]}/replay", headers=keys["operator_a"])
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["stored"] == 1
    # Another organisation's letter, or one of an unknown device, does not exist for this operator.
    for other in (by_device[theirs], by_device[None]):
        refused = api_client.post(f"/v1/dead-letters/{other}/replay", headers=keys["operator_a"])
        assert refused.status_code == 404, refused.text
    both = api_client.post("/v1/dead-letters/replay", headers=keys["operator_a"],
                           json={"ids": [by_device[ours], by_device[theirs]]})  # fmt: skip
    assert both.status_code == 404
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (1,)
