"""``/v1/readings``, ``/v1/readings/aggregate``, ``/v1/latest`` and ``/v1/device-health`` over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.plugins.api import Keys
from tests.plugins.timeseries import Fleet

T0 = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def _times(n: int, step_s: float = 20) -> list[datetime]:
    return [T0 + timedelta(seconds=i * step_s) for i in range(n)]


def test_raw_readings_page_through_a_range(api_client: TestClient, keys: Keys, fleet: Fleet) -> None:
    rows = fleet.add_readings("wq-1", "water_temperature", _times(25))
    url = "/v1/readings"
    params: dict[str, str | int] = {"device": "wq-1", "metric": "water_temperature", "start": T0.isoformat(),
                                    "end": (T0 + timedelta(hours=1)).isoformat(), "limit": 10}  # fmt: skip
    seen: list[tuple[str, float]] = []
    cursor = None
    for _ in range(5):
        response = api_client.get(url, params={**params, **({"cursor": cursor} if cursor else {})},
                                  headers=keys["admin"])  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [(item["time"], item["value"]) for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [v for _, v in seen] == [v for _, v in rows]
    assert [datetime.fromisoformat(t) for t, _ in seen] == [t for t, _ in rows]
    newest = api_client.get(url, params={**params, "order": "desc", "limit": 1}, headers=keys["admin"]).json()
    assert newest["items"][0]["value"] == rows[-1][1]


def test_other_organisations_devices_are_not_found(api_client: TestClient, keys: Keys, fleet: Fleet) -> None:
    fleet.add_readings("wq-1", "water_temperature", _times(3))
    params = {"device": "wq-1", "metric": "water_temperature", "start": T0.isoformat()}
    assert api_client.get("/v1/readings", params=params, headers=keys["viewer_a"]).status_code == 200
    response = api_client.get("/v1/readings", params=params, headers=keys["viewer_b"])
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    params["metric"] = "no_such_metric"
    unknown = api_client.get("/v1/readings", params=params, headers=keys["admin"])
    assert unknown.status_code == 404
    # The aggregate endpoint agrees (finding 11): another organisation's device is a 404, not [].
    aggregate = {"device": "wq-1", "metric": "water_temperature", "bucket": "1h", "start": T0.isoformat()}
    visible = api_client.get("/v1/readings/aggregate", params=aggregate, headers=keys["viewer_a"])
    assert visible.status_code == 200
    hidden = api_client.get("/v1/readings/aggregate", params=aggregate, headers=keys["viewer_b"])
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"


def test_aggregate_by_sector_and_device(api_client: TestClient, keys: Keys, fleet: Fleet) -> None:
    fleet.add_readings("wq-1", "water_temperature", _times(6, 600), values=[1, 2, 3, 4, 5, 6])
    fleet.add_readings("wq-2", "water_temperature", _times(6, 600), values=[10, 20, 30, 40, 50, 60])
    params = {"metric": "water_temperature", "bucket": "30m", "group_by": "sector",
              "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}  # fmt: skip
    body = api_client.get("/v1/readings/aggregate", params=params, headers=keys["admin"]).json()
    assert body["source"] == "tables"
    assert body["bucket"] == "30m"
    first, second = body["items"]
    assert (first["group"], first["count"], first["sum"]) == ("water", 6, 66)
    assert (first["min"], first["max"]) == (1, 30)
    assert first["avg"] == 11
    assert (second["count"], second["last"]) == (6, 60)  # at 03:50 both report; wq-2 has the larger id
    by_device = api_client.get(
        "/v1/readings/aggregate",
        params={**params, "group_by": "device", "bucket": "1h"},
        headers=keys["viewer_a"],
    ).json()
    assert [(i["group"], i["sum"]) for i in by_device["items"]] == [("wq-1", 21), ("wq-2", 210)]
    hidden = api_client.get("/v1/readings/aggregate", params=params, headers=keys["viewer_b"]).json()
    assert hidden["items"] == []


def test_aggregate_refuses_a_bad_bucket_and_too_many_rows(
    api_client: TestClient, keys: Keys, fleet: Fleet
) -> None:
    params = {"metric": "water_temperature", "bucket": "2d", "start": T0.isoformat()}
    response = api_client.get("/v1/readings/aggregate", params=params, headers=keys["admin"])
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-reference"
    fleet.add_readings("wq-1", "water_temperature", _times(200, 60))
    api_client.app.state.settings = api_client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"timeseries": api_client.app.state.settings.timeseries.model_copy(  # type: ignore[attr-defined]
            update={"max_aggregate_rows": 100})}
    )  # fmt: skip
    response = api_client.get(
        "/v1/readings/aggregate",
        params={**params, "bucket": "1m", "end": (T0 + timedelta(hours=4)).isoformat()},
        headers=keys["admin"],
    )  # fmt: skip
    assert response.status_code == 422
    assert "more than 100 rows" in response.json()["detail"]


def test_latest_and_device_health(api_client: TestClient, keys: Keys, fleet: Fleet) -> None:
    now = datetime.now(UTC)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(minutes=1)], values=[28.5])
    fleet.add_readings("wq-2", "water_temperature", [now - timedelta(hours=3)], values=[27.0])
    fleet.add_readings("loop-1", "traffic_vehicle_count", [now - timedelta(minutes=2)], values=[12])
    latest = api_client.get("/v1/latest", params={"sector": "water"}, headers=keys["admin"]).json()
    assert [(i["device"], i["metric"], i["value"], i["area"]) for i in latest["items"]] == [
        ("wq-1", "water_temperature", 28.5, "dong-ngan"),
        ("wq-2", "water_temperature", 27.0, "dong-ngan"),
    ]
    tu_son = api_client.get("/v1/latest", params={"area": "tu-son"}, headers=keys["admin"]).json()
    assert {i["device"] for i in tu_son["items"]} == {"wq-1", "wq-2"}
    as_b = api_client.get("/v1/latest", headers=keys["viewer_b"]).json()
    assert [i["device"] for i in as_b["items"]] == ["loop-1"]
    health = api_client.get("/v1/device-health", params={"window_s": 900}, headers=keys["admin"]).json()
    assert health["sectors"]["water"] == {"online": 1, "silent": 2, "suspended": 0, "provisioned": 0}
    assert health["sectors"]["transport"] == {"online": 1, "silent": 0, "suspended": 1, "provisioned": 0}
    assert health["sectors"]["energy"] == {"online": 0, "silent": 0, "suspended": 0, "provisioned": 0}
