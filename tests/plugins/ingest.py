"""Pytest plugin: a device fleet in the test's database, ingest workers as real processes, a publisher.

``fleet`` fills the test's database (contracts synced by the registry's ``sync_contracts``, one
organisation, two areas, active and suspended devices of the pressure logger). ``workers`` starts
``hatang ingest`` subprocesses against the suite's stack and stops them after the test. ``publish``
is a small, fast paho publisher (QoS 1, waits for every PUBACK) using the service account; it is
test code on purpose, independent of ``ingest`` and of the later ``simulators`` package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson
import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hatang.settings import Settings
from hatang.stack import Stack
from ingest.batch import TopicLayout
from ingest.mqtt import parse_url
from registry.contracts import sync_contracts
from tests.plugins.ports import free_port

MODEL = "pressurelog-pl20"
METRIC = "water_pressure"
#: The device listener's mount point of the suite's broker (the setting's default).
DEVICE_MOUNT: str = Settings.model_fields["device_mount"].default


@dataclass(frozen=True, slots=True)
class IngestFleet:
    """The devices of the test's database; ``active`` ones land, ``suspended`` ones do not."""

    db_url: str
    prefix: str
    active: list[str]
    suspended: list[str]
    provisioned: list[str]

    def topic(self, device: str) -> str:
        """The telemetry topic of ``device`` as the platform receives it (under the device mount)."""
        return TopicLayout(self.prefix, DEVICE_MOUNT).telemetry(device)


# Re-uses an area the test's database already holds (the API's fixtures load the packaged ones).
_AREA = """
    INSERT INTO areas (code, name, level) VALUES (%s, %s, 'commune')
    ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id
"""


def build_fleet(db_url: str, prefix: str, *, active: int = 20, suspended: int = 2) -> IngestFleet:
    """Fill ``db_url``: contracts, an organisation, two communes, assets and devices."""
    tag = uuid.uuid4().hex[:6]
    names = {
        "active": [f"pl-{tag}-{i:03d}" for i in range(active)],
        "suspended": [f"pl-{tag}-s{i:02d}" for i in range(suspended)],
        "provisioned": [f"pl-{tag}-p00"],
    }
    with psycopg.connect(db_url) as conn:
        sync_contracts(conn)
        org = _one(
            conn, "INSERT INTO organisations (slug, name) VALUES ('bnwater', 'Bac Ninh Water') RETURNING id"
        )
        areas = [
            _one(conn, _AREA, (code, code))
            for code in ("kinh-bac", "vo-cuong")
        ]
        model_id = _one(conn, "SELECT id FROM device_models WHERE model = %s AND version = 1", (MODEL,))
        assets = [
            _one(
                conn,
                """
                INSERT INTO assets (external_id, organisation_id, area_id, sector, kind)
                VALUES (%s, %s, %s, 'water', 'hydrant') RETURNING id
                """,
                (f"hydrant-{tag}-{i}", org, area),
            )
            for i, area in enumerate(areas)
        ]
        for state, devices in names.items():
            for i, device in enumerate(devices):
                conn.execute(
                    """
                    INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
                    VALUES (%s, %s, %s, %s, %s)
                    """,
                    (device, model_id, org, assets[i % len(assets)], state),
                )
    return IngestFleet(db_url=db_url, prefix=prefix, **names)


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    value: int = row[0]
    return value


@pytest.fixture
def ingest_fleet(db_url: str, topic_prefix: str) -> IngestFleet:
    """The test's device fleet (20 active, 2 suspended, 1 provisioned pressure loggers)."""
    return build_fleet(db_url, topic_prefix)


def single(device: str, time_s: float, value: float) -> bytes:
    """A native single-reading payload of the pressure logger (``value`` in psi)."""
    return orjson.dumps({"t": time_s, "psi": value})


def pack(times: Iterable[float], values: Iterable[float]) -> bytes:
    """A SenML JSON pack of pressure records (psi), absolute times."""
    return orjson.dumps(
        [{"n": "pressure", "u": "psi", "v": v, "t": t} for t, v in zip(times, values, strict=True)]
    )


