"""``/open/v1``: off by default; when on, keyless, cacheable, licensed, rate-limited, equal to the rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hatang.cli import build_parser
from hatang.settings import ReadinessSettings, Settings
from registry.readiness import snapshots
from tests.plugins.api import Keys
from tests.plugins.timeseries import Fleet
from tests.plugins.zones import ZoneWorld


def _open(client: TestClient, *, rate: str = "1000/minute") -> None:
    settings = client.app.state.settings.open_data  # type: ignore[attr-defined]
    settings.enabled = True
    settings.rate_limit = rate


def _cli(db_url: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    args = build_parser().parse_args(argv)
    assert args.func(args, Settings(database_url=SecretStr(db_url))) == 0
    return capsys.readouterr().out


def test_off_by_default(api_client: TestClient, keys: Keys) -> None:
    for path in ("/open/v1", "/open/v1/readiness.csv", "/open/v1/assets.geojson"):
        response = api_client.get(path, headers=keys["admin"])
        assert (response.status_code, response.json()["type"]) == (404, "/problems/not-found"), path
    _open(api_client)
    assert api_client.get("/open/v1").status_code == 200  # the same request once switched on


def test_public_csv_is_the_commands_for_the_same_day(
    zone_world: ZoneWorld, api_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _open(api_client)
    db_url = zone_world.world.db_url
    response = api_client.get("/open/v1/readiness.csv")  # no key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == _cli(db_url, ["readiness", "--format", "csv"], capsys)
    assert api_client.get("/open/v1/readiness.csv", params={"area": "tu-son"}).text == _cli(
        db_url, ["readiness", "--area", "tu-son", "--format", "csv"], capsys
    )
    zones = api_client.get("/open/v1/readiness/zones.csv").text
    assert zones == _cli(db_url, ["readiness", "zones", "--format", "csv"], capsys)

    # A past day: from its snapshot, the same as the command's --at.
    async def snapshot() -> snapshots.Taken:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await snapshots.take(
                conn, settings=ReadinessSettings(), now=datetime.now(UTC) - timedelta(days=2)
            )

    day = asyncio.run(snapshot()).day.isoformat()
    past = api_client.get("/open/v1/readiness.csv", params={"at": day}).text
    assert past == _cli(db_url, ["readiness", "--at", day, "--format", "csv"], capsys)
    missing = api_client.get("/open/v1/readiness.csv", params={"at": "2026-01-03"})
    assert missing.status_code == 404


def test_json_is_the_apis_with_its_licence_and_caching(
    zone_world: ZoneWorld, api_client: TestClient, keys: Keys
) -> None:
    _open(api_client)
    response = api_client.get("/open/v1/readiness")
    assert response.status_code == 200
    body = response.json()
    assert (body["licence"], body["attribution"]) == ("CC-BY-4.0", "UBND tỉnh Bắc Ninh — hatang")
    private = api_client.get("/v1/readiness", headers=keys["viewer_a"]).json()
    assert body["data"]["sectors"] == private["sectors"]
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["link"] == '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
    etag = response.headers["etag"]
    again = api_client.get("/open/v1/readiness", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert api_client.get("/open/v1/readiness", headers={"If-None-Match": '"other"'}).status_code == 200
    zones = api_client.get("/open/v1/readiness/zones").json()["data"]
    assert zones["total"] == api_client.get("/v1/readiness/zones", headers=keys["admin"]).json()["total"]
    areas = api_client.get("/open/v1/readiness/areas").json()["data"]
    tu_son = next(a for a in areas if a["area"] == "tu-son")
    assert (
        tu_son["sectors"]
        == api_client.get("/v1/readiness", params={"area": "tu-son"}, headers=keys["admin"]).json()["sectors"]
    )
    areas_csv = api_client.get("/open/v1/readiness/areas.csv").text.splitlines()
    assert areas_csv[0] == "area,sector,essential,equipped,ready,ready_share,status"
    assert "tu-son,transport,5,2,1,0.2,missed" in areas_csv


def test_geojson_shows_readiness_and_device_ids_only_when_allowed(
    zone_world: ZoneWorld, api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    _open(api_client)
    api_db.execute(
        "UPDATE assets SET lat = 21.1, lon = 106.0 + id * 0.001 WHERE external_id IN ('T1', 'T5', 'T6', 'W1')"
    )
    api_db.commit()
    body = api_client.get("/open/v1/assets.geojson").json()
    features = {f["properties"]["id"]: f for f in body["features"]}
    assert body["licence"] == "CC-BY-4.0"
    # Essential assets with a position only (the zone world's are not essential).
    assert {k: f["properties"]["status"] for k, f in features.items()} == {
        "T1": "no_device", "T5": "ready", "T6": "never_reported", "W1": "ready",
    }  # fmt: skip
    assert features["T5"]["geometry"]["type"] == "Point"
    assert all("devices" not in f["properties"] for f in features.values())
    paged = api_client.get("/open/v1/assets.geojson", params={"limit": 3}).json()
    assert len(paged["features"]) == 3
    rest = api_client.get("/open/v1/assets.geojson", params={"after": paged["next_after"]}).json()
    assert [f["properties"]["id"] for f in paged["features"] + rest["features"]] == sorted(
        features, key=lambda k: zone_world.world.assets[k]
    )
    # evn-bn (owner of T6 and W1) allows its device identifiers; so-gtvt (T1, T5) does not.
    denied = api_client.put(
        "/v1/organisations/evn-bn/open-data", json={"device_ids": True}, headers=keys["operator_a"]
    )
    assert denied.status_code == 403
    allowed = api_client.put(
        "/v1/organisations/evn-bn/open-data", json={"device_ids": True}, headers=keys["admin"]
    )
    assert allowed.status_code == 200, allowed.text
    assert (
        api_client.put(
            "/v1/organisations/nobody/open-data", json={"device_ids": True}, headers=keys["admin"]
        ).status_code
        == 404
    )
    body = api_client.get("/open/v1/assets.geojson").json()
    devices = {f["properties"]["id"]: f["properties"].get("devices") for f in body["features"]}
    assert devices["W1"]
    assert devices["T6"]
    assert (devices["T1"], devices["T5"]) == (None, None)
    text = api_client.get("/open/v1/assets.geojson").text
    assert "mqtt" not in text
    assert "$7$" not in text


def test_hourly_aggregates_per_area_equal_the_private_api(
    api_client: TestClient, keys: Keys, fleet: Fleet
) -> None:
    _open(api_client)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    times = [start + timedelta(minutes=10 * i) for i in range(18)]
    fleet.add_readings("wq-1", "water_temperature", times, values=[float(i) for i in range(18)])
    params = {
        "metric": "water_temperature",
        "from": start.isoformat(),
        "to": (start + timedelta(hours=3)).isoformat(),
    }
    body = api_client.get("/open/v1/aggregates/hourly", params=params).json()
    private = api_client.get(
        "/v1/readings/aggregate",
        params={"metric": "water_temperature", "group_by": "area", "bucket": "1h",
                "start": params["from"], "end": params["to"]},
        headers=keys["admin"],
    ).json()  # fmt: skip
    assert [(i["area"], i["count"], i["avg"]) for i in body["data"]["items"]] == [
        (i["group"], i["count"], i["avg"]) for i in private["items"]
    ]
    assert [i["count"] for i in body["data"]["items"]] == [6, 6, 6]
    csv_lines = api_client.get("/open/v1/aggregates/hourly.csv", params=params).text.splitlines()
    assert csv_lines[0] == "bucket,area,count,avg,min,max,last,last_time"
    assert len(csv_lines) == 4
    too_long = {**params, "to": (start + timedelta(days=40)).isoformat()}
    assert api_client.get("/open/v1/aggregates/hourly", params=too_long).status_code == 422
    assert (
        api_client.get("/open/v1/aggregates/hourly", params={**params, "metric": "nope"}).status_code == 404
    )


def test_rate_limit_per_client(api_client: TestClient) -> None:
    _open(api_client, rate="5/minute")
    statuses = [api_client.get("/open/v1").status_code for _ in range(5)]
    assert statuses == [200] * 5  # the limit could be reached: five requests got through
    limited = api_client.get("/open/v1")
    assert limited.status_code == 429
    assert limited.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
