"""Bulk onboarding: a realistic upload (5,000 devices), per-row reports, idempotent retries, atomicity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from registry.mosquitto import verify_password
from tests.plugins.api import Keys

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def _lines(response: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [json.loads(line) for line in response.text.splitlines()]
    return lines[0]["summary"], lines[1:]


def _ndjson(count: int, prefix: str = "bk") -> Iterator[bytes]:
    # Streamed in many small chunks that split lines anywhere, as a real upload arrives.
    buffer = b""
    for n in range(count):
        row = {
            "external_id": f"{prefix}-{n:06d}",
            "model": "sonde-wq6",
            "state": "active" if n % 2 else "provisioned",
        }
        buffer += json.dumps(row).encode() + b"\n"
        if len(buffer) > 7_000:
            yield buffer[:5_003]
            buffer = buffer[5_003:]
    yield buffer


def test_five_thousand_devices_onboard_in_one_request_and_a_retry_changes_nothing(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    response = api_client.post(
        "/v1/bulk/devices", content=_ndjson(5000), headers={**keys["operator_a"], **NDJSON}
    )
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/x-ndjson")
    summary, rows = _lines(response)
    assert summary == {"entity": "devices", "rows": 5000, "created": 5000, "exists": 0, "failed": 0,
                       "atomic": False, "written": True}  # fmt: skip
    assert [row["line"] for row in rows] == list(range(1, 5001))
    assert {row["status"] for row in rows} == {"created"}
    stored = dict(api_db.execute("SELECT external_id, mqtt_secret_hash FROM devices").fetchall())
    assert len(stored) == 5000
    for row in rows[:3] + rows[-3:]:
        assert row["mqtt_username"] == row["external_id"]
        assert verify_password(row["mqtt_secret"], stored[row["external_id"]])
    assert len({row["mqtt_secret"] for row in rows}) == 5000
    states = dict(api_db.execute("SELECT state, count(*) FROM devices GROUP BY state").fetchall())
    assert states == {"active": 2500, "provisioned": 2500}
    audited = api_db.execute(
        "SELECT count(*) FROM audit_log WHERE entity = 'device' AND action = 'create'"
    ).fetchone()
    assert audited == (5000,)

    again = api_client.post(
        "/v1/bulk/devices", content=_ndjson(5000), headers={**keys["operator_a"], **NDJSON}
    )
    summary, rows = _lines(again)
    assert summary["created"] == 0
    assert summary["exists"] == 5000
    assert all("mqtt_secret" not in row for row in rows)
    assert dict(api_db.execute("SELECT external_id, mqtt_secret_hash FROM devices").fetchall()) == stored


def test_partial_upload_reports_every_bad_row_and_writes_the_good_ones(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    api_client.post(
        "/v1/devices", json={"external_id": "taken-by-b", "model": "sonde-wq6"}, headers=keys["operator_b"]
    )
    api_client.post(
        "/v1/assets",
        json={"external_id": "ps-a", "area": "que-vo", "sector": "water", "kind": "pumping_station"},
        headers=keys["operator_a"],
    )
    csv_body = "\n".join(
        [
            "external_id,model,model_version,organisation,asset,state,metadata",
            'ok-1,sonde-wq6,,,ps-a,active,"{""depth"": 3}"',
            "ok-2,sonde-wq6,1,org-a,,,",
            "Bad Id,sonde-wq6,,,,,",
            "bad-model,no-such-model,,,,,",
            "bad-version,sonde-wq6,99,,,,",
            "ok-1,sonde-wq6,,,,,",
            "other-org,sonde-wq6,,org-b,,,",
            "taken-by-b,sonde-wq6,,,,,",
            "bad-asset,sonde-wq6,,,nope,,",
            "bad-state,sonde-wq6,,,,retired,",
            "bad-meta,sonde-wq6,,,,,[1]",
            "short,row",
        ]
    )
    response = api_client.post(
        "/v1/bulk/devices", content=csv_body.encode(), headers={**keys["operator_a"], **CSV}
    )
    assert response.status_code == 200, response.text
    summary, rows = _lines(response)
    by_line = {row["line"]: row for row in rows}
    assert summary["created"] == 2
    assert summary["failed"] == 10
    assert [by_line[n]["status"] for n in (2, 3)] == ["created", "created"]
    reasons = {n: " ".join(by_line[n]["errors"]) for n in range(4, 14)}
    assert "external_id" in reasons[4]
    assert "model" in reasons[5]
    assert "model" in reasons[6]
    assert "repeats line 2" in reasons[7]
    assert "organisation" in reasons[8]
    assert "another organisation" in reasons[9]
    assert "asset" in reasons[10]
    assert "state" in reasons[11]
    assert "metadata" in reasons[12]
    assert "fields" in reasons[13]
    assert api_db.execute("SELECT metadata, state FROM devices WHERE external_id = 'ok-1'").fetchone() == (
        {"depth": 3}, "active",
    )  # fmt: skip


def test_atomic_upload_writes_nothing_when_a_row_is_bad(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    body = b'{"external_id": "at-1", "model": "sonde-wq6"}\n{"external_id": "at-2", "model": "nope"}\n'
    response = api_client.post("/v1/bulk/devices", params={"atomic": "true"}, content=body,
                               headers={**keys["admin"], **NDJSON})  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/bulk-rejected"
    assert problem["summary"]["written"] is False
    assert [row["line"] for row in problem["rows"]] == [2]
    assert api_db.execute("SELECT count(*) FROM devices").fetchone() == (0,)


def test_bulk_assets_and_bad_requests(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    body = "external_id,area,sector,kind,name,lat,lon,essential\n" + "\n".join(
        f"xf-{n},gia-binh,electricity,transformer,Máy biến áp {n},21.06,106.18,true" for n in range(50)
    )
    response = api_client.post(
        "/v1/bulk/assets", content=body.encode(), headers={**keys["operator_b"], **CSV}
    )
    summary, _ = _lines(response)
    assert summary["created"] == 50
    owners = api_db.execute(
        "SELECT DISTINCT o.slug FROM assets a JOIN organisations o ON o.id = a.organisation_id"
    )
    assert owners.fetchall() == [("org-b",)]
    wrong_type = api_client.post(
        "/v1/bulk/assets", content=b"{}", headers={**keys["admin"], "Content-Type": "text/xml"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["type"] == "/problems/unsupported-media-type"
    viewer = api_client.post("/v1/bulk/assets", content=body.encode(), headers={**keys["viewer_b"], **CSV})
    assert viewer.status_code == 403
    garbage = api_client.post(
        "/v1/bulk/devices", content=b"\xff\xfe\x00garbage\n{]", headers={**keys["admin"], **NDJSON}
    )
    assert garbage.status_code == 200
    summary, rows = _lines(garbage)
    assert summary["failed"] == 2
    assert rows[0]["errors"] == ["not UTF-8"]
