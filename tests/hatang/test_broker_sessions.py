"""The broker keeps what an offline persistent session is owed (the at-least-once path of a worker
that restarts): messages published while ingest's session is offline are delivered when it returns,
also across a reload (SIGHUP, as every broker sync does).

Mosquitto 2.0.12–2.0.22 forget an offline session's listener; with ``per_listener_settings`` the
ACL check on delivery then denies what the session should queue, and the QoS 1 backlog of a
restarting worker is dropped without a trace (upstream fixed it in 2.0.23; the project's build
carries scripts/mosquitto/offline-sessions-keep-listener.patch).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hatang.stack import Stack
from ingest import parse_url
from tests.plugins.ingest import DEVICE_MOUNT, publish

QUEUED = 50


class Session:
    """A persistent MQTT 5 session of the ingest account, subscribed to one prefix's telemetry."""

    def __init__(self, url: str, client_id: str) -> None:
        self.address = parse_url(url)
        self.client_id = client_id
        self.received: list[str] = []
        self.present: bool | None = None
        self.ready = threading.Event()
        self.lock = threading.Lock()

    def connect(self) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5)
        client.username_pw_set(self.address.username, self.address.password)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 300
        self.ready.clear()

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            self.present = bool(flags.session_present)
            self.ready.set()

        def on_message(c: Any, userdata: Any, message: Any) -> None:
            with self.lock:
                self.received.append(message.topic)

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(self.address.host, self.address.port, keepalive=30, clean_start=False,
                       properties=properties)  # fmt: skip
        client.loop_start()
        assert self.ready.wait(10), "no CONNACK"
        return client

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.mark.parametrize("reload", [False, True], ids=["offline", "offline-across-a-reload"])
def test_an_offline_worker_session_gets_its_backlog(stack: Stack, reload: bool) -> None:
    assert stack.mosquitto is not None
    tag = uuid.uuid4().hex[:8]
    prefix = f"test/{tag}/city/v1"
    session = Session(stack.mqtt_url("ingest"), f"test-session-{tag}")
    client = session.connect()
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.subscribe(f"$share/test-{tag}/{DEVICE_MOUNT}{prefix}/devices/+/telemetry", qos=1)
    assert subscribed.wait(10), "no SUBACK"
    # Positive: while online the session receives (so the count below can see messages at all).
    publish(stack.mqtt_url("simulator"), [(f"{DEVICE_MOUNT}{prefix}/devices/d-0/telemetry", b"{}")])
    deadline = threading.Event()
    for _ in range(100):
        if session.count() == 1:
            break
        deadline.wait(0.1)
    assert session.count() == 1
    client.disconnect()
    client.loop_stop()
    if reload:
        stack.mosquitto.reload()
    topics = [f"{DEVICE_MOUNT}{prefix}/devices/d-{i}/telemetry" for i in range(QUEUED)]
    publish(stack.mqtt_url("simulator"), [(topic, b"{}") for topic in topics])  # acknowledged: held
    client = session.connect()
    try:
        assert session.present is True
        for _ in range(200):
            if session.count() >= 1 + QUEUED:
                break
            deadline.wait(0.1)
        assert session.count() == 1 + QUEUED, f"{session.count() - 1} of {QUEUED} queued messages delivered"
        assert sorted(session.received[1:]) == sorted(topics)
    finally:
        client.disconnect()
        client.loop_stop()
