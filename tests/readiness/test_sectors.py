"""Sectors as data: the plan's five are seeded; a later plan's sector is a row, used everywhere at once."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from firmware_contracts import sectors as contract_sectors
from hatang.cli import build_parser
from hatang.settings import Settings
from tests.plugins.api import Keys
from tests.plugins.readiness import World

PLAN = ["transport", "energy", "electricity", "water", "urban"]
HEALTH = {"code": "health", "name": "Y tế", "name_en": "Health", "position": 6, "source": "a later plan"}


def test_the_plans_five_are_seeded_in_its_order(api_client: TestClient, keys: Keys) -> None:
    listed = api_client.get("/v1/sectors", headers=keys["viewer_a"]).json()
    assert [s["code"] for s in listed] == PLAN
    assert set(PLAN) == contract_sectors()  # the contracts' catalogue serves exactly these
    assert listed[0]["name"] == "Giao thông"
    assert "II.2" in listed[0]["source"]


def test_a_new_sector_is_a_row_not_a_code_change(
    readiness_world_now: World,
    api_client: TestClient,
    keys: Keys,
    api_db: psycopg.Connection[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = keys["admin"]
    assert api_client.post("/v1/sectors", json=HEALTH, headers=keys["operator_a"]).status_code == 403
    created = api_client.post("/v1/sectors", json=HEALTH, headers=admin)
    assert created.status_code == 201, created.text
    assert api_client.post("/v1/sectors", json=HEALTH, headers=admin).status_code == 409
    assert api_client.post("/v1/sectors", json={**HEALTH, "code": "Y Tế"}, headers=admin).status_code == 422
    # A target for it, and an essential asset of it (over the API and in bulk).
    target = {"sector": "health", "share": "0.3", "deadline": "2030-12-31", "source": "a later plan"}
    assert api_client.post("/v1/readiness/targets", json=target, headers=admin).status_code == 201
    unknown = api_client.post("/v1/readiness/targets", json={**target, "sector": "education"}, headers=admin)
    assert (unknown.status_code, unknown.json()["type"]) == (422, "/problems/invalid-reference")
    asset = {"external_id": "hospital-1", "organisation": "org-a", "area": "tu-son", "sector": "health",
             "kind": "hospital"}  # fmt: skip
    made = api_client.post("/v1/assets", json=asset, headers=admin)
    assert made.status_code == 201, made.text
    wrong = api_client.post("/v1/assets", json={**asset, "external_id": "school-1", "sector": "education"},
                            headers=admin)  # fmt: skip
    assert (wrong.status_code, wrong.json()["type"]) == (422, "/problems/invalid-reference")
    body = "external_id,organisation,area,sector,kind\nclinic-1,org-a,tu-son,health,clinic\n"
    body += "school-2,org-a,tu-son,education,school\n"
    csv_headers = {**admin, "Content-Type": "text/csv"}
    bulk = api_client.post("/v1/bulk/assets", content=body.encode(), headers=csv_headers)
    lines = [json.loads(line) for line in bulk.text.splitlines()]
    rows = {r["line"]: r for r in lines[1:]}
    assert (rows[2]["status"], rows[3]["errors"]) == ("created", ["sector: no such sector"])
    # Readiness lists it beside the plan's five, against its own target; the command line too.
    readiness = api_client.get("/v1/readiness", headers=keys["viewer_a"]).json()
    assert [s["sector"] for s in readiness["sectors"]] == [*PLAN, "health"]
    health = readiness["sectors"][-1]
    assert (health["essential"], health["ready"], health["target_share"], health["status"]) == (
        2, 0, "0.3000", "behind",
    )  # fmt: skip
    args = build_parser().parse_args(["readiness", "--format", "csv"])
    assert args.func(args, Settings(database_url=SecretStr(readiness_world_now.db_url))) == 0
    rows_csv = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["sector"] for r in rows_csv] == [*PLAN, "health"]
    audit = api_db.execute("SELECT count(*) FROM audit_log WHERE entity = 'sector' AND entity_id = 'health'")
    row = audit.fetchone()
    assert row is not None
    assert row[0] == 1
