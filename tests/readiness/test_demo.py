"""Demo data in readiness: flagged assets (``assets.demo``) are counted and labelled by default and
left out of every figure — live, snapshot history and gaps — with ``include_demo=false``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from hatang.settings import ReadinessSettings
from registry.readiness import snapshots
from tests.plugins.api import Keys
from tests.plugins.readiness import EXPECTED, World


def _by_sector(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["sector"]: s for s in body["sectors"]}


def test_demo_assets_are_labelled_and_can_be_left_out(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    with psycopg.connect(readiness_world_now.db_url, autocommit=True) as conn:
        flagged = conn.execute(
            "UPDATE assets SET demo = true WHERE sector = 'water' AND essential RETURNING id"
        ).fetchall()
    assert flagged  # the world has essential water assets: the positive check
    expected = EXPECTED[(None, None)]
    water_essential, _, water_ready = expected["water"]

    with_demo = api_client.get("/v1/readiness", headers=keys["viewer_a"]).json()
    assert with_demo["include_demo"] is True
    water = _by_sector(with_demo)["water"]
    assert (water["essential"], water["ready"]) == (water_essential, water_ready)
    assert (water["demo_essential"], water["demo_ready"]) == (water_essential, water_ready)
    assert _by_sector(with_demo)["transport"]["demo_essential"] == 0

    real = api_client.get("/v1/readiness", params={"include_demo": "false"}, headers=keys["viewer_a"]).json()
    assert real["include_demo"] is False
    assert _by_sector(real)["water"]["essential"] == 0
    assert _by_sector(real)["water"]["status"] == "no_assets"
    assert _by_sector(real)["water"]["demo_essential"] is None
    assert _by_sector(real)["transport"]["essential"] == expected["transport"][0]
    assert real["total"]["essential"] == with_demo["total"]["essential"] - water_essential

    gaps = api_client.get("/v1/readiness/gaps", params={"sector": "water"}, headers=keys["admin"]).json()
    assert gaps["items"]  # not-ready water assets exist with demo data in
    none = api_client.get(
        "/v1/readiness/gaps", params={"sector": "water", "include_demo": "false"}, headers=keys["admin"]
    ).json()
    assert none["items"] == []

    assets = api_client.get("/v1/assets", params={"demo": "true"}, headers=keys["admin"]).json()["items"]
    assert {a["sector"] for a in assets} == {"water"}
    assert all(a["demo"] for a in assets)


def test_snapshots_keep_the_figures_without_demo_data(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    with psycopg.connect(readiness_world_now.db_url, autocommit=True) as conn:
        conn.execute("UPDATE assets SET demo = true WHERE sector = 'water' AND essential")
    yesterday = readiness_world_now.now - timedelta(days=1)

    async def take() -> snapshots.Taken:
        async with await psycopg.AsyncConnection.connect(readiness_world_now.db_url, autocommit=True) as conn:
            return await snapshots.take(conn, settings=ReadinessSettings(), now=yesterday)

    taken = asyncio.run(take())
    assert taken.rows > 0
    day = taken.day.isoformat()  # the province's calendar day (Asia/Ho_Chi_Minh), not the machine's
    params: dict[str, str] = {"from": day, "to": day}
    both = api_client.get("/v1/readiness/history", params=params, headers=keys["admin"]).json()
    real = api_client.get(
        "/v1/readiness/history", params={**params, "include_demo": "false"}, headers=keys["admin"]
    ).json()
    water_all = next(s for s in both["sectors"] if s["sector"] == "water")["points"]
    water_real: list[dict[str, Any]] = next(
        (s["points"] for s in real["sectors"] if s["sector"] == "water"), []
    )
    assert water_all
    assert water_all[0]["essential"] > 0
    assert all(p["essential"] == 0 for p in water_real)
