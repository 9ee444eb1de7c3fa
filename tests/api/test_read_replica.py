"""``HATANG_DATABASE_READ_URL``: the API's read paths on a real streaming standby, writes on the primary.

The standby is the suite's opt-in ``replica`` fixture (``pg_basebackup -R`` of the suite's cluster).
Replay is paused to prove where a read came from: a reading committed on the primary after the pause
is not served, one committed before it is. With the standby stopped the read paths answer 503
problem+json (a decision: no fallback to the primary, docs/deploy.md) while writes and ``/readyz``
carry on; started again, reads recover.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from hatang.settings import Settings
from hatang.stack.postgres import LocalPostgres
from tests.plugins.api import Keys
from tests.plugins.stack import wait_replayed
from tests.plugins.timeseries import Fleet

pytestmark = pytest.mark.slow

T0 = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def standby_url(replica: LocalPostgres, db_url: str) -> str:
    url = replica.admin_url(db_url.rsplit("/", 1)[1])
    wait_replayed(db_url, url)  # the test's database (cloned after the standby started) is there
    return url


@pytest.fixture
def api_settings(standby_url: str) -> Settings:
    return Settings(database_read_url=standby_url, api={"read_timeout_s": 1.0})


def _values(client: TestClient, keys: Keys) -> list[float]:
    params = {"device": "wq-1", "metric": "water_temperature", "start": T0.isoformat()}
    response = client.get("/v1/readings", params=params, headers=keys["admin"])
    assert response.status_code == 200, response.text
    return [item["value"] for item in response.json()["items"]]


def test_reads_come_from_the_standby_and_writes_go_to_the_primary(
    api_client: TestClient, keys: Keys, fleet: Fleet, *, db_url: str, standby_url: str, replica: LocalPostgres
) -> None:
    fleet.add_readings("wq-1", "water_temperature", [T0], values=[1.5])
    wait_replayed(db_url, standby_url)
    assert _values(api_client, keys) == [1.5]

    with psycopg.connect(standby_url, autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            fleet.add_readings("wq-1", "water_temperature", [T0 + timedelta(minutes=1)], values=[2.5])
            # Committed on the primary, not replayed on the standby: the API does not see it.
            assert _values(api_client, keys) == [1.5]
            for path in ("/v1/readings/aggregate", "/v1/latest", "/v1/readiness", "/v1/readiness/targets"):
                params = {"metric": "water_temperature", "bucket": "1h", "start": T0.isoformat()}
                query = params if "aggregate" in path else {}
                got = api_client.get(path, params=query, headers=keys["admin"])
                assert got.status_code == 200, (path, got.text)
            # A write goes to the primary (a standby would refuse it: read-only transaction).
            made = api_client.post("/v1/organisations", json={"slug": "org-new", "name": "New"},
                                   headers=keys["admin"])  # fmt: skip
            assert made.status_code == 201, made.text
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    wait_replayed(db_url, standby_url)
    assert _values(api_client, keys) == [1.5, 2.5]

    replica.stop(mode="fast")
    try:
        params = {"device": "wq-1", "metric": "water_temperature", "start": T0.isoformat()}
        down = api_client.get("/v1/readings", params=params, headers=keys["admin"])
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert "read replica" in down.json()["detail"]
        assert api_client.get("/readyz").status_code == 200  # the primary serves writes: still ready
        body = {"slug": "org-two", "name": "Two"}
        made = api_client.post("/v1/organisations", json=body, headers=keys["admin"])
        assert made.status_code == 201, made.text
    finally:
        replica.start()
    deadline = time.monotonic() + 60
    while (code := api_client.get("/v1/readings", params=params, headers=keys["admin"]).status_code) != 200:
        assert time.monotonic() < deadline, f"reads did not recover: {code}"
        time.sleep(0.2)
