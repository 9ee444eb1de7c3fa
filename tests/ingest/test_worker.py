"""The ingest worker as a real process against the suite's PostgreSQL and Mosquitto."""

from __future__ import annotations

import subprocess
import time

import psycopg

from ingest.mqtt import parse_url
from tests.plugins.ingest import IngestFleet, Workers, count_readings, pack, publish, single, wait_rows


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
    _mosquitto_pub(workers.stack.mqtt_url, ingest_fleet.topic(device), single(device, now, 50.0))
    assert wait_rows(ingest_fleet.db_url, 1, timeout=30) == 1
    with psycopg.connect(ingest_fleet.db_url) as conn:
        row = conn.execute(
            """
            SELECT extract(epoch FROM r.time), m.name, r.value, d.last_seen IS NOT NULL,
                   (SELECT count(*) FROM latest_readings l WHERE l.device_id = d.id)
            FROM readings r JOIN devices d ON d.id = r.device_id JOIN metrics m ON m.id = r.metric_id
            """
        ).fetchone()
    assert row is not None
    epoch, metric, value, seen, latest = row
    assert (float(epoch), metric, seen, latest) == (now, "water_pressure", True, 1)
    assert abs(value - 50.0 * 0.0689475729) < 1e-6  # psi -> bar
