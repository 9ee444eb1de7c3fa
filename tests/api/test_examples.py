"""Every example of the OpenAPI document is valid and, sent as written, succeeds ("Try it out" works).

Each example (schema examples, request-body examples) is validated against its schema with
jsonschema (OpenAPI 3.1 schemas are JSON Schema 2020-12). Then each request example is sent, in an
order where what it names exists (the organisation, area and asset examples create what the device
examples refer to), to a real uvicorn over the test's own database, as the admin; every answer must
be a 2xx, and bulk uploads must report no failed row. An operation with a request body and no
example, or one this test does not know how to send, fails the test: new examples are checked too.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import psycopg
import pytest

from tests.plugins.api import Keys

# (method, path template, path values): in the order they are sent; each uses its body's examples.
REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("post", "/v1/organisations", {}),
    ("patch", "/v1/organisations/{slug}", {"slug": "bn-water"}),
    ("put", "/v1/organisations/{slug}/open-data", {"slug": "bn-water"}),
    ("post", "/v1/keys", {}),
    ("post", "/v1/sectors", {}),
    ("post", "/v1/areas", {}),
    ("patch", "/v1/areas/{code}", {"code": "vo-cuong"}),
    ("post", "/v1/zones", {}),
    ("post", "/v1/assets", {}),
    ("patch", "/v1/assets/{external_id}", {"external_id": "ps-tien-du-01"}),
    ("post", "/v1/devices", {}),
    ("patch", "/v1/devices/{external_id}", {"external_id": "wq-bn-000123"}),
    ("post", "/v1/dead-letters/replay", {}),
    ("post", "/v1/devices/{external_id}/state", {"external_id": "wq-bn-000123"}),
    ("post", "/v1/bulk/assets", {}),
    ("post", "/v1/bulk/devices", {}),
    ("post", "/v1/readiness/targets", {}),
    ("put", "/v1/readiness/targets/{sector}/{deadline}", {"sector": "water", "deadline": "2030-12-31"}),
    ("post", "/v1/alert-rules", {}),
    ("patch", "/v1/alert-rules/{rule_id}", {"rule_id": "1"}),
    ("post", "/v1/alerts/{alert_id}/acknowledge", {"alert_id": "1"}),
    ("post", "/v1/alerts/{alert_id}/resolve", {"alert_id": "1"}),
    ("post", "/v1/notification-channels", {}),
]


def _examples(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of one request body's media type: its own, else its schema's."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    schema = media.get("schema", {})
    # An optional body is ``anyOf: [{$ref}, {type: null}]``: its examples are the referenced schema's.
    options = [schema, *schema.get("anyOf", [])]
    refs = [option["$ref"] for option in options if "$ref" in option]
    if len(refs) != 1:
        return []
    ref = refs[0]
    return list(doc["components"]["schemas"][ref.rsplit("/", 1)[1]].get("examples", []))


def _validate(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    root = {**schema, "components": doc["components"]}  # "#/components/..." refs resolve in the root
    jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(value)


@pytest.fixture
def doc(api_server: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{api_server}/openapi.json").json()
    return document


def test_every_schema_example_is_valid(doc: dict[str, Any]) -> None:
    checked = 0
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            _validate(doc, {"$ref": f"#/components/schemas/{name}"}, example)
            checked += 1
    for operations in doc["paths"].values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for example in _examples(doc, media):
                    _validate(doc, media["schema"], example)
                    checked += 1
            for parameter in operation.get("parameters", []):
                if "example" in parameter:
                    _validate(doc, parameter["schema"], parameter["example"])
                    checked += 1
    assert checked >= 20, checked


def test_every_request_example_succeeds(
    api_server: str, keys: Keys, doc: dict[str, Any], api_db: psycopg.Connection[Any]
) -> None:
    with_body = {
        (method, path)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    known = {(method, path) for method, path, _ in REQUESTS}
    assert with_body == known, "an operation with a request body this test does not send"
    # ReplayRequest's example replays dead letter 1: a reading of the example device, rejected when
    # the device was not yet active (what a utility would replay after activating it).
    payload = json.dumps(
        {"datetime": "2026-11-30T00:00:00Z", "serial": "WQ6-22A0931", "ph": 7.2, "turb": 0.4, "cl2": 0.6}
    ).encode()
    sent = 0
    with httpx.Client(base_url=api_server, headers=keys["admin"], timeout=60) as client:
        for method, template, values in REQUESTS:
            operation = doc["paths"][template][method]
            if template == "/v1/dead-letters/replay":
                api_db.execute(
                    "INSERT INTO dead_letters (id, received_at, topic, payload, device_id, reason, message) "
                    "OVERRIDING SYSTEM VALUE SELECT 1, now(), %s, %s, id, 'device_not_active', 'provisioned' "
                    "FROM devices WHERE external_id = 'wq-bn-000123'",
                    ("city/v1/devices/wq-bn-000123/telemetry", payload),
                )
            if template == "/v1/alerts/{alert_id}/acknowledge":
                # The rule the example created has broken on the example device: alert 1 is open.
                api_db.execute(
                    "INSERT INTO alerts (id, rule_id, organisation_id, subject_kind, subject_id, severity, "
                    "since) OVERRIDING SYSTEM VALUE SELECT 1, r.id, r.organisation_id, 'device', d.id, "
                    "r.severity, now() FROM alert_rules r, devices d "
                    "WHERE r.id = 1 AND d.external_id = 'wq-bn-000123'"
                )
            for content_type, media in operation["requestBody"]["content"].items():
                examples = _examples(doc, media)
                assert examples, f"{method.upper()} {template} {content_type} has no example"
                for example in examples:
                    body = example.encode() if isinstance(example, str) else json.dumps(example).encode()
                    headers = {"Content-Type": content_type}
                    url = template.format(**values)
                    response = client.request(method, url, content=body, headers=headers)
                    assert response.is_success, (method, template, example, response.text[:500])
                    if template.startswith("/v1/bulk/"):
                        summary = json.loads(response.text.splitlines()[0])["summary"]
                        assert summary["failed"] == 0, (template, response.text)
                    sent += 1
    assert sent >= len(REQUESTS)
    assert api_db.execute("SELECT replay_result FROM dead_letters WHERE id = 1").fetchone() is not None
    assert api_db.execute("SELECT state FROM alerts WHERE id = 1").fetchone() == ("resolved",)
