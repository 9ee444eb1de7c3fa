"""The broker keeps what an offline persistent session is owed (the at-least-once path of a worker
that restarts): messages published while ingest's session is offline are delivered when it returns,
also across a reload (SIGHUP, as every broker sync does).

Mosquitto 2.0.12–2.0.22 forget an offline session's listener; with ``per_listener_settings`` the
ACL check on delivery then denies what the session should queue, and the QoS 1 backlog of a
restarting worker is dropped without a trace (upstream fixed it in 2.0.23; the project's build
carries scripts/mosquitto/offline-sessions-keep-listener.patch).
"""

from __future__ import annotations

import time
import uuid

import pytest

from hatang.stack import Stack
from tests.plugins.ingest import DEVICE_MOUNT, publish
from tests.plugins.mqtt import MqttClient

QUEUED = 50


def _until_received(client: MqttClient, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while len(client.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(client.messages)


def _worker_session(stack: Stack, tag: str) -> MqttClient:
    """The ingest account's persistent MQTT 5 session (Clean Start 0, five minutes' expiry)."""
    return MqttClient(stack, "ingest", client_id=f"test-session-{tag}", clean_start=False, session_expiry=300)


@pytest.mark.parametrize("reload", [False, True], ids=["offline", "offline-across-a-reload"])
def test_an_offline_worker_session_gets_its_backlog(stack: Stack, reload: bool) -> None:
    assert stack.mosquitto is not None
    tag = uuid.uuid4().hex[:8]
    prefix = f"test/{tag}/city/v1"
    with _worker_session(stack, tag) as worker:
        worker.subscribe(f"$share/test-{tag}/{DEVICE_MOUNT}{prefix}/devices/+/telemetry")
        # Positive: while online the session receives (so the count below can see messages at all).
        publish(stack.mqtt_url("simulator"), [(f"{DEVICE_MOUNT}{prefix}/devices/d-0/telemetry", b"{}")])
        assert _until_received(worker, 1) == 1
    if reload:
        stack.mosquitto.reload()
    topics = [f"{DEVICE_MOUNT}{prefix}/devices/d-{i}/telemetry" for i in range(QUEUED)]
    publish(stack.mqtt_url("simulator"), [(topic, b"{}") for topic in topics])  # acknowledged: held
    with _worker_session(stack, tag) as worker:
        assert worker.session_present is True
        got = _until_received(worker, QUEUED)
        assert got == QUEUED, f"{got} of {QUEUED} queued messages delivered"
        assert sorted(topic for topic, _ in worker.messages) == sorted(topics)
