"""Hostile devices against the real Mosquitto and a real ingest worker (docs/security.md, findings 0-3, 5).

Each attacker holds one genuine device credential. Every test asserts that every reading of a normal
device lands (rows counted), that the attack is refused, and hands the broker to ``survival``: once the
module is done, at least 30 s after the last attack began, the broker process is the same one as before
the first and answers a publish → subscribe round trip (one shared wait for the whole module).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from hatang.commands.broker import render
from hatang.stack import Stack
from registry.audit import CLI
from registry.devices import change_state, rotate_credentials
from registry.mosquitto import hash_password, service_user
from tests.plugins.api import Keys
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet, Workers, count_readings, single, wait_rows
from tests.plugins.mqtt import MqttClient

SURVIVE_S = 30.0
READINGS = 40


@dataclass
class Survival:
    """The broker's pid before the first attack; when the last attack began."""

    pid: int | None = None
    last_attack: float | None = None

    def attacked(self, stack: Stack) -> None:
        assert stack.mosquitto is not None
        if self.last_attack is None:
            self.pid = stack.mosquitto.pid()
        self.last_attack = time.monotonic()


@pytest.fixture(scope="module")
def survival(stack: Stack) -> Iterator[Survival]:
    """After the module: 30 s after the last attack the broker is the same process and round-trips."""
    record = Survival()
    yield record
    if record.last_attack is None:
        return
    time.sleep(max(0.0, record.last_attack + SURVIVE_S - time.monotonic()))
    assert stack.mosquitto is not None
    assert stack.mosquitto.pid() == record.pid, "the broker restarted or died"
    assert _round_trip(stack), "the broker does not answer 30 s after the attacks"


def _round_trip(stack: Stack) -> bool:
    """Publish on the fan-out as ingest, receive it as the API: a positive proof of a live broker."""
    topic = f"city/v1/normalized/water/liveness-{uuid.uuid4().hex[:8]}"
    with MqttClient(stack, "api") as listener, MqttClient(stack, "ingest") as sender:
        listener.subscribe(topic)
        sender.client.publish(topic, b"alive", qos=1).wait_for_publish(10)
        return listener.wait_message(10)


@dataclass
class Scene:
    """A running ingest worker, a normal device and an attacker device, both with real credentials."""

    stack: Stack
    db_url: str
    fleet: IngestFleet
    workers: Workers
    normal: tuple[str, str]
    attacker: tuple[str, str]
    sent: int = 0
    base: int = field(default_factory=lambda: int(time.time()) - 3600)  # readings go back from here
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> None:
        assert self.stack.mosquitto is not None
        with psycopg.connect(self.db_url) as conn:
            render(conn, self.stack.mosquitto)
        time.sleep(0.3)  # SIGHUP is asynchronous

    def normal_sends(self, count: int = READINGS) -> None:
        """The normal device publishes ``count`` readings with its own credentials; all must land."""
        name = self.normal[0]
        start = self.base - self.sent  # distinct times: a repeated (device, metric, time) is a duplicate
        with MqttClient(self.stack, device=self.normal) as device:
            for i in range(count):
                code = device.publish(
                    f"{self.fleet.prefix}/devices/{name}/telemetry", single(name, start - i, 40.0 + i)
                )
                assert code == 0, f"normal device refused: {code}"
        self.sent += count

    def assert_all_landed(self) -> None:
        assert wait_rows(self.db_url, self.sent, timeout=60) == self.sent
        time.sleep(0.5)
        assert count_readings(self.db_url) == (self.sent, self.sent)


@pytest.fixture
def scene(
    stack: Stack, db_url: str, ingest_fleet: IngestFleet, workers: Workers, survival: Survival
) -> Iterator[Scene]:
    secrets = {name: f"s-{uuid.uuid4().hex}" for name in ingest_fleet.active[:2]}
    with psycopg.connect(db_url) as conn:
        for name, secret in secrets.items():
            conn.execute(
                "UPDATE devices SET mqtt_secret_hash = %s WHERE external_id = %s",
                (hash_password(secret), name),
            )
    normal, attacker = secrets.items()
    result = Scene(stack, db_url, ingest_fleet, workers, normal=normal, attacker=attacker)
    result.render()
    result.extra["worker"] = workers.start()
    survival.attacked(stack)
    yield result
    assert stack.mosquitto is not None
    assert stack.mosquitto.pid() == survival.pid, "the broker died"


