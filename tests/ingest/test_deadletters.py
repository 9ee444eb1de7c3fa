"""Dead letters listed and replayed against the test's database (no broker needed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import orjson
import psycopg
import pytest

from firmware_contracts import Limits, load_models
from ingest import ReplayError, list_dead_letters, replay_dead_letters
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache
from ingest.queries import load_devices, load_metric_ids
from ingest.sink import write_batch
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet, Workers, publish, single, wait_rows


async def _ingest(db_url: str, prefix: str, messages: list[tuple[str, bytes]]) -> None:
    """File ``messages`` as the worker would and write the batch (what a worker leaves behind)."""
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cache = DeviceCache(models=load_models(), limits=Limits())
        cache.apply(await load_devices(conn), replace=True)
        metric_ids = await load_metric_ids(conn)
        batch = Batch()
        for i, (topic, payload) in enumerate(messages):
            delivery = Delivery(topic, payload, i + 1, 1, time.time(), 0)
            layout = TopicLayout(prefix, DEVICE_MOUNT)
            intake(batch, delivery, layout=layout, devices=cache, metric_ids=metric_ids)
        await write_batch(conn, batch, upserts(batch), max_dead_payload=65536)


async def _replay(db_url: str, prefix: str, ids: list[int]) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        return await replay_dead_letters(
            conn, ids=ids, topic_prefix=prefix, limits=Limits(), device_mount=DEVICE_MOUNT
        )


async def _list(db_url: str, **filters: Any) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        return await list_dead_letters(conn, **filters)


def test_replay_after_the_device_is_activated(ingest_fleet: IngestFleet) -> None:
    fleet = ingest_fleet
    now = int(time.time()) - 60
    suspended = fleet.suspended[0]
    messages = [
        (fleet.topic(suspended), orjson.dumps({"t": now, "psi": 40.0})),
        (fleet.topic("ghost"), orjson.dumps({"t": now, "psi": 40.0})),
        (fleet.topic(fleet.active[0]), orjson.dumps({"t": now, "psi": 40.0})),
    ]
    asyncio.run(_ingest(fleet.db_url, fleet.prefix, messages))
    letters = asyncio.run(_list(fleet.db_url))
    assert [(d.reason, d.device) for d in letters] == [
        ("unknown_device", None),
        ("device_not_active", suspended),
    ]
    assert [d.id for d in asyncio.run(_list(fleet.db_url, device=suspended))] == [letters[1].id]
    assert [d.id for d in asyncio.run(_list(fleet.db_url, reason="unknown_device"))] == [letters[0].id]
    assert [d.id for d in asyncio.run(_list(fleet.db_url, before=letters[0].id, limit=5))] == [letters[1].id]

    # Replayed before the fix: rejected again, recorded on the letter, no new letter.
    first = asyncio.run(_replay(fleet.db_url, fleet.prefix, [letters[1].id]))
    assert (first[0].stored, first[0].rejected[0][0]) == (0, "device_not_active")
    with psycopg.connect(fleet.db_url) as conn:
        conn.execute("UPDATE devices SET state = 'active' WHERE external_id = %s", (suspended,))
    second = asyncio.run(_replay(fleet.db_url, fleet.prefix, [letters[1].id]))
    assert (second[0].stored, second[0].duplicates, second[0].rejected) == (1, 0, ())
    third = asyncio.run(_replay(fleet.db_url, fleet.prefix, [letters[1].id]))
    assert (third[0].stored, third[0].duplicates) == (0, 1)
    with psycopg.connect(fleet.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (2,)
        row = conn.execute("SELECT replayed_at IS NOT NULL, replay_result FROM dead_letters WHERE id = %s",
                           (letters[1].id,)).fetchone()  # fmt: skip
    assert row == (True, "stored 0; duplicates 1")
    assert [d.id for d in asyncio.run(_list(fleet.db_url, replayed=False))] == [letters[0].id]
    with pytest.raises(ReplayError) as caught:
        asyncio.run(_replay(fleet.db_url, fleet.prefix, [letters[0].id, 10**9]))
    assert caught.value.dead_letter_id == 10**9


def test_a_flooding_device_stores_its_budget_and_everything_is_counted(
    ingest_fleet: IngestFleet, workers: Workers
) -> None:
    """Finding 9: 200 malformed messages of one device store 5 + a 1-in-10 sample; all 200 are
    counted; a normal device's readings all land meanwhile."""
    fleet = ingest_fleet
    worker = workers.start(dead_letter_budget="5", dead_letter_sample="10")
    flooder, normal = fleet.active[0], fleet.active[1]
    now = int(time.time()) - 600
    flood = [(fleet.topic(flooder), b"{" + b"x" * 70_000) for _ in range(200)]
    good = [(fleet.topic(normal), single(normal, now - i, 40.0)) for i in range(40)]
    interleaved = [m for pair in zip(flood[:40], good, strict=True) for m in pair]
    publish(workers.telemetry_url, interleaved)
    publish(workers.telemetry_url, flood[40:])
    assert wait_rows(fleet.db_url, 40) == 40
    deadline = time.monotonic() + 30
    while worker.metric("hatang_ingest_rejections_total") < 200:  # positive: every one was counted
        assert time.monotonic() < deadline, "the flood was not counted"
        time.sleep(0.2)
    assert worker.metric("hatang_ingest_rejections_total") == 200
    assert worker.metric("hatang_ingest_dead_letters_unstored_total") == 200 - 24
    with psycopg.connect(fleet.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (24,)


def test_dead_letters_expire_after_their_retention(ingest_fleet: IngestFleet) -> None:
    """Finding 9: ``hatang timeseries retention`` deletes dead letters older than the setting."""
    with psycopg.connect(ingest_fleet.db_url, autocommit=True) as conn:
        for age_days in (45, 31, 29, 1):
            conn.execute(
                "INSERT INTO dead_letters (received_at, topic, payload, reason, message)"
                " VALUES (now() - make_interval(days => %s), 't', '\\x00', 'malformed', 'm')",
                (age_days,),
            )
    env = {**os.environ, "HATANG_DATABASE_URL": ingest_fleet.db_url, "HATANG_MQTT_URL": "mqtt://unused:1"}
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "timeseries", "retention"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dead letters deleted: 2" in done.stdout
    with psycopg.connect(ingest_fleet.db_url) as conn:
        query = "SELECT extract(day FROM now() - received_at)::int FROM dead_letters ORDER BY 1"
        ages = conn.execute(query).fetchall()
    assert ages == [(1,), (29,)]
