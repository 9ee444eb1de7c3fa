"""A paho MQTT 5 test client on the suite's broker, as a service role or a device (a thread of its own).

Shared by the broker tests that need a client of their own: the hostile-devices module and the
persistent-session tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hatang.stack import Stack
from ingest.mqtt import parse_url


class MqttClient:
    """A paho MQTT 5 client (service role, or a device with its credentials) run in a thread."""

    def __init__(
        self, stack: Stack, role: str | None = None, *, device: tuple[str, str] | None = None,
        client_id: str | None = None, clean_start: bool = True, session_expiry: int = 0,
        port: int | None = None,
    ) -> None:  # fmt: skip
        assert stack.mosquitto is not None
        if role is not None:
            url = parse_url(stack.mqtt_url(role))
            self.port, username, password = url.port, url.username, url.password
        else:
            assert device is not None
            self.port, (username, password) = stack.mosquitto.port, device
        self.port = self.port if port is None else port
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.clean_start, self.session_expiry = clean_start, session_expiry
        self.connack: Any = None
        self.session_present: bool | None = None
        self.connected = threading.Event()
        self.subacks: list[list[int]] = []
        self.subscribed = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.received = threading.Event()
        self.pubacks: dict[int, int] = {}
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connack = reason
        self.session_present = bool(flags.session_present)
        self.connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self.subacks.append([r.value for r in reasons])
        self.subscribed.set()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        self.messages.append((message.topic, bytes(message.payload)))
        self.received.set()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self.pubacks[mid] = reason.value

    def __enter__(self) -> MqttClient:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry
        self.client.connect(
            "127.0.0.1", self.port, keepalive=30, clean_start=self.clean_start, properties=props
        )
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic: str) -> list[int]:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(10), "no SUBACK"
        return self.subacks[-1]

    def wait_message(self, timeout: float) -> bool:
        return self.received.wait(timeout)

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        deadline = time.monotonic() + 10
        while info.mid not in self.pubacks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.pubacks[info.mid]