def test_subscription_theft_is_refused_connected_orphaned_and_suspended(scene: Scene) -> None:
    """Finding 2: a device joining the ingest group's shared subscription steals nothing."""
    group, prefix = scene.workers.group, scene.fleet.prefix
    stolen = [
        f"$share/{group}/{prefix}/devices/+/telemetry",
        f"$share/{group}/{DEVICE_MOUNT}{prefix}/devices/+/telemetry",
        f"{DEVICE_MOUNT}{prefix}/devices/+/telemetry",
        "#",
    ]
    attacker_id = f"thief-{uuid.uuid4().hex[:6]}"
    # Connected: subscribed to every form while the normal device sends.
    with MqttClient(scene.stack, device=scene.attacker, client_id=attacker_id, clean_start=False,
                 session_expiry=3600) as thief:  # fmt: skip
        for topic in stolen:
            thief.subscribe(topic)
        scene.normal_sends()
        scene.assert_all_landed()
        assert thief.messages == []
    # Orphaned: its persistent session (with those subscriptions) outlives the connection.
    scene.normal_sends()
    scene.assert_all_landed()
    # Suspended while orphaned.
    asyncio.run(_suspend(scene.db_url, scene.attacker[0]))
    scene.render()
    scene.normal_sends()
    scene.assert_all_landed()
    assert _refused(scene.stack, scene.attacker)  # the suspended device can no longer connect at all
    assert count_readings(scene.db_url) == (3 * READINGS, 3 * READINGS)


def _refused(stack: Stack, device: tuple[str, str], *, port: int | None = None) -> bool:
    """Whether the broker answers CONNECT with these credentials with a failure (a positive CONNACK)."""
    with MqttClient(stack, device=device, port=port) as client:
        return bool(client.connack.is_failure)


