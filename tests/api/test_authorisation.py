"""The authorisation matrix: every endpoint x role (admin, operator, viewer) x own/other organisation.

Covers the registry's routers (``PREFIXES``). The operator and viewer belong to ``org-a``; "own"
targets ``org-a``'s entities, "other" ``org-b``'s (for the city-wide admin both are someone's).
Entities of other organisations are invisible to non-admins (404), writes need an operator (or
admin) key (403 otherwise). A final check makes sure
no registry route escaped the matrix, and that every one refuses a request without a key.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.plugins.api import Keys

_counter = itertools.count()
ROLES = {"admin": "admin", "operator": "operator_a", "viewer": "viewer_a"}
SIDES = {"own": "org-a", "other": "org-b"}


@dataclass(frozen=True)
class Case:
    """One endpoint: how to build a request against an organisation's entity, and the expected codes."""

    method: str
    route: str
    build: Callable[[TestClient, Keys, str], tuple[str, dict[str, Any]]]
    admin: tuple[int, int]
    operator: tuple[int, int]
    viewer: tuple[int, int]


def _fresh(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def _asset(client: TestClient, keys: Keys, org: str) -> str:
    external_id = _fresh("as")
    body = {"external_id": external_id, "organisation": org, "area": "yen-phong", "sector": "urban",
            "kind": "street_light_circuit"}  # fmt: skip
    assert client.post("/v1/assets", json=body, headers=keys["admin"]).status_code == 201
    return external_id


def _device(client: TestClient, keys: Keys, org: str) -> str:
    external_id = _fresh("dv")
    body = {"external_id": external_id, "organisation": org, "model": "slc-n10"}
    assert client.post("/v1/devices", json=body, headers=keys["admin"]).status_code == 201
    return external_id


def _key(client: TestClient, keys: Keys, org: str) -> int:
    response = client.post("/v1/keys", json={"organisation": org, "role": "viewer"}, headers=keys["admin"])
    assert response.status_code == 201
    return int(response.json()["id"])


def _path(template: str) -> Callable[[TestClient, Keys, str], tuple[str, dict[str, Any]]]:
    return lambda client, keys, org: (template.format(org=org), {})


OWN_ONLY = (200, 404)
READ_ALL = (200, 200)
NO = (403, 403)

CASES = [
    Case("GET", "/v1/organisations", _path("/v1/organisations"), READ_ALL, READ_ALL, READ_ALL),
    Case(
        "POST",
        "/v1/organisations",
        lambda c, k, org: ("/v1/organisations", {"json": {"slug": _fresh("o"), "name": "O"}}),
        (201, 201),
        NO,
        NO,
    ),
    Case("GET", "/v1/organisations/{slug}", _path("/v1/organisations/{org}"), READ_ALL, OWN_ONLY, OWN_ONLY),
    Case(
        "PATCH",
        "/v1/organisations/{slug}",
        lambda c, k, org: (f"/v1/organisations/{org}", {"json": {"name": "Renamed"}}),
        READ_ALL,
        NO,
        NO,
    ),
    Case("DELETE", "/v1/organisations/{slug}", _path("/v1/organisations/{org}"), (409, 409), NO, NO),
    Case(
        "PUT",
        "/v1/organisations/{slug}/open-data",
        lambda c, k, org: (f"/v1/organisations/{org}/open-data", {"json": {"device_ids": False}}),
        READ_ALL,
        NO,
        NO,
    ),
    Case("GET", "/v1/keys", _path("/v1/keys?organisation={org}"), READ_ALL, OWN_ONLY, NO),
    Case(
        "POST",
        "/v1/keys",
        lambda c, k, org: ("/v1/keys", {"json": {"organisation": org, "role": "viewer"}}),
        (201, 201),
        (201, 404),
        NO,
    ),
    Case(
        "GET",
        "/v1/keys/{key_id}",
        lambda c, k, org: (f"/v1/keys/{_key(c, k, org)}", {}),
        READ_ALL,
        OWN_ONLY,
        NO,
    ),
    Case(
        "DELETE",
        "/v1/keys/{key_id}",
        lambda c, k, org: (f"/v1/keys/{_key(c, k, org)}", {}),
        (204, 204),
        (204, 404),
        NO,
    ),
    Case("GET", "/v1/areas", _path("/v1/areas"), READ_ALL, READ_ALL, READ_ALL),
    Case(
        "POST",
        "/v1/areas",
        lambda c, k, org: (
            "/v1/areas",
            {"json": {"code": _fresh("ar"), "name": "X", "level": "commune", "parent": "tien-du"}},
        ),
        (201, 201),
        NO,
        NO,
    ),
    Case("GET", "/v1/areas/{code}", _path("/v1/areas/tien-du"), READ_ALL, READ_ALL, READ_ALL),
    Case("GET", "/v1/areas/{code}/history", _path("/v1/areas/tien-du/history"), READ_ALL, READ_ALL, READ_ALL),
    Case(
        "PATCH",
        "/v1/areas/{code}",
        lambda c, k, org: ("/v1/areas/tien-du", {"json": {"name_en": "Tiên Du"}}),
        READ_ALL,
        NO,
        NO,
    ),
    Case("GET", "/v1/assets", _path("/v1/assets?organisation={org}"), READ_ALL, OWN_ONLY, OWN_ONLY),
    Case(
        "POST",
        "/v1/assets",
        lambda c, k, org: (
            "/v1/assets",
            {
                "json": {
                    "external_id": _fresh("na"),
                    "organisation": org,
                    "area": "tu-son",
                    "sector": "transport",
                    "kind": "intersection",
                }
            },
        ),
        (201, 201),
        (201, 404),
        NO,
    ),
    Case(
        "GET",
        "/v1/assets/{external_id}",
        lambda c, k, org: (f"/v1/assets/{_asset(c, k, org)}", {}),
        READ_ALL,
        OWN_ONLY,
        OWN_ONLY,
    ),
    Case(
        "PATCH",
        "/v1/assets/{external_id}",
        lambda c, k, org: (f"/v1/assets/{_asset(c, k, org)}", {"json": {"essential": False}}),
        READ_ALL,
        OWN_ONLY,
        NO,
    ),
    Case(
        "DELETE",
        "/v1/assets/{external_id}",
        lambda c, k, org: (f"/v1/assets/{_asset(c, k, org)}", {}),
        (204, 204),
        (204, 404),
        NO,
    ),
    Case("GET", "/v1/models", _path("/v1/models"), READ_ALL, READ_ALL, READ_ALL),
    Case("GET", "/v1/models/{model}/{version}", _path("/v1/models/slc-n10/1"), READ_ALL, READ_ALL, READ_ALL),
    Case("GET", "/v1/devices", _path("/v1/devices?organisation={org}"), READ_ALL, OWN_ONLY, OWN_ONLY),
    Case(
        "POST",
        "/v1/devices",
        lambda c, k, org: (
            "/v1/devices",
            {"json": {"external_id": _fresh("nd"), "organisation": org, "model": "slc-n10"}},
        ),
        (201, 201),
        (201, 404),
        NO,
    ),
    Case(
        "GET",
        "/v1/devices/{external_id}",
        lambda c, k, org: (f"/v1/devices/{_device(c, k, org)}", {}),
        READ_ALL,
        OWN_ONLY,
        OWN_ONLY,
    ),
    Case(
        "PATCH",
        "/v1/devices/{external_id}",
        lambda c, k, org: (f"/v1/devices/{_device(c, k, org)}", {"json": {"firmware_version": "1.2"}}),
        READ_ALL,
        OWN_ONLY,
        NO,
    ),
    Case(
        "POST",
        "/v1/devices/{external_id}/state",
        lambda c, k, org: (f"/v1/devices/{_device(c, k, org)}/state", {"json": {"state": "active"}}),
        READ_ALL,
        OWN_ONLY,
        NO,
    ),
    Case(
        "POST",
        "/v1/devices/{external_id}/credentials",
        lambda c, k, org: (f"/v1/devices/{_device(c, k, org)}/credentials", {}),
        READ_ALL,
        OWN_ONLY,
        NO,
    ),
    Case(
        "DELETE",
        "/v1/devices/{external_id}",
        lambda c, k, org: (f"/v1/devices/{_device(c, k, org)}", {}),
        (204, 204),
        (204, 404),
        NO,
    ),
    # Bulk uploads answer 200 with a per-row report; another organisation's rows fail row by row (below).
    Case(
        "POST",
        "/v1/bulk/devices",
        lambda c, k, org: (
            "/v1/bulk/devices",
            {
                "content": (
                    f'{{"external_id": "{_fresh("bd")}", "organisation": "{org}", "model": "slc-n10"}}\n'
                ).encode(),
                "headers": {"Content-Type": "application/x-ndjson"},
            },
        ),
        READ_ALL,
        READ_ALL,
        NO,
    ),
    Case(
        "POST",
        "/v1/bulk/assets",
        lambda c, k, org: (
            "/v1/bulk/assets",
            {
                "content": (
                    f"external_id,organisation,area,sector,kind\n{_fresh('ba')},{org},que-vo,water,water_main\n"
                ).encode(),
                "headers": {"Content-Type": "text/csv"},
            },
        ),
        READ_ALL,
        READ_ALL,
        NO,
    ),
    Case("GET", "/v1/audit", _path("/v1/audit?organisation={org}"), READ_ALL, NO, NO),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method} {case.route}")
def test_matrix(api_client: TestClient, keys: Keys, case: Case) -> None:
    failures = []
    for role, label in ROLES.items():
        expected = getattr(case, role)
        for side, org in SIDES.items():
            path, kwargs = case.build(api_client, keys, org)
            headers = {**kwargs.pop("headers", {}), **keys[label]}
            response = api_client.request(case.method, path, headers=headers, **kwargs)
            want = expected[0] if side == "own" else expected[1]
            if response.status_code != want:
                failures.append(
                    f"{role} on {side} ({org}): {response.status_code} != {want}: {response.text[:200]}"
                )
            elif response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
            elif case.route.startswith("/v1/bulk/"):
                created = response.text.splitlines()[0]
                wrote = '"created": 1' in created
                assert wrote == (role == "admin" or side == "own"), f"{role} on {side}: {created}"
    assert failures == []


# The registry's routers; other packages' routers carry their own authorisation tests.
PREFIXES = (
    "/v1/organisations", "/v1/keys", "/v1/areas", "/v1/assets",
    "/v1/models", "/v1/devices", "/v1/bulk", "/v1/audit",
)  # fmt: skip


def _registry_route(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PREFIXES)


def test_every_registry_route_is_in_the_matrix_and_needs_a_key(api_client: TestClient) -> None:
    paths = api_client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path) for path, item in paths.items() if _registry_route(path) for method in item
    }
    assert routes == {(case.method, case.route) for case in CASES}
    for method, path in routes:
        concrete = path.replace("{version}", "1").replace("{key_id}", "1")
        concrete = concrete.replace("{slug}", "x").replace("{code}", "x").replace("{external_id}", "x")
        concrete = concrete.replace("{model}", "x")
        response = api_client.request(method, concrete)
        assert response.status_code == 401, (method, path, response.status_code)
