"""Low-latency IoT readiness of the zones: service, API, snapshots, the command and the zone registry."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hatang.cli import build_parser
from hatang.settings import ReadinessSettings, Settings
from registry.audit import CLI
from registry.readiness import snapshots
from registry.zones import list_zones, load_zones, packaged_zones
from tests.plugins.api import Keys
from tests.plugins.zones import EXPECTED_TOTAL, EXPECTED_ZONES, ZoneWorld


def _verdicts(body: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        z["code"]: (
            z["ready"], z["reason"], z["active_devices"], z["fresh_devices"], z["messages"], z["latency_s"]
        )
        for z in body["zones"]
    }  # fmt: skip


def test_every_case_of_the_rule_through_the_api(
    zone_world: ZoneWorld, api_client: TestClient, keys: Keys
) -> None:
    response = api_client.get("/v1/readiness/zones", headers=keys["viewer_b"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "live"
    assert (body["latency_bound_s"], body["quantile"], body["freshness_window_h"]) == (1.0, "0.95", 24)
    assert _verdicts(body) == EXPECTED_ZONES
    total = body["total"]
    assert {k: total[k] for k in EXPECTED_TOTAL} == EXPECTED_TOTAL
    assert (total["target_share"], total["deadline"]) == ("1.0000", "2025-12-31")
    assert "II.2" in total["target_source"]


def test_a_tighter_bound_makes_the_ready_zone_slow(
    zone_world: ZoneWorld, api_client: TestClient, keys: Keys
) -> None:
    api_client.app.state.settings.readiness.zone_latency_bound_s = 0.1  # type: ignore[attr-defined]
    body = api_client.get("/v1/readiness/zones", headers=keys["admin"]).json()
    ready = next(z for z in body["zones"] if z["code"] == "z-ready")
    assert (ready["ready"], ready["reason"], ready["latency_s"]) == (False, "slow", 0.25)


def test_past_days_come_from_zone_snapshots(
    zone_world: ZoneWorld, api_client: TestClient, keys: Keys
) -> None:
    yesterday = zone_world.now - timedelta(days=1)

    async def main() -> snapshots.Taken:
        async with await psycopg.AsyncConnection.connect(zone_world.world.db_url, autocommit=True) as conn:
            return await snapshots.take(conn, settings=ReadinessSettings(), now=yesterday)

    taken = asyncio.run(main())
    past = api_client.get("/v1/readiness/zones", params={"at": taken.day.isoformat()}, headers=keys["admin"])
    assert past.status_code == 200, past.text
    body = past.json()
    assert body["source"] == "snapshot"
    # A day earlier the window reached back to the slow deliveries of two days ago: z-ready was slow.
    assert {z["code"]: z["reason"] for z in body["zones"]}["z-ready"] == "slow"
    missing = api_client.get("/v1/readiness/zones", params={"at": "2026-01-02"}, headers=keys["admin"])
    assert (missing.status_code, missing.json()["entity"]) == (404, "readiness snapshot")
    assert api_client.get("/v1/readiness/zones").status_code == 401
    history = api_client.get("/v1/readiness/history", headers=keys["viewer_a"]).json()
    assert [(p["day"], p["essential"]) for p in history["zones"]] == [(taken.day.isoformat(), 4)]
    scoped = api_client.get("/v1/readiness/history", params={"area": "tu-son"}, headers=keys["viewer_a"])
    assert scoped.json()["zones"] is None
    # Today's figures count yesterday's snapshot in their history.
    today = api_client.get("/v1/readiness/zones", headers=keys["admin"]).json()
    assert today["total"]["ready"] == 1


def test_latency_past_retention_is_dropped_by_the_snapshot(zone_world: ZoneWorld) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(zone_world.world.db_url, autocommit=True) as conn:
            await snapshots.take(
                conn, settings=ReadinessSettings(latency_retention_days=1), now=zone_world.now
            )

    with psycopg.connect(zone_world.world.db_url) as conn:
        before = conn.execute("SELECT count(*) FROM device_latency").fetchone()
    asyncio.run(main())
    with psycopg.connect(zone_world.world.db_url) as conn:
        after = conn.execute("SELECT count(*) FROM device_latency").fetchone()
        snapshot = conn.execute("SELECT count(*) FROM zone_snapshots").fetchone()
    assert before is not None
    assert after is not None
    assert snapshot is not None
    assert (before[0] - after[0], snapshot[0]) == (1, len(EXPECTED_ZONES))


def test_command_table_json_csv(zone_world: ZoneWorld, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=SecretStr(zone_world.world.db_url))
    outputs = {}
    for fmt in ("json", "csv", "table"):
        args = build_parser().parse_args(["readiness", "zones", "--format", fmt])
        assert args.func(args, settings) == 0
        outputs[fmt] = capsys.readouterr().out
    body = json.loads(outputs["json"])
    assert body["total"]["ready"] == 1
    assert {z["zone"]: z["reason"] for z in body["zones"]} == {k: v[1] for k, v in EXPECTED_ZONES.items()}
    rows = {r["zone"]: r for r in csv.DictReader(io.StringIO(outputs["csv"]))}
    assert (rows["z-slow"]["latency_s"], rows["z-slow"]["ready"]) == ("5.0", "False")
    assert "counted zones 4, ready 1 (25%)" in outputs["table"]


def test_zones_are_data_loaded_listed_and_added(
    db_url: str, api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    async def load() -> list[int]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            first = await load_zones(conn, specs=packaged_zones(), actor=CLI)
            second = await load_zones(conn, specs=packaged_zones(), actor=CLI)
            return [first, second, len(await list_zones(conn))]

    created, again, listed = asyncio.run(load())
    assert (created, again) == (len(packaged_zones()), 0)
    assert listed == created
    body = api_client.get("/v1/zones", params={"kind": "industrial_park"}, headers=keys["viewer_a"]).json()
    vsip = next(z for z in body if z["code"] == "vsip-bac-ninh")
    assert (vsip["approximate"], vsip["in_target"], vsip["areas"]) == (True, False, ["tien-du", "tu-son"])
    new = {
        "code": "health-hub", "name": "Trung tâm nghiên cứu Y sinh", "name_en": "Biomedical research centre",
        "kind": "research_centre", "lat": 21.18, "lon": 106.07, "radius_m": 300, "areas": ["bac-ninh-city"],
    }  # fmt: skip
    assert api_client.post("/v1/zones", json=new, headers=keys["operator_a"]).status_code == 403
    made = api_client.post("/v1/zones", json=new, headers=keys["admin"])
    assert made.status_code == 201, made.text
    assert made.json()["in_target"] is True
    assert api_client.post("/v1/zones", json=new, headers=keys["admin"]).status_code == 409
    unknown_kind = api_client.post(
        "/v1/zones", json={**new, "code": "x1", "kind": "spaceport"}, headers=keys["admin"]
    )
    assert unknown_kind.status_code == 422
    unknown_area = api_client.post(
        "/v1/zones", json={**new, "code": "x2", "areas": ["atlantis"]}, headers=keys["admin"]
    )
    assert unknown_area.status_code == 422
    far = api_client.post("/v1/zones", json={**new, "code": "x3", "radius_m": 10**9}, headers=keys["admin"])
    assert far.status_code == 422
    audit = api_db.execute(
        "SELECT count(*) FROM audit_log WHERE entity = 'zone' AND entity_id = 'health-hub'"
    )
    row = audit.fetchone()
    assert row is not None
    assert row[0] == 1
