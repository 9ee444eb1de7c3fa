"""The API's foundation: health endpoints, problem+json errors, authentication, cursor pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.plugins.api import Keys


def test_health_endpoints_answer_without_a_key(api_client: TestClient) -> None:
    assert api_client.get("/healthz").json() == {"status": "ok"}
    assert api_client.get("/readyz").json() == {"status": "ready"}
    metrics = api_client.get("/metrics")
    assert metrics.status_code == 200
    assert "hatang_api_requests_total" in metrics.text


def test_missing_and_wrong_keys_are_401_problems(api_client: TestClient, keys: Keys) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer htg_000000000000_" + "a" * 43},
    ):
        response = api_client.get("/v1/organisations", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/problems/unauthorized"
        assert body["status"] == 401
        assert body["instance"] == "/v1/organisations"


def test_unknown_route_and_bad_body_are_problems(api_client: TestClient, keys: Keys) -> None:
    missing = api_client.get("/v1/nothing-here", headers=keys["admin"])
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"
    bad_json = api_client.post(
        "/v1/organisations",
        content=b"{not json",
        headers={**keys["admin"], "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["type"] == "/problems/bad-request"
    invalid = api_client.post(
        "/v1/organisations", json={"slug": "Bad Slug", "name": ""}, headers=keys["admin"]
    )
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["type"] == "/problems/validation"
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "slug"), ("body", "name")}
    assert api_client.get("/problems/validation").json()["status"] == 422


def test_cursor_pagination_walks_every_item_once(api_client: TestClient, keys: Keys) -> None:
    for n in range(7):
        created = api_client.post(
            "/v1/organisations", json={"slug": f"p-{n}", "name": f"P {n}"}, headers=keys["admin"]
        )
        assert created.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = api_client.get("/v1/organisations", params=params, headers=keys["admin"]).json()
        assert len(body["items"]) <= 3
        seen += [item["slug"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["city", "org-a", "org-b", *(f"p-{n}" for n in range(7))]
    bad = api_client.get("/v1/organisations", params={"cursor": "garbage"}, headers=keys["admin"])
    assert bad.status_code == 400
    assert bad.json()["type"] == "/problems/invalid-cursor"


def test_non_admins_see_only_their_own_organisation(api_client: TestClient, keys: Keys) -> None:
    body = api_client.get("/v1/organisations", headers=keys["viewer_a"]).json()
    assert [item["slug"] for item in body["items"]] == ["org-a"]
    assert api_client.get("/v1/organisations/org-b", headers=keys["operator_a"]).status_code == 404
    assert (
        api_client.post(
            "/v1/organisations", json={"slug": "x", "name": "X"}, headers=keys["operator_a"]
        ).status_code
        == 403
    )


def test_keys_are_shown_once_and_revocable(api_client: TestClient, keys: Keys) -> None:
    issued = api_client.post("/v1/keys", json={"role": "viewer", "name": "new"}, headers=keys["operator_a"])
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert issued.json()["organisation"] == "org-a"
    new_headers = {"Authorization": f"Bearer {token}"}
    assert api_client.get("/v1/organisations/org-a", headers=new_headers).status_code == 200
    listed = api_client.get(f"/v1/keys/{issued.json()['id']}", headers=keys["operator_a"]).json()
    assert "token" not in listed
    assert api_client.post("/v1/keys", json={"role": "admin"}, headers=keys["operator_a"]).status_code == 403
    assert api_client.delete(f"/v1/keys/{issued.json()['id']}", headers=keys["operator_b"]).status_code == 404
    assert api_client.delete(f"/v1/keys/{issued.json()['id']}", headers=keys["operator_a"]).status_code == 204
    assert api_client.get("/v1/organisations/org-a", headers=new_headers).status_code == 401


def test_metrics_are_labelled_by_route_template(api_client: TestClient, keys: Keys) -> None:
    api_client.get("/v1/organisations/org-a", headers=keys["admin"])
    text = api_client.get("/metrics").text
    assert 'route="/v1/organisations/{slug}"' in text
    assert "org-a" not in text