def publish(
    mqtt_url: str, messages: Iterable[tuple[str, bytes]], *, qos: int = 1, timeout: float = 120
) -> int:
    """Publish ``(topic, payload)`` pairs with a service account (``mqtt_url``); returns once all are
    acknowledged."""
    address = parse_url(mqtt_url)
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
    )
    client.username_pw_set(address.username, address.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    lock = threading.Condition()
    state = {"acked": 0, "sent": 0}

    def on_publish(c: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with lock:
            state["acked"] += 1
            lock.notify_all()

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with lock:
            state["connack"] = 1 if not reason.is_failure else -1
            lock.notify_all()

    client.on_publish = on_publish
    client.on_connect = on_connect
    client.connect(address.host, address.port, keepalive=60)
    client.loop_start()
    try:
        # paho drops a QoS 0 message published before the CONNACK (eclipse-paho/paho.mqtt.python#196):
        # publish only once the broker has accepted the connection.
        with lock:
            lock.wait_for(lambda: "connack" in state, timeout=timeout)
            assert state.get("connack") == 1, f"the broker refused or never answered the connection: {state}"
        for topic, payload in messages:
            with lock:
                # Keep at most 1,000 unacknowledged: paho's own queue is unbounded otherwise.
                lock.wait_for(lambda: state["sent"] - state["acked"] < 1000, timeout=timeout)
            info = client.publish(topic, payload, qos=qos)
            assert info.rc == paho.MQTT_ERR_SUCCESS, info.rc
            state["sent"] += 1
        deadline = time.monotonic() + timeout
        with lock:
            if qos:
                lock.wait_for(
                    lambda: state["acked"] >= state["sent"], timeout=max(0.0, deadline - time.monotonic())
                )
                assert state["acked"] >= state["sent"], state
    finally:
        client.disconnect()
        client.loop_stop()
    return state["sent"]


@dataclass
class LoggedProcess:
    """One ``hatang`` subprocess with a JSON-lines log and a metrics port (ingest, alerts)."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int
    # How long :meth:`wait_log` waits by default.
    wait_log_s: ClassVar[float] = 30

    def lines(self) -> list[dict[str, Any]]:
        """The process's log so far, parsed."""
        return [
            orjson.loads(line)
            for line in self.log.read_text(errors="replace").splitlines()
            if line.startswith("{")
        ]

    def wait_log(self, msg: str, *, count: int = 1, timeout: float | None = None) -> None:
        """Wait until the log holds ``count`` records whose message is ``msg``."""
        deadline = time.monotonic() + (self.wait_log_s if timeout is None else timeout)
        while time.monotonic() < deadline:
            if sum(1 for rec in self.lines() if rec.get("msg") == msg) >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {msg!r} x{count} in log:\n{self.log.read_text()[-3000:]}")

    def metric(self, name: str) -> float:
        """A sample value from the process's /metrics endpoint (summed over labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@dataclass
class WorkerProcess(LoggedProcess):
    """One ``hatang ingest`` subprocess and its JSON-lines log."""

    env: dict[str, str] = field(repr=False)


@dataclass
class Workers:
    """Starts workers of one group for one test; everything started is stopped at teardown."""

    stack: Stack
    db_url: str
    prefix: str
    tmp: Path
    group: str = field(default_factory=lambda: f"g{uuid.uuid4().hex[:8]}")
    started: list[WorkerProcess] = field(default_factory=list)

    @property
    def telemetry_url(self) -> str:
        """The account tests publish device telemetry with (the simulator's, under the device mount)."""
        return self.stack.mqtt_url("simulator")

    def start(self, name: str = "w1", *, wait: bool = True, **settings: str) -> WorkerProcess:
        """Start (or restart, same client id) worker ``name``; waits until it has subscribed."""
        port = free_port()
        env = {
            **os.environ,
            "HATANG_DATABASE_URL": self.db_url,
            "HATANG_MQTT_URL": self.stack.mqtt_url("ingest"),
            "HATANG_TOPIC_PREFIX": self.prefix,
            "HATANG_INGEST__GROUP": self.group,
            "HATANG_INGEST__CLIENT_ID": f"{self.group}-{name}",
            "HATANG_INGEST__METRICS_PORT": str(port),
            "HATANG_INGEST__SESSION_EXPIRY_S": "600",
            **{f"HATANG_INGEST__{key.upper()}": value for key, value in settings.items()},
        }
        log = self.tmp / f"{name}-{len(self.started)}.log"
        handle = log.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hatang.cli", "ingest"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
        handle.close()
        worker = WorkerProcess(name=name, proc=proc, log=log, metrics_port=port, env=env)
        self.started.append(worker)
        if wait:
            worker.wait_log("subscribed", timeout=60)
        return worker

    def stop_all(self) -> None:
        """SIGTERM every running worker, SIGKILL those that do not exit in time."""
        stop_processes([worker.proc for worker in self.started], timeout=30)


def stop_processes(procs: list[subprocess.Popen[bytes]], *, timeout: float) -> None:
    """SIGTERM every running process of ``procs``, then SIGKILL those not gone within ``timeout``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def workers(stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Workers]:
    """Start ``hatang ingest`` processes against the test's database and prefix."""
    group = Workers(stack=stack, db_url=db_url, prefix=topic_prefix, tmp=tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def count_readings(db_url: str) -> tuple[int, int]:
    """``(rows, distinct keys)`` of ``readings``: equal when nothing is doubled."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, metric_id, time)) FROM readings"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def wait_rows(db_url: str, expected: int, *, timeout: float = 60) -> int:
    """Wait until ``readings`` holds ``expected`` rows (or the timeout); returns the count seen."""
    deadline = time.monotonic() + timeout
    rows = 0
    while time.monotonic() < deadline:
        rows, _ = count_readings(db_url)
        if rows >= expected:
            return rows
        time.sleep(0.2)
    return rows


RECEIVED = "hatang_ingest_messages_received_total"
HELD = "hatang_ingest_queue_messages"
MARKERS = 'hatang_ingest_rejections_total{reason="unknown_device"}'


def settle(workers: Iterable[WorkerProcess], mqtt_url: str, prefix: str, *, timeout: float = 90) -> None:
    """Wait until every worker has received, committed and acknowledged all the broker held for it.

    The positive synchronisation point before asserting that nothing more arrives: marker messages
    (to an unregistered device: dead letters, never readings) are published after everything else
    until each worker has received one (the broker queues a message in one session when it is
    published, and a session delivers in order, redeliveries first), then each worker is waited for
    until it holds nothing: everything it took is committed and its acknowledgement sent (or, on a
    lost connection, left to the broker, which then delivers it again ahead of the marker).
    """
    pending = list(workers)
    deadline = time.monotonic() + timeout
    while any(w.metric(MARKERS) < 1 for w in pending):
        assert time.monotonic() < deadline, "a worker never received a marker"
        publish(mqtt_url, [(TopicLayout(prefix, DEVICE_MOUNT).telemetry("settle-marker"), b'{"t": 0}')])
        seen = time.monotonic() + 2.0  # give this marker time to land before sending another
        while time.monotonic() < seen and any(w.metric(MARKERS) < 1 for w in pending):
            time.sleep(0.05)
    while any(w.metric(HELD) != 0 for w in pending):
        assert time.monotonic() < deadline, "a worker still holds messages it took"
        time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Load:
    """A known set of readings as SenML packs: ``expected`` rows, each (device, time) once."""

    messages: list[tuple[str, bytes]]
    expected: int
    value_sum_psi: float


def pack_load(fleet: IngestFleet, *, readings: int = 100_000, per_pack: int = 50) -> Load:
    """``readings`` pressure readings over the active devices, ``per_pack`` records a message.

    Times are whole seconds two days back (inside the contracts' age limit), distinct per device.
    """
    base = int(time.time()) - 2 * 24 * 3600
    devices = fleet.active
    packs = readings // per_pack
    messages, total = [], 0.0
    for i in range(packs):
        device = devices[i % len(devices)]
        start = base + (i // len(devices)) * per_pack
        times = [start + k for k in range(per_pack)]
        values = [20.0 + (i * per_pack + k) % 100 / 10 for k in range(per_pack)]
        total += sum(values)
        messages.append((fleet.topic(device), pack(times, values)))
    return Load(messages=messages, expected=packs * per_pack, value_sum_psi=total)


def check_exactly_once(db_url: str, load: Load) -> None:
    """Every reading of ``load`` is in ``readings`` once, and nothing else is."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, metric_id, time)), coalesce(sum(value), 0)"
            " FROM readings"
        ).fetchone()
    assert row is not None
    rows, distinct, total_bar = row
    assert (rows, distinct) == (load.expected, load.expected)
    assert abs(total_bar / 0.0689475729 - load.value_sum_psi) < 1e-6 * load.value_sum_psi


class Publisher(threading.Thread):
    """Publishes a load in the background (so that the test can break things meanwhile)."""

    def __init__(self, mqtt_url: str, messages: list[tuple[str, bytes]]) -> None:
        super().__init__(daemon=True)
        self.mqtt_url, self.messages = mqtt_url, messages
        self.error: BaseException | None = None
        self.sent = 0

    def run(self) -> None:
        try:
            self.sent = publish(self.mqtt_url, self.messages)
        except BaseException as exc:  # reported by join_ok
            self.error = exc

    def join_ok(self, timeout: float = 120) -> None:
        """Wait for the publisher; re-raise its failure."""
        self.join(timeout)
        assert not self.is_alive(), "publisher still running"
        if self.error is not None:
            raise self.error


def wait_template_quiet(stack: Stack, *, timeout: float = 30) -> None:
    """Wait until no session uses the suite's template database.

    After a PostgreSQL restart TimescaleDB's background scheduler reconnects to every database,
    the template included, for a moment; the next test's ``CREATE DATABASE ... TEMPLATE`` would fail.
    """
    assert stack.postgres is not None
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'hatang_template'"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.1)
