"""Hostile input never crashes a request: each is a 4xx problem+json with a clear message (finding 8),
bulk uploads report per row, and reserved device ids are refused (finding 1)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.plugins.api import Keys

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


def _asset(api_client: TestClient, keys: Keys, external_id: str) -> None:
    body = {"external_id": external_id, "area": "tien-du", "sector": "water", "kind": "pumping_station"}
    assert api_client.post("/v1/assets", json=body, headers=keys["operator_a"]).status_code == 201


def test_lone_surrogates_are_a_422(api_client: TestClient, keys: Keys) -> None:
    # JSON may spell a lone surrogate; no UTF-8 text (so no database column) can hold one.
    device = '{"external_id": "wq-sur-1", "model": "sonde-wq6", "firmware_version": "2.\\udc00"}'
    body = _problem(
        api_client.post("/v1/devices", content=device, headers={**keys["operator_a"], **JSON}), 422
    )
    assert "Unicode" in json.dumps(body)
    asset = (
        '{"external_id": "ps-sur-1", "area": "tien-du", "sector": "water", "kind": "pumping_station",'
        ' "name": "\\ud800"}'
    )
    _problem(api_client.post("/v1/assets", content=asset, headers={**keys["operator_a"], **JSON}), 422)
    metadata = '{"external_id": "wq-sur-2", "model": "sonde-wq6", "metadata": {"k": "\\udc00"}}'
    _problem(api_client.post("/v1/devices", content=metadata, headers={**keys["operator_a"], **JSON}), 422)
    org = '{"slug": "sur", "name": "\\udc00"}'
    _problem(api_client.post("/v1/organisations", content=org, headers={**keys["admin"], **JSON}), 422)
    assert api_client.get("/v1/devices/wq-sur-1", headers=keys["operator_a"]).status_code == 404


def test_one_bad_ndjson_row_is_reported_alone(api_client: TestClient, keys: Keys) -> None:
    rows = [
        '{"external_id": "nd-ok-1", "model": "sonde-wq6"}',
        '{"external_id": "nd-bad-2", "model": "sonde-wq6", "firmware_version": "\\ud800"}',
        '{"external_id": "nd-ok-3", "model": "sonde-wq6"}',
    ]
    response = api_client.post(
        "/v1/bulk/devices", content="\n".join(rows).encode(), headers={**keys["operator_a"], **NDJSON}
    )
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    by_line = {line["line"]: line for line in lines[1:]}
    assert by_line[1]["status"] == "created"
    assert by_line[3]["status"] == "created"
    assert by_line[2]["status"] != "created"
    assert "Unicode" in " ".join(by_line[2]["errors"])


def test_a_bulk_csv_of_one_quote_is_a_per_row_report(api_client: TestClient, keys: Keys) -> None:
    response = api_client.post(
        "/v1/bulk/devices?atomic=true", content=b'"', headers={**keys["operator_a"], **CSV}
    )
    body = _problem(response, 422)
    assert body["type"] == "/problems/bulk-rejected"
    assert "bulk_devices_pkey" not in response.text
    plain = api_client.post("/v1/bulk/devices", content=b'"\nx,y\n', headers={**keys["operator_a"], **CSV})
    assert plain.status_code == 200, plain.text
    reports = [json.loads(line) for line in plain.text.splitlines()][1:]
    assert [r["line"] for r in reports] == [1, 2]
    assert "header row" in reports[0]["errors"][0]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-01-01T00:00:00"},  # naive: no UTC offset
        {"end": "2026-01-01T00:00:00"},
        {"start": "0001-01-01T00:00:00Z"},
        {"start": "9998-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"},
    ],
)
def test_hostile_times_on_readings_are_a_422(
    api_client: TestClient, keys: Keys, params: dict[str, str]
) -> None:
    base = {"device": "wq-none-1", "metric": "water_level"}
    _problem(api_client.get("/v1/readings", params={**base, **params}, headers=keys["admin"]), 422)
    aggregate = {"metric": "water_level", "bucket": "1h", **params}
    _problem(api_client.get("/v1/readings/aggregate", params=aggregate, headers=keys["admin"]), 422)


def test_hostile_days_on_readiness_are_a_422(api_client: TestClient, keys: Keys) -> None:
    _problem(api_client.get("/v1/readiness", params={"at": "0001-01-01"}, headers=keys["admin"]), 422)
    _problem(api_client.get("/v1/readiness", params={"at": "9999-12-31"}, headers=keys["admin"]), 422)


def test_reserved_device_ids_are_refused_everywhere(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    for name in (
        "hatang-service",
        "hatang-ingest",
        "hatang-api",
        "hatang-simulator",
        "hatang-ingest-compose-0",
    ):
        body = {"external_id": name, "model": "sonde-wq6"}
        problem = _problem(api_client.post("/v1/devices", json=body, headers=keys["operator_a"]), 422)
        assert "reserved" in json.dumps(problem)
    upload = b'{"external_id": "hatang-service", "model": "sonde-wq6"}\n'
    response = api_client.post("/v1/bulk/devices", content=upload, headers={**keys["operator_a"], **NDJSON})
    report = [json.loads(line) for line in response.text.splitlines()][1]
    assert report["status"] != "created"
    assert "reserved" in " ".join(report["errors"])
    assert api_db.execute("SELECT count(*) FROM devices WHERE external_id LIKE 'hatang%'").fetchone() == (0,)


def test_the_last_admin_key_of_an_organisation_cannot_be_revoked(api_client: TestClient, keys: Keys) -> None:
    """Finding 11: an admin cannot lock the organisation out of the API (recovery: `hatang keys create`)."""
    me = api_client.get("/v1/keys", headers=keys["admin"]).json()["items"]
    (only,) = [k for k in me if k["role"] == "admin" and k["organisation"] == "city" and not k["revoked_at"]]
    refused = api_client.delete(f"/v1/keys/{only['id']}", headers=keys["admin"])
    body = _problem(refused, 409)
    assert "last admin key" in body["detail"]
    second = api_client.post("/v1/keys", json={"role": "admin", "name": "spare"}, headers=keys["admin"])
    assert second.status_code == 201, second.text
    assert api_client.delete(f"/v1/keys/{only['id']}", headers=keys["admin"]).status_code == 204
    spare = {"Authorization": f"Bearer {second.json()['token']}"}
    assert api_client.get("/v1/keys", headers=spare).status_code == 200