async def _suspend(db_url: str, name: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await change_state(conn, external_id=name, state="suspended", within=None, actor=CLI)


async def _rotate(db_url: str, name: str) -> str:
    """What an operator's ``POST /v1/devices/{id}/credentials`` does; returns the new secret."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        _, issued = await rotate_credentials(conn, external_id=name, within=None, actor=CLI)
    return issued.secret


def _wait_log(stack: Stack, text: str, *, after: int, timeout: float) -> bool:
    """Whether ``text`` appears in the broker's log past byte ``after`` within ``timeout`` seconds."""
    assert stack.mosquitto is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in stack.mosquitto.log_file.read_text(errors="replace")[after:]:
            return True
        time.sleep(0.2)
    return False


EXPIRY_S = 3


def test_a_session_refused_on_reload_never_crashes_the_broker(scene: Scene) -> None:
    """Finding 0: the sequence that crashed Mosquitto 2.0.11 (and 2.0.21): a device's persistent
    session goes offline, a reload refuses its credentials (the operator rotated its secret), the device
    takes its session back with the new secret and publishes payloads the size of a freed session.

    Stock Mosquitto 2.0 put that offline session into its session expiry list a second time at the
    reload; the stale entry outlived the session freed by the takeover and, once a payload reused the
    memory, freed it again (``free(): double free detected in tcache 2`` in ``context__free_disused``).
    """
    stack = scene.stack
    assert stack.mosquitto is not None
    name, prefix = scene.attacker[0], scene.fleet.prefix
    pid = stack.mosquitto.pid()
    log_size = len(stack.mosquitto.log_file.read_text(errors="replace"))
    with MqttClient(stack, device=scene.attacker, clean_start=False, session_expiry=EXPIRY_S) as device:
        assert device.connack.value == 0
        device.subscribe(f"$share/{scene.workers.group}/{prefix}/devices/+/telemetry")
    assert _wait_log(stack, f"Client {name} disconnected", after=log_size, timeout=10)  # offline now
    log_size = len(stack.mosquitto.log_file.read_text(errors="replace"))
    secret = asyncio.run(_rotate(scene.db_url, name))
    scene.render()  # the reload refuses the offline session's old secret
    # Positive sync point: the reload judged the offline session (the broker logs it as disconnected again).
    assert _wait_log(stack, f"Client {name} disconnected", after=log_size, timeout=10)
    assert _refused(stack, scene.attacker)  # the old secret is refused
    with MqttClient(stack, device=(name, secret), clean_start=False, session_expiry=EXPIRY_S) as device:
        assert device.connack.value == 0
        for size in range(512, 768, 8):  # about the size of the session the takeover freed
            assert device.publish(f"{prefix}/devices/{name}/telemetry", bytes(size)) == 0
    # Positive sync point: the taken-over session expired, so the broker has walked its expiry list past
    # every entry the old session left (a stale one would have been reached first).
    assert _wait_log(stack, f"Expiring client {name} due to timeout", after=log_size, timeout=EXPIRY_S + 15)
    assert stack.mosquitto.pid() == pid, "the broker died"
    assert _round_trip(stack)
    scene.normal_sends()
    scene.assert_all_landed()


def test_client_id_takeover_is_impossible(scene: Scene) -> None:
    """Finding 3: a device naming the worker's (or another device's) client id keeps its own."""
    stack = scene.stack
    assert stack.mosquitto is not None
    worker_id = f"{scene.workers.group}-w1"
    for victim in (worker_id, f"hatang-ingest-{uuid.uuid4().hex[:4]}", scene.normal[0]):
        with MqttClient(stack, device=scene.attacker, client_id=victim) as attacker:
            assert attacker.connack.value == 0
            scene.normal_sends(10)
    scene.assert_all_landed()
    log = stack.mosquitto.log_file.read_text(errors="replace")
    # Positive: the broker logged the attacker's connections under its own name ...
    assert f"as {scene.attacker[0]} " in log
    # ... and never closed the worker's or the normal device's connection for it.
    assert f"Client {worker_id} already connected" not in log
    assert f"Client {scene.normal[0]} already connected" not in log
    worker = scene.extra["worker"]
    assert sum(1 for rec in worker.lines() if rec.get("msg") == "subscribed") == 1  # never reconnected


def test_exact_topic_and_refusals_are_logged(scene: Scene) -> None:
    """Finding 5: a device may publish to its own telemetry topic only (MQTT 5: reason code 135), and
    refused connections reach the broker's log."""
    stack = scene.stack
    assert stack.mosquitto is not None
    name, prefix = scene.attacker[0], scene.fleet.prefix
    with MqttClient(stack, device=scene.attacker) as device:
        assert device.publish(f"{prefix}/devices/{name}/status", b"{}") == 135
        assert device.publish(f"{prefix}/devices/{name}/telemetry/x", b"{}") == 135
        assert device.publish(f"{prefix}/devices/{scene.normal[0]}/telemetry", single(name, 1.0, 1.0)) == 135
        assert device.publish(f"{prefix}/normalized/water/x", b"{}") == 135
        assert (
            device.publish(f"{prefix}/devices/{name}/telemetry", b"not json") == 0
        )  # its own: a dead letter
    scene.normal_sends()
    scene.assert_all_landed()
    assert _refused(stack, (name, "wrong-secret"))
    deadline = time.monotonic() + 5
    while "not authorised" not in stack.mosquitto.log_file.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the refused connection is not in the broker's log"
        time.sleep(0.1)


def test_service_account_takeover_is_impossible(scene: Scene, api_client: TestClient, keys: Keys) -> None:
    """Finding 1: no device can be named like a service account, and none replaces one's secret."""
    stack = scene.stack
    assert stack.mosquitto is not None
    body = {"external_id": service_user("ingest"), "model": "pressurelog-pl20", "organisation": "org-a"}
    refused = api_client.post("/v1/devices", json=body, headers=keys["operator_a"])
    assert refused.status_code == 422, refused.text
    assert "reserved" in refused.text
    with psycopg.connect(scene.db_url) as conn:
        model_id, org_id = conn.execute(
            "SELECT model_id, organisation_id FROM devices WHERE external_id = %s", (scene.normal[0],)
        ).fetchone() or (0, 0)
        insert = (
            "INSERT INTO devices (external_id, model_id, organisation_id, state, mqtt_secret_hash)"
            " VALUES (%s, %s, %s, 'active', %s)"
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("hatang-ingest", model_id, org_id, hash_password("attacker")))
        conn.rollback()
        # A row from before the constraint existed: the renderer still never lets it in.
        conn.execute("ALTER TABLE devices DROP CONSTRAINT devices_external_id_not_reserved")
        conn.execute(insert, ("hatang-ingest", model_id, org_id, hash_password("attacker")))
        conn.commit()
    scene.render()
    assert "hatang-ingest" not in stack.mosquitto.password_file.read_text()
    assert _refused(stack, ("hatang-ingest", "attacker"))
    assert _refused(stack, ("hatang-ingest", "attacker"), port=stack.mosquitto.service_port)
    assert _refused(stack, scene.normal, port=stack.mosquitto.service_port)  # devices: never there
    scene.normal_sends()
    scene.assert_all_landed()
    assert _round_trip(stack)  # the real service secrets still work
