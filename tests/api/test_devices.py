"""Devices over the API: creation with credentials, lifecycle, rotation, scoping, audit."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from registry.mosquitto import verify_password
from tests.plugins.api import Keys


def _asset(client: TestClient, headers: dict[str, str], external_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "external_id": external_id,
        "area": "tien-du",
        "sector": "water",
        "kind": "pumping_station",
        **extra,
    }
    response = client.post("/v1/assets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_device_lifecycle_credentials_and_audit(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    _asset(api_client, keys["operator_a"], "ps-a-1")
    created = api_client.post(
        "/v1/devices",
        json={
            "external_id": "wq-a-0001",
            "model": "sonde-wq6",
            "asset": "ps-a-1",
            "metadata": {"depth_m": 2},
        },
        headers=keys["operator_a"],
    )
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["state"] == "provisioned"
    assert device["organisation"] == "org-a"
    assert device["credentials"]["username"] == "wq-a-0001"
    assert device["credentials"]["topic"] == "city/v1/devices/wq-a-0001/telemetry"
    secret = device["credentials"]["secret"]
    stored = api_db.execute("SELECT mqtt_secret_hash FROM devices WHERE external_id = 'wq-a-0001'").fetchone()
    assert stored is not None
    assert stored[0].startswith("$7$")
    assert verify_password(secret, stored[0])
    assert secret not in str(api_db.execute("SELECT * FROM devices").fetchall())

    read = api_client.get("/v1/devices/wq-a-0001", headers=keys["viewer_a"]).json()
    assert "credentials" not in read
    assert api_client.get("/v1/devices/wq-a-0001", headers=keys["viewer_b"]).status_code == 404

    def move(state: str) -> Any:
        return api_client.post(
            "/v1/devices/wq-a-0001/state", json={"state": state}, headers=keys["operator_a"]
        )

    illegal = move("suspended")
    assert illegal.status_code == 409
    assert illegal.json()["type"] == "/problems/invalid-transition"
    assert illegal.json()["allowed"] == ["active"]
    assert move("active").json()["state"] == "active"
    assert move("active").json()["state"] == "active"  # asking again is a no-op
    assert move("retired").status_code == 409
    assert move("suspended").json()["state"] == "suspended"
    assert move("active").json()["state"] == "active"
    assert move("suspended").status_code == 200
    assert move("retired").json()["state"] == "retired"
    assert move("active").status_code == 409

    rotated = api_client.post("/v1/devices/wq-a-0001/credentials", headers=keys["operator_a"])
    assert rotated.status_code == 409  # retired devices get no new credentials

    trail = api_client.get(
        "/v1/audit", params={"entity": "device", "entity_id": "wq-a-0001"}, headers=keys["admin"]
    )
    assert trail.status_code == 200
    actions = [entry["action"] for entry in reversed(trail.json()["items"])]
    assert actions == ["create", "activate", "suspend", "resume", "suspend", "retire"]
    assert all(entry["actor"].endswith("(operator_a)") for entry in trail.json()["items"])
    assert api_client.get("/v1/audit", headers=keys["operator_a"]).status_code == 403


def test_rotation_replaces_the_secret_and_bumps_updated_at(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    created = api_client.post(
        "/v1/devices",
        json={"external_id": "tl-b-1", "model": "loopcount-il200", "state": "active"},
        headers=keys["operator_b"],
    ).json()
    old_secret = created["credentials"]["secret"]
    before = api_db.execute("SELECT updated_at FROM devices WHERE external_id = 'tl-b-1'").fetchone()
    rotated = api_client.post("/v1/devices/tl-b-1/credentials", headers=keys["operator_b"])
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    row = api_db.execute(
        "SELECT mqtt_secret_hash, updated_at FROM devices WHERE external_id = 'tl-b-1'"
    ).fetchone()
    assert row is not None
    assert before is not None
    assert verify_password(new_secret, row[0])
    assert not verify_password(old_secret, row[0])
    assert row[1] > before[0]
    assert api_client.post("/v1/devices/tl-b-1/credentials", headers=keys["operator_a"]).status_code == 404
    assert api_client.post("/v1/devices/tl-b-1/credentials", headers=keys["viewer_b"]).status_code == 403


def test_last_seen_alone_does_not_bump_updated_at(
    api_db: psycopg.Connection[Any], api_client: TestClient, keys: Keys
) -> None:
    api_client.post("/v1/devices", json={"external_id": "ls-1", "model": "sonde-wq6"}, headers=keys["admin"])
    before = api_db.execute("SELECT updated_at FROM devices WHERE external_id = 'ls-1'").fetchone()
    api_db.execute(
        "INSERT INTO device_seen (device_id, last_seen)"
        " SELECT id, now() FROM devices WHERE external_id = 'ls-1'"
    )
    after = api_db.execute("SELECT updated_at FROM devices WHERE external_id = 'ls-1'").fetchone()
    assert before == after
    shown = api_client.get("/v1/devices/ls-1", headers=keys["admin"]).json()
    assert shown["last_seen"] is not None  # the API's field, from device_seen
    api_db.execute("UPDATE devices SET firmware_version = '9' WHERE external_id = 'ls-1'")
    changed = api_db.execute("SELECT updated_at FROM devices WHERE external_id = 'ls-1'").fetchone()
    assert changed is not None
    assert before is not None
    assert changed[0] > before[0]


def test_devices_must_use_known_models_and_own_assets(api_client: TestClient, keys: Keys) -> None:
    _asset(api_client, keys["operator_b"], "ps-b-1")
    unknown = api_client.post(
        "/v1/devices", json={"external_id": "x-1", "model": "nope-model"}, headers=keys["admin"]
    )
    assert unknown.status_code == 422
    assert unknown.json()["type"] == "/problems/invalid-reference"
    foreign = api_client.post(
        "/v1/devices",
        json={"external_id": "x-2", "model": "sonde-wq6", "asset": "ps-b-1"},
        headers=keys["operator_a"],
    )
    assert foreign.status_code == 422
    taken = api_client.post(
        "/v1/devices", json={"external_id": "x-3", "model": "sonde-wq6"}, headers=keys["admin"]
    )
    assert taken.status_code == 201
    again = api_client.post(
        "/v1/devices", json={"external_id": "x-3", "model": "sonde-wq6"}, headers=keys["admin"]
    )
    assert again.status_code == 409
    other_org = api_client.post(
        "/v1/devices",
        json={"external_id": "x-4", "model": "sonde-wq6", "organisation": "org-b"},
        headers=keys["operator_a"],
    )
    assert other_org.status_code == 404  # org-b is invisible to org-a's operator


def test_device_list_filters(api_client: TestClient, keys: Keys) -> None:
    for n in range(3):
        api_client.post(
            "/v1/devices", json={"external_id": f"f-a-{n}", "model": "sonde-wq6"}, headers=keys["operator_a"]
        )
    api_client.post(
        "/v1/devices",
        json={"external_id": "f-b-0", "model": "loopcount-il200", "state": "active"},
        headers=keys["operator_b"],
    )
    api_client.post("/v1/devices/f-a-1/state", json={"state": "active"}, headers=keys["operator_a"])

    def ids(headers: dict[str, str], **params: str) -> list[str]:
        return [
            d["external_id"]
            for d in api_client.get("/v1/devices", params=params, headers=headers).json()["items"]
        ]

    assert ids(keys["admin"]) == ["f-a-0", "f-a-1", "f-a-2", "f-b-0"]
    assert ids(keys["viewer_a"]) == ["f-a-0", "f-a-1", "f-a-2"]
    assert ids(keys["admin"], state="active") == ["f-a-1", "f-b-0"]
    assert ids(keys["admin"], model="loopcount-il200") == ["f-b-0"]
    assert ids(keys["admin"], organisation="org-a", state="provisioned") == ["f-a-0", "f-a-2"]
