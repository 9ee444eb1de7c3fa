"""The broker enforces the registry: each rule proven against the suite's real Mosquitto.

Credentials are rendered by ``hatang broker sync`` (``render``) from the test's database; a device
connects with its own secret only while active and may publish only under its own topic.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hatang.commands.broker import render, watch
from hatang.stack import Stack
from registry.audit import CLI
from registry.contracts import sync_contracts
from registry.devices import Credentials, change_state, create_device, rotate_credentials
from registry.organisations import ensure_organisation


class Session:
    """A connected paho client collecting what it receives."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.received: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()


def _connect_code(port: int, username: str, password: str) -> int:
    """The CONNACK reason code of a fresh connection attempt (0 = accepted)."""
    outcome: list[int] = []
    done = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        outcome.append(reason.value)
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome[0]


@contextmanager
def _session(port: int, username: str, password: str, subscribe: str | None = None) -> Iterator[Session]:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    session = Session(client)
    connected = threading.Event()
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, reason, p: connected.set() if reason.value == 0 else None
    client.on_message = lambda c, u, msg: session.received.append((msg.topic, bytes(msg.payload)))
    client.on_subscribe = lambda c, u, mid, codes, p: session.subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert connected.wait(10), "could not connect"
        if subscribe is not None:
            client.subscribe(subscribe, qos=1)
            assert session.subscribed.wait(10)
        yield session
    finally:
        client.disconnect()
        client.loop_stop()


def _service(stack: Stack) -> tuple[int, str, str]:
    url = urlsplit(stack.mqtt_url)
    assert url.port is not None
    assert url.username is not None
    assert url.password is not None
    return url.port, url.username, url.password


async def _devices(db_url: str, names: list[str]) -> dict[str, Credentials]:
    with psycopg.connect(db_url) as sync_conn:
        sync_contracts(sync_conn)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        org = await ensure_organisation(conn, slug="org-mqtt", name="MQTT test", actor=CLI)
        cur = await conn.execute("SELECT id FROM device_models ORDER BY id LIMIT 1")
        row = await cur.fetchone()
        assert row is not None
        issued = {}
        for name in names:
            _, credentials = await create_device(
                conn, external_id=name, model_id=row[0], organisation_id=org.id, state="active", actor=CLI
            )
            issued[name] = credentials
        return issued


async def _state(db_url: str, name: str, state: Any) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await change_state(conn, external_id=name, state=state, within=None, actor=CLI)


async def _rotate(db_url: str, name: str) -> Credentials:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        return (await rotate_credentials(conn, external_id=name, within=None, actor=CLI))[1]


def _render(db_url: str, stack: Stack) -> int:
    assert stack.mosquitto is not None
    with psycopg.connect(db_url) as conn:
        count = render(conn, stack.mosquitto)
    time.sleep(0.3)  # SIGHUP is asynchronous: give Mosquitto a moment to re-read its files
    return count


@pytest.fixture
def names() -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"mq-{tag}-a", f"mq-{tag}-b"]


def test_right_secret_connects_wrong_secret_fails(db_url: str, stack: Stack, names: list[str]) -> None:
    issued = asyncio.run(_devices(db_url, names))
    assert _render(db_url, stack) == 2
    port = _service(stack)[0]
    a, b = names
    assert _connect_code(port, a, issued[a].secret) == 0
    assert _connect_code(port, a, "wrong-secret") != 0
    assert _connect_code(port, a, issued[b].secret) != 0  # another device's secret
    assert _connect_code(port, "nobody-registered", issued[a].secret) != 0


def test_suspended_and_provisioned_devices_cannot_connect(
    db_url: str, stack: Stack, names: list[str]
) -> None:
    issued = asyncio.run(_devices(db_url, names))
    a, _ = names
    port = _service(stack)[0]
    asyncio.run(_state(db_url, a, "suspended"))
    assert _render(db_url, stack) == 1
    assert _connect_code(port, a, issued[a].secret) != 0
    asyncio.run(_state(db_url, a, "active"))
    _render(db_url, stack)
    assert _connect_code(port, a, issued[a].secret) == 0


