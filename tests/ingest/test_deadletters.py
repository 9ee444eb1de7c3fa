"""Dead letters listed and replayed against the test's database (no broker needed)."""

from __future__ import annotations

import asyncio
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
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet


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
        await write_batch(conn, batch, upserts(batch, metric_ids), max_dead_payload=65536)


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
