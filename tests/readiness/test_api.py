"""``/v1/readiness`` through the real app: the hand-computed province, roles, problems, targets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from hatang.settings import ReadinessSettings
from registry.readiness import snapshots
from tests.plugins.api import Keys
from tests.plugins.readiness import EXPECTED, EXPECTED_GAPS, World


def _figures(body: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {
        s["sector"]: (s["essential"], s["equipped"], s["ready"]) for s in body["sectors"] if s["essential"]
    }


@pytest.mark.parametrize(("area", "organisation"), [(None, None), ("tu-son", None), ("que-vo", "so-gtvt")])
def test_any_role_reads_the_figures(
    readiness_world_now: World, api_client: TestClient, keys: Keys, area: str | None, organisation: str | None
) -> None:
    params = {k: v for k, v in {"area": area, "organisation": organisation}.items() if v}
    response = api_client.get("/v1/readiness", params=params, headers=keys["viewer_b"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "live"
    assert body["freshness_window_h"] == 24
    assert _figures(body) == EXPECTED[(area, organisation)]


def test_statuses_and_assets_still_needed(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    body = api_client.get("/v1/readiness", headers=keys["viewer_a"]).json()
    by_sector = {s["sector"]: s for s in body["sectors"]}
    assert {k: by_sector["transport"][k] for k in ("required", "still_needed", "status", "deadline")} == {
        "required": 3, "still_needed": 1, "status": "missed", "deadline": "2025-12-31",
    }  # fmt: skip
    assert {k: by_sector["water"][k] for k in ("ready_share", "still_needed", "status")} == {
        "ready_share": 0.4, "still_needed": 0, "status": "met",
    }  # fmt: skip
    assert by_sector["energy"]["status"] == "no_assets"
    assert body["total"] == {"essential": 12, "equipped": 7, "ready": 4, "ready_share": 4 / 12}


def test_problems(readiness_world_now: World, api_client: TestClient, keys: Keys) -> None:
    assert api_client.get("/v1/readiness").status_code == 401
    unknown = api_client.get("/v1/readiness", params={"area": "nowhere"}, headers=keys["admin"])
    assert (unknown.status_code, unknown.json()["type"]) == (404, "/problems/not-found")
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert api_client.get("/v1/readiness", params={"at": future}, headers=keys["admin"]).status_code == 422
    missing = api_client.get("/v1/readiness", params={"at": "2026-01-01"}, headers=keys["admin"])
    assert (missing.status_code, missing.json()["entity"]) == (404, "readiness snapshot")
    backwards = api_client.get(
        "/v1/readiness/history", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=keys["admin"]
    )
    assert backwards.status_code == 422


def test_a_past_day_and_the_history_come_from_snapshots(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    settings = ReadinessSettings()
    yesterday = readiness_world_now.now - timedelta(days=1)

    async def snapshot(conn: psycopg.AsyncConnection[Any]) -> snapshots.Taken:
        return await snapshots.take(conn, settings=settings, now=yesterday)

    async def main() -> snapshots.Taken:
        async with await psycopg.AsyncConnection.connect(readiness_world_now.db_url, autocommit=True) as conn:
            return await snapshot(conn)

    taken = asyncio.run(main())
    day = taken.day.isoformat()
    past = api_client.get("/v1/readiness", params={"at": day, "area": "que-vo"}, headers=keys["viewer_a"])
    assert past.status_code == 200, past.text
    assert past.json()["source"] == "snapshot"
    # A day earlier the silent devices (3 days) were 2 days silent: still outside 24 h; same figures.
    assert _figures(past.json()) == EXPECTED[("que-vo", None)]
    history = api_client.get(
        "/v1/readiness/history", params={"area": "que-vo"}, headers=keys["viewer_a"]
    ).json()
    water = next(s for s in history["sectors"] if s["sector"] == "water")
    assert [(p["day"], p["ready"]) for p in water["points"]] == [(day, 2)]
    assert water["latest"]["status"] == "met"


def test_gaps_for_admins_and_within_an_organisation(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    seen: dict[str, str] = {}
    params: dict[str, str | int] = {"limit": 3}
    while True:
        body = api_client.get("/v1/readiness/gaps", params=params, headers=keys["admin"]).json()
        seen.update({g["external_id"]: g["reason"] for g in body["items"]})
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == EXPECTED_GAPS
    assert body["summary"]["silent"] == {"transport": 1, "water": 1}
    # A viewer of org-a sees only org-a's assets (none here), and other organisations not at all.
    own = api_client.get("/v1/readiness/gaps", headers=keys["viewer_a"]).json()
    assert own["items"] == []
    hidden = api_client.get("/v1/readiness/gaps", params={"organisation": "evn-bn"}, headers=keys["viewer_a"])
    assert hidden.status_code == 404
    silent = api_client.get(
        "/v1/readiness/gaps", params={"reason": "silent", "sector": "water"}, headers=keys["admin"]
    ).json()
    assert [g["external_id"] for g in silent["items"]] == ["W3"]
    assert silent["items"][0]["fitting_devices"] == 1


def test_admins_change_targets_and_others_read_them(
    readiness_world_now: World, api_client: TestClient, keys: Keys
) -> None:
    listed = api_client.get("/v1/readiness/targets", headers=keys["viewer_a"]).json()
    assert len(listed) == 5
    new = {"sector": "water", "share": "0.8", "deadline": "2030-12-31", "source": "next plan"}
    assert api_client.post("/v1/readiness/targets", json=new, headers=keys["operator_a"]).status_code == 403
    created = api_client.post("/v1/readiness/targets", json=new, headers=keys["admin"])
    assert created.status_code == 201, created.text
    assert api_client.post("/v1/readiness/targets", json=new, headers=keys["admin"]).status_code == 409
    bad = api_client.post("/v1/readiness/targets", json={**new, "share": "1.5"}, headers=keys["admin"])
    assert bad.status_code == 422
    # The 2030 target now applies: 2 of 5 water assets against 80% needs 2 more, on a later deadline.
    water = next(
        s
        for s in api_client.get("/v1/readiness", headers=keys["admin"]).json()["sectors"]
        if s["sector"] == "water"
    )
    assert (water["target_share"], water["deadline"], water["still_needed"]) == ("0.8000", "2030-12-31", 2)
    assert water["status"] == "behind"
    changed = api_client.put(
        "/v1/readiness/targets/water/2030-12-31", json={"share": "0.4"}, headers=keys["admin"]
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["share"] == "0.4000"
    missing = api_client.put(
        "/v1/readiness/targets/water/2031-12-31", json={"share": "0.4"}, headers=keys["admin"]
    )
    assert missing.status_code == 404
