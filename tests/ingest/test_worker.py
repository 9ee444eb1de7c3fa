"""The ingest worker as a real process against the suite's PostgreSQL and Mosquitto."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from typing import Any

import orjson
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ingest.mqtt import parse_url
from tests.plugins.ingest import (
    DEVICE_MOUNT,
    MARKERS,
    RECEIVED,
    IngestFleet,
    Workers,
    count_readings,
    publish,
    settle,
    single,
    wait_rows,
)


def _mosquitto_pub(mqtt_url: str, topic: str, payload: bytes) -> None:
    address = parse_url(mqtt_url)
    subprocess.run(
        ["mosquitto_pub", "-h", address.host, "-p", str(address.port), "-u", str(address.username),
         "-P", str(address.password), "-q", "1", "-t", topic, "-s"],
        input=payload, check=True, timeout=30,
    )  # fmt: skip


def test_mosquitto_pub_message_lands(ingest_fleet: IngestFleet, workers: Workers) -> None:
    workers.start()
    now = round(time.time()) - 60
    device = ingest_fleet.active[0]
    _mosquitto_pub(workers.telemetry_url, ingest_fleet.topic(device), single(device, now, 50.0))
    assert wait_rows(ingest_fleet.db_url, 1, timeout=30) == 1
    with psycopg.connect(ingest_fleet.db_url) as conn:
        row = conn.execute(
            """
            SELECT extract(epoch FROM r.time), m.name, r.value,
                   EXISTS (SELECT FROM device_seen s WHERE s.device_id = d.id),
                   (SELECT count(*) FROM latest_readings l WHERE l.device_id = d.id)
            FROM readings r JOIN devices d ON d.id = r.device_id JOIN metrics m ON m.id = r.metric_id
            """
        ).fetchone()
    assert row is not None
    epoch, metric, value, seen, latest = row
    assert (float(epoch), metric, seen, latest) == (now, "water_pressure", True, 1)
    assert abs(value - 50.0 * 0.0689475729) < 1e-6  # psi -> bar


def test_storm_of_bad_input_beside_good_traffic(ingest_fleet: IngestFleet, workers: Workers) -> None:
    fleet = ingest_fleet
    worker = workers.start(dead_letter_budget="100000")  # every letter stored: the budget has its own test
    now = int(time.time()) - 60
    rng = random.Random(5)
    good: list[tuple[str, bytes]] = []
    for i in range(2000):
        device = fleet.active[i % len(fleet.active)]
        good.append((fleet.topic(device), single(device, now - i // len(fleet.active), 30.0 + i % 50)))
    bad: list[tuple[str, bytes, str]] = []
    for i in range(300):
        device = fleet.active[i % len(fleet.active)]
        junk = rng.randbytes(rng.randint(0, 200))
        bad += [
            (fleet.topic(device), b"{" + junk, "malformed"),
            (fleet.topic(device), b"\xff" * 70_000, "too_large"),
            (fleet.topic(f"ghost-{i:04d}"), single("ghost", now, 40.0), "unknown_device"),
            (f"{DEVICE_MOUNT}{fleet.prefix}/devices//telemetry", single("", now, 40.0), "bad_topic"),
            (fleet.topic(fleet.suspended[i % 2]), single(fleet.suspended[0], now, 40.0), "device_not_active"),
            (fleet.topic(fleet.provisioned[0]), single(fleet.provisioned[0], now, 40.0), "device_not_active"),
            (fleet.topic(device), orjson.dumps({"t": now, "psi": 10_000.0}), "out_of_range"),
            (fleet.topic(device), orjson.dumps({"t": now + 86_400, "psi": 40.0}), "time_in_future"),
            (fleet.topic(device), orjson.dumps({"t": now, "psi": "high"}), "schema"),
        ]
    traffic = [*good, *((topic, payload) for topic, payload, _ in bad)]
    rng.shuffle(traffic)
    publish(workers.telemetry_url, traffic)
    assert wait_rows(fleet.db_url, len(good), timeout=60) == len(good)
    expected = Counter(reason for _, _, reason in bad)
    found: Counter[str] = Counter()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(fleet.db_url) as conn:
            found = Counter(
                dict(conn.execute("SELECT reason, count(*) FROM dead_letters GROUP BY reason").fetchall())
            )
        if sum(found.values()) >= len(bad):
            break
        time.sleep(0.2)
    assert found == expected
    assert count_readings(fleet.db_url) == (len(good), len(good))
    assert worker.proc.poll() is None
    assert worker.metric("hatang_ingest_rejections_total") == len(bad)
    with psycopg.connect(fleet.db_url) as conn:
        kept = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE reason = 'too_large' AND length(payload) <= 65536"
        ).fetchone()
        known = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE reason = 'device_not_active' AND device_id IS NOT NULL"
        ).fetchone()
    assert kept == (expected["too_large"],)
    assert known == (expected["device_not_active"],)


def test_fanout_publishes_one_message_per_sector_and_area(
    ingest_fleet: IngestFleet, workers: Workers
) -> None:
    fleet = ingest_fleet
    workers.start(flush_interval_ms="500")
    received: list[tuple[str, dict[str, Any]]] = []
    address = parse_url(workers.telemetry_url)
    listener = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    listener.username_pw_set(address.username, address.password)
    listener.on_message = lambda c, u, msg: received.append((msg.topic, orjson.loads(msg.payload)))
    listener.connect(address.host, address.port)
    listener.subscribe(f"{fleet.prefix}/normalized/#", qos=0)
    listener.loop_start()
    try:
        time.sleep(0.5)
        now = int(time.time()) - 60
        messages = [(fleet.topic(d), single(d, now, 45.0)) for d in fleet.active]
        publish(workers.telemetry_url, messages)
        assert wait_rows(fleet.db_url, len(messages), timeout=30) == len(messages)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(len(p["device"]) for _, p in received) < len(messages):
            time.sleep(0.1)
    finally:
        listener.loop_stop()
        listener.disconnect()
    topics = {topic for topic, _ in received}
    assert topics <= {
        f"{fleet.prefix}/normalized/water/kinh-bac",
        f"{fleet.prefix}/normalized/water/vo-cuong",
    }
    devices = sorted(str(d) for _, p in received for d in p["device"])
    assert devices == sorted(fleet.active)
    assert len(received) <= 2 * 2  # one message per slice per batch, a batch or two
    assert all(p["metric"] == ["water_pressure"] * len(p["device"]) for _, p in received)
    assert all(isinstance(p["committed"], float) and p["committed"] > now for _, p in received)


def test_sigterm_drains_commits_acknowledges_and_exits(ingest_fleet: IngestFleet, workers: Workers) -> None:
    fleet = ingest_fleet
    worker = workers.start(flush_interval_ms="600000", batch_size="100000")  # holds what it takes
    now = int(time.time()) - 600
    messages = [(fleet.topic(d), single(d, now + i, 40.0)) for i in range(20) for d in fleet.active]
    publish(workers.telemetry_url, messages)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and worker.metric("hatang_ingest_messages_received_total") < len(
        messages
    ):
        time.sleep(0.05)
    assert count_readings(fleet.db_url)[0] == 0  # received, held, not yet committed
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0  # a bound against hanging, not a measured drain time
    assert count_readings(fleet.db_url) == (len(messages), len(messages))
    # Acknowledged before exiting: a restarted worker gets nothing back but the markers that prove
    # it would have (settle), so it stores no duplicate.
    again = workers.start()
    settle([again], workers.telemetry_url, fleet.prefix)
    assert again.metric(RECEIVED) == again.metric(MARKERS)
    assert again.metric("hatang_ingest_readings_duplicate_total") == 0
