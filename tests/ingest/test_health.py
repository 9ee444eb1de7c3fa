"""Real health: ingest's ``/healthz`` and ``/readyz`` (and the API's ``/readyz``) while PostgreSQL and
Mosquitto are stopped and started again."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient

from hatang.stack import Stack
from tests.plugins.ingest import Workers, wait_template_quiet

pytestmark = pytest.mark.slow


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_status(port: int, path: str, status: int, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = _get(port, path)
        if code == status:
            return body
        assert time.monotonic() < deadline, f"{path} stayed {code} {body}, expected {status}"
        time.sleep(0.1)


def _wait_api(client: TestClient, status: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (code := client.get("/readyz").status_code) != status:
        assert time.monotonic() < deadline, f"API /readyz stayed {code}, expected {status}"
        time.sleep(0.1)


def test_readyz_follows_postgres_and_mosquitto(
    workers: Workers, stack: Stack, api_client: TestClient
) -> None:
    assert stack.postgres is not None
    assert stack.mosquitto is not None
    worker = workers.start("w1", db_retry_max_s="1")
    port = worker.metrics_port
    assert _wait_status(port, "/readyz", 200) == {"status": "ready"}
    assert _get(port, "/healthz") == (200, {"status": "ok"})
    assert worker.metric("hatang_ingest_queue_messages") == 0  # /metrics is served on the same port
    _wait_api(api_client, 200)

    stack.postgres.stop(mode="fast")
    try:
        problem = _wait_status(port, "/readyz", 503)
        assert "database" in str(problem["detail"])
        _wait_api(api_client, 503)
        assert _get(port, "/healthz")[0] == 200  # alive, only not ready
    finally:
        stack.postgres.start()
    _wait_status(port, "/readyz", 200)
    _wait_api(api_client, 200)
    wait_template_quiet(stack)

    stack.mosquitto.stop()
    try:
        problem = _wait_status(port, "/readyz", 503)
        assert "broker" in str(problem["detail"])
        assert _get(port, "/healthz")[0] == 200
    finally:
        stack.mosquitto.start()
    _wait_status(port, "/readyz", 200)
    assert worker.proc.poll() is None
