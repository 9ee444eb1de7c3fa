"""Areas are data: re-parenting and retiring keep the history (the 2025 reorganisation as a test)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.plugins.api import Keys


def test_reorganisation_is_a_data_change_that_keeps_history(api_client: TestClient, keys: Keys) -> None:
    admin = keys["admin"]
    listed = api_client.get("/v1/areas", params={"level": "district"}, headers=keys["viewer_a"]).json()
    assert len(listed["items"]) == 8
    commune = {"code": "dong-nguyen", "name": "Phường Đông Ngàn", "level": "commune", "parent": "tu-son"}
    assert api_client.post("/v1/areas", json=commune, headers=admin).status_code == 201
    # A district cannot be retired while it holds communes; re-parent them to the province first.
    busy = api_client.patch("/v1/areas/tu-son", json={"retired": True}, headers=admin)
    assert busy.status_code == 409
    moved = api_client.patch("/v1/areas/dong-nguyen", json={"parent": "bac-ninh"}, headers=admin)
    assert moved.json()["parent"] == "bac-ninh"
    assert api_client.patch("/v1/areas/tu-son", json={"retired": True}, headers=admin).status_code == 200
    history = api_client.get("/v1/areas/dong-nguyen/history", headers=admin).json()
    assert [link["parent"] for link in history] == ["tu-son", "bac-ninh"]
    assert history[0]["valid_to"] == history[1]["valid_from"]
    assert history[1]["valid_to"] is None
    districts = api_client.get("/v1/areas", params={"level": "district"}, headers=admin).json()["items"]
    assert "tu-son" not in [a["code"] for a in districts]
    everything = api_client.get("/v1/areas", params={"include_retired": "true"}, headers=admin).json()[
        "items"
    ]
    assert "tu-son" in [a["code"] for a in everything]
    # Retired areas take no new assets; a commune cannot hold a district.
    asset = {"external_id": "x", "area": "tu-son", "sector": "urban", "kind": "park"}
    assert api_client.post("/v1/assets", json=asset, headers=admin).status_code == 422
    upside_down = {"code": "bad", "name": "Bad", "level": "district", "parent": "dong-nguyen"}
    assert api_client.post("/v1/areas", json=upside_down, headers=admin).status_code == 422
    trail = api_client.get(
        "/v1/audit", params={"entity": "area", "entity_id": "tu-son"}, headers=admin
    ).json()
    assert trail["items"][0]["action"] == "retire"
