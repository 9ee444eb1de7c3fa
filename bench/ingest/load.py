"""The ingest benchmark's load: a scratch fleet, a plain paho publisher and the two payload shapes.

Owns what is offered to the broker. The publisher is deliberately plain paho, independent of
``ingest``; it must not measure anything.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import orjson
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ingest import parse_url
from registry import sync_contracts

MODEL = "pressurelog-pl20"


def fleet(conn: psycopg.Connection[Any], devices: int, tag: str) -> list[str]:
    """One organisation, area and asset with ``devices`` active devices; their external ids."""
    sync_contracts(conn)
    org = conn.execute(
        "INSERT INTO organisations (slug, name) VALUES (%s, 'bench') RETURNING id", (f"bench-{tag}",)
    ).fetchone()
    area = conn.execute(
        "INSERT INTO areas (code, name, level) VALUES (%s, 'bench', 'commune') RETURNING id",
        (f"bench-{tag}",),
    ).fetchone()
    model = conn.execute(
        "SELECT id FROM device_models WHERE model = %s AND version = 1", (MODEL,)
    ).fetchone()
    assert org is not None and area is not None and model is not None  # noqa: PT018
    asset = conn.execute(
        "INSERT INTO assets (external_id, organisation_id, area_id, sector, kind)"
        " VALUES (%s, %s, %s, 'water', 'hydrant') RETURNING id",
        (f"bench-{tag}", org[0], area[0]),
    ).fetchone()
    assert asset is not None
    names = [f"bench-{tag}-{i:05d}" for i in range(devices)]
    with (
        conn.cursor() as cur,
        cur.copy("COPY devices (external_id, model_id, organisation_id, asset_id, state) FROM STDIN") as copy,
    ):
        for name in names:
            copy.write_row((name, model[0], org[0], asset[0], "active"))
    conn.commit()
    return names


class Publisher:
    """Plain paho QoS 1 publisher with at most 1,000 messages unacknowledged."""

    def __init__(self, mqtt_url: str) -> None:
        address = parse_url(mqtt_url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(address.username, address.password)
        self.client.max_inflight_messages_set(1000)
        self.acked = 0
        self.sent = 0
        self.cond = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(address.host, address.port, keepalive=60)
        self.client.loop_start()

    def _on_publish(self, c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        with self.cond:
            self.acked += 1
            self.cond.notify_all()

    def send(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.sent - self.acked < 1000, timeout=60)
        self.client.publish(topic, payload, qos=1)
        self.sent += 1

    def close(self) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.acked >= self.sent, timeout=120)
        self.client.disconnect()
        self.client.loop_stop()


def single(now: float, value: float) -> bytes:
    """A single-reading JSON payload."""
    return orjson.dumps({"t": now, "psi": value})


def pack(start: float, values: list[float]) -> bytes:
    """A SenML pack of one pressure reading a second from ``start``."""
    return orjson.dumps(
        [{"bn": "", "bt": start, "n": "pressure", "u": "psi", "v": values[0]}]
        + [{"n": "pressure", "u": "psi", "v": v, "t": k} for k, v in enumerate(values[1:], start=1)]
    )