def test_rotation_invalidates_the_old_secret(db_url: str, stack: Stack, names: list[str]) -> None:
    issued = asyncio.run(_devices(db_url, names))
    a, _ = names
    fresh = asyncio.run(_rotate(db_url, a))
    _render(db_url, stack)
    port = _service(stack)[0]
    assert _connect_code(port, a, issued[a].secret) != 0
    assert _connect_code(port, a, fresh.secret) == 0


def test_a_device_publishes_only_under_its_own_topic(db_url: str, stack: Stack, names: list[str]) -> None:
    issued = asyncio.run(_devices(db_url, names))
    _render(db_url, stack)
    port, service_user, service_secret = _service(stack)
    a, b = names
    with (
        _session(port, service_user, service_secret, subscribe=f"city/v1/devices/{b}/#") as watcher,
        _session(port, service_user, service_secret, subscribe=f"city/v1/devices/{a}/#") as own_watcher,
        _session(port, a, issued[a].secret) as device,
    ):
        device.client.publish(f"city/v1/devices/{b}/telemetry", b"spoofed", qos=1).wait_for_publish(5)
        device.client.publish(f"city/v1/devices/{a}/telemetry", b"mine", qos=1).wait_for_publish(5)
        # The broker answered the spoof before this marker was sent, so had it forwarded the spoof,
        # the watcher's session would hold it ahead of the marker: the marker is the positive point.
        watcher.client.publish(f"city/v1/devices/{b}/telemetry", b"marker", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while not (own_watcher.received and watcher.received) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert own_watcher.received == [(f"city/v1/devices/{a}/telemetry", b"mine")]
    assert watcher.received == [(f"city/v1/devices/{b}/telemetry", b"marker")]


def test_watch_renders_after_a_registry_change(db_url: str, stack: Stack, names: list[str]) -> None:
    assert stack.mosquitto is not None
    mosquitto = stack.mosquitto
    issued = asyncio.run(_devices(db_url, names[:1]))
    a = names[0]
    _render(db_url, stack)
    port = _service(stack)[0]
    assert _connect_code(port, a, issued[a].secret) == 0
    watcher = threading.Thread(
        target=watch, args=(db_url, mosquitto), kwargs={"debounce_s": 0.05, "stop_after": 4}
    )
    watcher.start()
    try:
        time.sleep(0.5)
        asyncio.run(_state(db_url, a, "suspended"))
        deadline = time.monotonic() + 3
        while a in mosquitto.password_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert a not in mosquitto.password_file.read_text()
        time.sleep(0.3)
        assert _connect_code(port, a, issued[a].secret) != 0
    finally:
        watcher.join()


def test_sync_renders_for_a_mosquitto_it_did_not_start(
    db_url: str, stack: Stack, names: list[str], tmp_path: Path
) -> None:
    """External broker URL + HATANG_REGISTRY__MOSQUITTO_DIR: the compose/sidecar way."""
    assert stack.mosquitto is not None
    issued = asyncio.run(_devices(db_url, names))
    env = {
        **os.environ,
        "HATANG_DATABASE_URL": db_url,
        "HATANG_MQTT_URL": stack.mqtt_url,
        "HATANG_STACK__DATA_DIR": str(tmp_path / "unused"),
    }
    refused = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "broker", "sync"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "HATANG_REGISTRY__MOSQUITTO_DIR" in refused.stderr
    env["HATANG_REGISTRY__MOSQUITTO_DIR"] = str(stack.mosquitto.data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "broker", "sync"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rendered 2 active devices" in done.stdout
    time.sleep(0.3)  # SIGHUP is asynchronous
    a = names[0]
    assert _connect_code(_service(stack)[0], a, issued[a].secret) == 0
    assert not (tmp_path / "unused").exists()
