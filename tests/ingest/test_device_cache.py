"""The worker's device cache: new devices land at once, asset moves follow, no whole reloads needed."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import psycopg

from ingest.queries import load_devices_of_changed_assets
from tests.plugins.ingest import IngestFleet, Workers, publish, single, wait_rows


def test_a_device_publishing_right_after_creation_lands(ingest_fleet: IngestFleet, workers: Workers) -> None:
    fleet = ingest_fleet
    worker = workers.start()
    worker.wait_log("connected to the broker")
    new = [f"{fleet.active[0]}-n{i}" for i in range(10)]
    with psycopg.connect(fleet.db_url) as conn:
        conn.execute(
            "INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)"
            " SELECT n, model_id, organisation_id, asset_id, 'active' FROM devices, unnest(%s::text[]) AS n"
            " WHERE external_id = %s",
            (new, fleet.active[0]),
        )
    # Within milliseconds of the commit: the cache's NOTIFY-driven refresh runs about once a second.
    now = int(time.time()) - 30
    publish(workers.stack.mqtt_url("simulator"), [(fleet.topic(d), single(d, now, 40.0)) for d in new])
    # Then a device that does not exist: its dead letter is the positive signal that all is filed.
    publish(workers.stack.mqtt_url("simulator"), [(fleet.topic("ghost-1"), single("ghost-1", now, 40.0))])
    deadline = time.monotonic() + 30
    letters: list[tuple[str, str]] = []
    while time.monotonic() < deadline and not letters:
        with psycopg.connect(fleet.db_url) as conn:
            letters = conn.execute("SELECT reason, topic FROM dead_letters").fetchall()
        time.sleep(0.1)
    assert letters == [("unknown_device", fleet.topic("ghost-1"))]
    assert wait_rows(fleet.db_url, len(new), timeout=30) == len(new)


def test_devices_of_moved_assets_are_read_again(ingest_fleet: IngestFleet) -> None:
    async def look(since: datetime | None) -> tuple[set[str], datetime | None]:
        async with await psycopg.AsyncConnection.connect(ingest_fleet.db_url) as conn:
            rows, mark = await load_devices_of_changed_assets(conn, since=since)
        return {row.area or "" for row in rows}, mark

    areas, mark = asyncio.run(look(None))
    assert areas == set()
    assert mark is not None
    with psycopg.connect(ingest_fleet.db_url) as conn:
        conn.execute("INSERT INTO areas (code, name, level) VALUES ('moved-to', 'Moved to', 'commune')")
        conn.execute(
            "UPDATE assets SET area_id = (SELECT id FROM areas WHERE code = 'moved-to')"
            " WHERE id = (SELECT asset_id FROM devices WHERE external_id = %s)",
            (ingest_fleet.active[0],),
        )
    areas, later = asyncio.run(look(mark))
    assert "moved-to" in areas
    assert later is not None
    assert later > mark
