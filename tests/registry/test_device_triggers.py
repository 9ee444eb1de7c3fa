"""Ingest's last_seen writes (device_seen, migration 1200) neither touch nor notify; registry
triggers on devices see every other change."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.plugins.ingest import build_fleet


def _updated_at(conn: psycopg.Connection[Any], external_id: str) -> Any:
    row = conn.execute("SELECT updated_at FROM devices WHERE external_id = %s", (external_id,)).fetchone()
    assert row is not None
    return row[0]


_MARKER = "test-sync-marker"


def _notified(conn: psycopg.Connection[Any], listener: psycopg.Connection[Any]) -> list[str]:
    """What ``listener`` was sent before a marker that ``conn`` notifies now.

    Notifications arrive in commit order, so once the marker is in, every notification of the
    changes ``conn`` committed before it is too: an empty list proves there was none.
    """
    conn.execute("SELECT pg_notify('hatang_registry', %s)", (_MARKER,))
    payloads: list[str] = []
    for note in listener.notifies(timeout=10):
        if note.payload == _MARKER:
            return payloads
        payloads.append(note.payload)
    raise AssertionError(f"the marker never arrived; before it: {payloads}")


def test_last_seen_neither_touches_nor_notifies(db_url: str, topic_prefix: str) -> None:
    fleet = build_fleet(db_url, topic_prefix, active=2, suspended=0)
    device = fleet.active[0]
    with (
        psycopg.connect(db_url, autocommit=True) as conn,
        psycopg.connect(db_url, autocommit=True) as listener,
    ):
        listener.execute("LISTEN hatang_registry")
        before = _updated_at(conn, device)
        conn.execute(
            "INSERT INTO device_seen (device_id, last_seen)"
            " SELECT id, now() FROM devices WHERE external_id = %s",
            (device,),
        )
        assert _updated_at(conn, device) == before
        assert _notified(conn, listener) == []

        conn.execute("UPDATE devices SET state = 'suspended' WHERE external_id = %s", (device,))
        assert _updated_at(conn, device) > before
        assert _notified(conn, listener) == ["devices"]
