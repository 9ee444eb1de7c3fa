"""``/v1/alert-rules``, ``/v1/alerts`` and ``/v1/notification-channels`` over the real app and database.

Organisation scoping as elsewhere (another organisation's rule, alert or channel is a 404), roles
(viewers read, operators of the owner write), validation as problem+json, filters and cursors, and
idempotent, audited acknowledge/resolve.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.plugins.api import Keys

PRESSURE = {
    "name": {"vi": "Áp lực nước thấp", "en": "Low water pressure"},
    "kind": "threshold", "severity": "major", "scope": {"kind": "sector", "value": "water"},
    "metric": "water_pressure", "operator": "below", "low": 2.0, "clear_low": 2.3, "duration_s": 300,
}  # fmt: skip


def _alert(
    conn: psycopg.Connection[Any], rule_id: int, org_id: int, *, subject_id: int, severity: str = "major",
    sector: str = "water", area: str = "tu-son",
) -> int:  # fmt: skip
    row = conn.execute(
        """
        WITH a AS (
            INSERT INTO alerts (rule_id, organisation_id, subject_kind, subject_id, sector, area_id, severity,
                                value, since, lat, lon)
            VALUES (%s, %s, 'organisation', %s, %s, (SELECT id FROM areas WHERE code = %s), %s, 1.5, now(),
                    21.1, 106.0)
            RETURNING id)
        INSERT INTO alert_events (alert_id, kind, actor)
        SELECT id, 'opened', 'evaluator' FROM a RETURNING alert_id
        """,
        (rule_id, org_id, subject_id, sector, area, severity),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_rules_are_scoped_to_their_organisation(api_client: TestClient, keys: Keys) -> None:
    created = api_client.post("/v1/alert-rules", json=PRESSURE, headers=keys["operator_a"])
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["organisation"], rule["name"]["vi"], rule["clear_low"]) == ("org-a", "Áp lực nước thấp", 2.3)
    path = f"/v1/alert-rules/{rule['id']}"
    assert api_client.get(path, headers=keys["viewer_a"]).status_code == 200
    _problem(api_client.get(path, headers=keys["operator_b"]), 404)
    _problem(api_client.patch(path, json={"severity": "minor"}, headers=keys["operator_b"]), 404)
    _problem(api_client.patch(path, json={"severity": "minor"}, headers=keys["viewer_a"]), 403)
    _problem(api_client.post("/v1/alert-rules", json=PRESSURE, headers=keys["viewer_a"]), 403)
    other = {**PRESSURE, "organisation": "org-a"}
    _problem(api_client.post("/v1/alert-rules", json=other, headers=keys["operator_b"]), 404)
    changed = api_client.patch(path, json={"severity": "critical", "low": 1.8}, headers=keys["operator_a"])
    assert (changed.json()["severity"], changed.json()["low"]) == ("critical", 1.8)
    assert [
        r["id"] for r in api_client.get("/v1/alert-rules", headers=keys["operator_b"]).json()["items"]
    ] == []
    listed = api_client.get("/v1/alert-rules", params={"organisation": "org-a"}, headers=keys["admin"]).json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    audit = api_client.get("/v1/audit", params={"entity": "alert_rule"}, headers=keys["admin"]).json()[
        "items"
    ]
    assert {e["action"] for e in audit} == {"create", "update"}
    assert api_client.delete(path, headers=keys["operator_a"]).status_code == 204
    _problem(api_client.get(path, headers=keys["operator_a"]), 404)


@pytest.mark.parametrize(
    "change",
    [
        {"metric": None},  # a threshold needs a metric
        {"operator": "outside"},  # outside needs high too
        {"clear_low": 1.0},  # the clear level must be inside the limit
        {"low": "NaN"},
        {"duration_s": -1},
        {"scope": {"kind": "planet", "value": "x"}},
        {"kind": "silence", "subject": "organisation"},
        {"kind": "rejection_rate", "subject": "device"},  # needs rate_per_hour
        {"unknown": 1},
        {"name": {"vi": "", "en": "x"}},
    ],
)
def test_inconsistent_rules_are_422(api_client: TestClient, keys: Keys, change: dict[str, Any]) -> None:
    body = _problem(
        api_client.post("/v1/alert-rules", json=PRESSURE | change, headers=keys["operator_a"]), 422
    )
    assert body["type"] == "/problems/validation"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "no_such_metric"}, "metric"),
        ({"scope": {"kind": "area", "value": "atlantis"}}, "scope.value"),
        ({"scope": {"kind": "organisation", "value": "org-b"}}, "scope.value"),  # not the rule's own
        ({"scope": {"kind": "device", "value": "nobody-here"}}, "scope.value"),
    ],
)
def test_rules_naming_nothing_are_invalid_references(
    api_client: TestClient, keys: Keys, change: dict[str, Any], field: str
) -> None:
    body = _problem(
        api_client.post("/v1/alert-rules", json=PRESSURE | change, headers=keys["operator_a"]), 422
    )
    assert body["type"] == "/problems/invalid-reference"


def test_alerts_filters_pages_scoping_and_transitions(
    api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    rule = api_client.post("/v1/alert-rules", json=PRESSURE, headers=keys["operator_a"]).json()["id"]
    org_a, org_b = keys.org_ids["org-a"], keys.org_ids["org-b"]
    rule_b = api_client.post("/v1/alert-rules", json=PRESSURE, headers=keys["operator_b"]).json()["id"]
    ids = [
        _alert(api_db, rule, org_a, subject_id=i, severity=s)
        for i, s in enumerate(["major", "critical", "minor"])
    ]
    ids.append(_alert(api_db, rule, org_a, subject_id=9, sector="transport", area="que-vo"))
    b_alert = _alert(api_db, rule_b, org_b, subject_id=1)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api_client.get("/v1/alerts", params=params, headers=keys["viewer_a"]).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)

    def get(**p: Any) -> list[int]:
        items = api_client.get("/v1/alerts", params=p, headers=keys["admin"]).json()["items"]
        return [a["id"] for a in items]

    assert get(severity=["critical", "minor"]) == [ids[2], ids[1]]
    assert get(sector="transport") == [ids[3]]
    assert get(organisation="org-b") == [b_alert]
    assert get(area="que-vo") == [ids[3]]
    assert get(area="bac-ninh") == [b_alert, *sorted(ids, reverse=True)]  # the province holds its districts
    _problem(api_client.get(f"/v1/alerts/{b_alert}", headers=keys["operator_a"]), 404)
    _problem(api_client.post(f"/v1/alerts/{b_alert}/acknowledge", headers=keys["operator_a"]), 404)
    _problem(api_client.post(f"/v1/alerts/{ids[0]}/acknowledge", headers=keys["viewer_a"]), 403)
    acked = api_client.post(
        f"/v1/alerts/{ids[0]}/acknowledge", json={"note": "đội 3 đang tới"}, headers=keys["operator_a"]
    )
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["acknowledge_note"]) == ("acknowledged", "đội 3 đang tới")
    again = api_client.post(f"/v1/alerts/{ids[0]}/acknowledge", headers=keys["operator_a"]).json()
    assert [e["kind"] for e in again["events"]] == ["opened", "acknowledged"]
    resolved = api_client.post(
        f"/v1/alerts/{ids[0]}/resolve", json={"note": "fixed"}, headers=keys["operator_a"]
    )
    assert [e["kind"] for e in resolved.json()["events"]] == ["opened", "acknowledged", "resolved"]
    api_client.post(f"/v1/alerts/{ids[0]}/resolve", headers=keys["operator_a"])
    detail = api_client.get(f"/v1/alerts/{ids[0]}", headers=keys["viewer_a"]).json()
    assert [e["kind"] for e in detail["events"]] == ["opened", "acknowledged", "resolved"]
    assert detail["resolved_by"].startswith("key ")
    assert get(state=["open", "acknowledged"], organisation="org-a") == [ids[3], ids[2], ids[1]]
    audit = api_client.get("/v1/audit", params={"entity": "alert"}, headers=keys["admin"]).json()["items"]
    assert sorted(e["action"] for e in audit) == ["acknowledge", "resolve"]
    _problem(api_client.get("/v1/alerts", params={"state": "sleeping"}, headers=keys["admin"]), 422)
    _problem(api_client.get("/v1/alerts", params={"cursor": "forged"}, headers=keys["admin"]), 400)


def test_channels_hide_their_secret_and_are_scoped(api_client: TestClient, keys: Keys) -> None:
    created = api_client.post(
        "/v1/notification-channels", json={"kind": "webhook", "target": "https://ops.example.vn/hook"},
        headers=keys["operator_a"],
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert len(created.json()["secret"]) >= 32
    path = f"/v1/notification-channels/{created.json()['id']}"
    assert "secret" not in api_client.get(path, headers=keys["viewer_a"]).json()
    _problem(api_client.get(path, headers=keys["operator_b"]), 404)
    _problem(api_client.get(f"{path}/deliveries", headers=keys["operator_b"]), 404)
    assert api_client.get(f"{path}/deliveries", headers=keys["viewer_a"]).json()["items"] == []
    for bad in (
        {"kind": "webhook", "target": "ftp://x.example/hook"},
        {"kind": "webhook", "target": "https://user:pw@x.example/hook"},
        {"kind": "email", "target": "not-an-address"},
        {"kind": "sms", "target": "+84123"},
        {"kind": "webhook", "target": "http://127.0.0.1:8080/v1/keys"},  # this machine
        {"kind": "webhook", "target": "http://10.0.0.7/hook"},  # a private network
        {"kind": "webhook", "target": "http://localhost/hook"},
    ):
        _problem(api_client.post("/v1/notification-channels", json=bad, headers=keys["operator_a"]), 422)
    email = api_client.post(
        "/v1/notification-channels", json={"kind": "email", "target": "truc-ban@bacninh.gov.vn"},
        headers=keys["operator_a"],
    )  # fmt: skip
    assert email.json()["secret"] is None
    assert api_client.delete(path, headers=keys["operator_a"]).status_code == 204
    assert api_client.get(path, headers=keys["viewer_a"]).json()["enabled"] is False
