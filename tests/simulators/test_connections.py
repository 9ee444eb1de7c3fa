"""The simulator's connection loop against the real broker: refusals are reported, never a crash,
and connections lost to a broker restart come back (finding 11)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest

from hatang.commands.broker import render
from hatang.stack import Stack
from registry.mosquitto import hash_password
from simulators.errors import PublishError
from simulators.publisher import BrokerAddress, Connections, Tally
from tests.plugins.ingest import IngestFleet


def _address(stack: Stack) -> BrokerAddress:
    assert stack.mosquitto is not None
    return BrokerAddress("127.0.0.1", stack.mosquitto.port)


def test_refused_connections_are_reported_not_a_crash(stack: Stack) -> None:
    """Refused sockets close while later ones open (their descriptors are reused): a PublishError
    naming the refusal, never ``KeyError: ... is already registered``."""
    connections = Connections(_address(stack), qos=1, client_prefix=uuid.uuid4().hex[:6], tally=Tally())
    try:
        with pytest.raises(PublishError) as refused:
            connections.connect([(f"nobody-{i}", "wrong") for i in range(200)], timeout_s=60)
        assert refused.value.reason == "refused"
        assert "refused 200 connection(s)" in str(refused.value)
    finally:
        connections.close()


def test_connections_come_back_after_a_broker_restart(stack: Stack, ingest_fleet: IngestFleet) -> None:
    assert stack.mosquitto is not None
    device, secret = ingest_fleet.active[0], f"s-{uuid.uuid4().hex}"
    with psycopg.connect(ingest_fleet.db_url) as conn:
        query = "UPDATE devices SET mqtt_secret_hash = %s WHERE external_id = %s"
        conn.execute(query, (hash_password(secret), device))
        conn.commit()
        render(conn, stack.mosquitto)
    time.sleep(0.3)
    tally = Tally()
    connections = Connections(_address(stack), qos=1, client_prefix=uuid.uuid4().hex[:6], tally=tally)
    topic = f"{ingest_fleet.prefix}/devices/{device}/telemetry"
    try:
        (index,) = connections.connect([(device, secret)], timeout_s=30)
        _publish_acked(connections, index, topic, tally, expected=1)
        stack.mosquitto.stop()
        stack.mosquitto.start()
        deadline = time.monotonic() + 30
        while connections.connected(index):  # first the loss is noticed ...
            assert time.monotonic() < deadline, "the lost connection went unnoticed"
            connections.poll(0.1)
            connections.keepalive()
        deadline = time.monotonic() + 60
        while not connections.connected(index):  # ... then it comes back (keepalive() reconnects)
            assert time.monotonic() < deadline, "the simulator never reconnected"
            connections.poll(0.1)
            connections.keepalive()
        _publish_acked(connections, index, topic, tally, expected=2)
    finally:
        connections.close()


def _publish_acked(connections: Any, index: int, topic: str, tally: Tally, *, expected: int) -> None:
    connections.publish(index, topic, b"{}", readings=0, dead=(), fault=None)
    connections.drain(20)
    assert tally.acked == expected, tally
