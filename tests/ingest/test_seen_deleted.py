"""Ingest's last_seen upsert never fails a batch for a device deleted meanwhile (migration 1200).

``device_seen`` has no foreign key to ``devices``: with one, ingest's insert for a device whose
deletion committed while the upsert waited would fail the whole batch. Here a deletion holds the
device's ``device_seen`` row (its trigger deleted it) while ingest's upsert waits on that row; the
deletion commits, the upsert goes on and commits, and no reader shows the deleted device (its row,
orphaned by the race, is never read: device ids are an identity column, never reused).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from ingest.pgcopy import array_literal
from ingest.sink import UPSERT_SEEN
from tests.plugins.ingest import build_fleet


def _ids(conn: psycopg.Connection[Any], external_ids: list[str]) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM devices WHERE external_id = ANY(%s) ORDER BY id", (external_ids,)
    ).fetchall()
    return [row[0] for row in rows]


def _upsert(conn: psycopg.Connection[Any], ids: list[int], at: float) -> int:
    with conn.transaction():
        cur = conn.execute(UPSERT_SEEN, {"ids": array_literal(ids), "ats": array_literal([at] * len(ids))})
        return cur.rowcount


def test_a_device_deleted_while_its_last_seen_is_written(db_url: str, topic_prefix: str) -> None:
    fleet = build_fleet(db_url, topic_prefix, active=3, suspended=0)
    now = time.time()
    with (
        psycopg.connect(db_url, autocommit=True) as ingest,
        psycopg.connect(db_url, autocommit=True) as registry,
    ):
        ids = _ids(ingest, fleet.active)
        assert _upsert(ingest, ids, now - 120) == 3  # first sightings: the INSERT path
        gone = ids[1]
        outcome: list[BaseException | int] = []
        with registry.transaction():
            registry.execute("DELETE FROM devices WHERE id = %s", (gone,))
            pid = ingest.info.backend_pid

            def write() -> None:
                try:
                    outcome.append(_upsert(ingest, ids, now - 60))
                except BaseException as exc:  # handed to the test's thread
                    outcome.append(exc)

            writer = threading.Thread(target=write)
            writer.start()
            # The upsert waits on the row the deletion's trigger deleted (a positive signal, not a sleep).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                row = registry.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if row is not None and row[0] == "Lock":
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("the upsert never waited on the deleted device's row")
        writer.join(timeout=30)
        assert len(outcome) == 1
        assert not isinstance(outcome[0], BaseException), outcome[0]
        # The other two devices moved forward; the deleted one is shown nowhere.
        shown = ingest.execute(
            "SELECT d.id, s.last_seen FROM devices d LEFT JOIN device_seen s ON s.device_id = d.id"
            " WHERE d.id = ANY(%s) ORDER BY d.id",
            (ids,),
        ).fetchall()
        assert [device for device, _ in shown] == [ids[0], ids[2]]
        assert all(seen is not None and abs(seen.timestamp() - (now - 60)) < 1e-5 for _, seen in shown)
        # The race left the deleted device's row (its id is never handed out again: nobody reads it);
        # a later batch naming the device (a stale device cache) writes nothing for it.
        orphan = "SELECT last_seen FROM device_seen WHERE device_id = %s"
        before = ingest.execute(orphan, (gone,)).fetchone()
        assert before is not None
        assert _upsert(ingest, ids, now) == 2
        assert ingest.execute(orphan, (gone,)).fetchone() == before
