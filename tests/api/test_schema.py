"""The API against its own OpenAPI document (schemathesis): no 5xx, every response as documented.

Generated requests (bounded: a few examples per operation, derandomised, so the same every run) run
as the admin, who may reach every operation, against a real uvicorn over the test's own database
holding the Bắc Ninh areas, the contracts and a few entities, so lookups sometimes hit. Every
operation of the document is exercised except the Server-Sent Events stream (an accepted request
never ends; the stream's refusals are tested in tests/dashboard/test_streams.py), with every check
schemathesis has (``CHECKS.get_all()``): no server error, documented status codes, content types and
headers, bodies matching their schemas, schema-violating input refused with a 4xx, valid input
accepted, and the rest. Positive and negative (schema-violating) requests both run.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from tests.plugins.api import Keys

# Every operation but the live SSE stream (GET only: its WebSocket is not in the document).
SKIP = {("GET", "/v1/streams/readings")}
# Schema-valid input must be accepted, as schemathesis defines it, plus 400: a schema cannot say that
# a pagination cursor must be one this API issued, and an unknown one is a 400 `invalid-cursor` (the
# only other 400, `bad-request`, is an unreadable body, which generated valid data never is).
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}}
)
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def test_api_conforms_to_its_schema(api_server: str, keys: Keys) -> None:
    headers = keys["admin"]
    with httpx.Client(base_url=api_server, headers=headers) as client:
        asset = {"external_id": "a1", "area": "tien-du", "sector": "water", "kind": "reservoir"}
        assert client.post("/v1/assets", json=asset).status_code == 201
        assert client.post("/v1/devices", json={"external_id": "d1", "model": "sonde-wq6"}).status_code == 201
    schema = schemathesis.openapi.from_url(f"{api_server}/openapi.json", config=CONFIG)
    checks = CHECKS.get_all()
    assert len(checks) >= 10
    operations: list[Any] = [
        op
        for op in (result.ok() for result in schema.get_all_operations())  # type: ignore[union-attr]
        if (op.method.upper(), op.path) not in SKIP
    ]
    assert len(operations) >= 45
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
            except Unsatisfiable:
                continue  # nothing in the operation can violate its schema (no parameters, a free string)
            except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failure
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
