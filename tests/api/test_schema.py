"""The API against its own OpenAPI document (schemathesis): no 5xx, every response as documented.

Generated requests (bounded: a few examples per operation, derandomised) run as the admin, who may
reach every registry operation, against a real uvicorn over the test's own database holding the Bắc
Ninh areas, the contracts and a few entities, so lookups sometimes hit. Checks: no server error,
documented status codes and content types, bodies matching their schemas. Positive and negative
(schema-violating) requests both run: bad input must be a 4xx, never a 5xx.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_authorisation import PREFIXES
from tests.plugins.api import Keys

PATHS = "^(" + "|".join(PREFIXES) + ")(/|$)"
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def test_api_conforms_to_its_schema(api_server: str, keys: Keys) -> None:
    headers = keys["admin"]
    with httpx.Client(base_url=api_server, headers=headers) as client:
        asset = {"external_id": "a1", "area": "tien-du", "sector": "water", "kind": "reservoir"}
        assert client.post("/v1/assets", json=asset).status_code == 201
        assert client.post("/v1/devices", json={"external_id": "d1", "model": "sonde-wq6"}).status_code == 201
    schema = schemathesis.openapi.from_url(f"{api_server}/openapi.json").include(path_regex=PATHS)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30
    failures = []
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def run(case: Any) -> None:
                case.call_and_validate(base_url=api_server, headers=headers, checks=checks)

            try:
                run()
            except Exception as exc:  # collected, so one run reports every operation's failure
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
