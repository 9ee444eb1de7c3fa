"""What the MQTT broker must know: the credentials of the devices allowed to connect.

Owns the query behind the broker's password file (``broker_users``: active devices with their
``$7$`` hashes) and a cheap ``fingerprint`` telling whether that set may have changed since the last
render. Writing the files and signalling Mosquitto belong to the caller (``hatang broker sync``).
"""

from __future__ import annotations

from typing import Any

import psycopg

from registry.lifecycle import CONNECTABLE
from registry.mosquitto import BrokerUser


def broker_users(conn: psycopg.Connection[Any]) -> list[BrokerUser]:
    """Every device that may connect (state ``active``, with a hash), by external id."""
    rows = conn.execute(
        "SELECT external_id, mqtt_secret_hash FROM devices"
        " WHERE state = ANY(%s) AND mqtt_secret_hash IS NOT NULL ORDER BY external_id",
        (sorted(CONNECTABLE),),
    ).fetchall()
    return [BrokerUser(username, password_hash) for username, password_hash in rows]


def fingerprint(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Changes whenever ``broker_users`` may have: any device change bumps ``updated_at`` (migration
    0100), and deletions change the count. The count reads every device: at a million devices it
    is the expensive half, so a NOTIFY is answered with :func:`newest_change` alone (the API deletes
    only provisioned devices, which never reach the broker) and the count runs on the watcher's
    periodic check."""
    row = conn.execute("SELECT count(*), max(updated_at) FROM devices").fetchone()
    assert row is not None
    return tuple(row)


def newest_change(conn: psycopg.Connection[Any]) -> Any:
    """The newest ``devices.updated_at`` (read from its index, ``devices_updated_idx``)."""
    row = conn.execute("SELECT max(updated_at) FROM devices").fetchone()
    assert row is not None
    return row[0]
