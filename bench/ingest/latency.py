"""Phase (d) of the ingest benchmark: latency from a reading's time to its arrival on the fan-out.

Owns the paced publisher of that phase and the listener, which runs in a process of its own.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.ingest.load import Publisher, single
from ingest import parse_url


def listen(*, mqtt_url: str, prefix: str, since: float, total: int, seconds: float, out: str) -> None:
    """In a process of its own (so that arrival times are not skewed by the publisher's GIL): stamp
    each fan-out reading's arrival and write ``arrival - reading time`` per reading to ``out``."""
    address = parse_url(mqtt_url)
    arrivals: list[float] = []

    def on_message(c: Any, u: Any, msg: paho.MQTTMessage) -> None:
        now = time.time()
        arrivals.extend(now - t for t in orjson.loads(msg.payload)["time"] if t >= since)

    listener = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fan-{uuid.uuid4().hex[:8]}")
    listener.username_pw_set(address.username, address.password)
    listener.on_message = on_message
    listener.connect(address.host, address.port)
    # Once subscribed, an empty file tells the publisher to start.
    def on_subscribe(*args: Any) -> None:
        Path(out).write_bytes(b"")

    listener.on_subscribe = on_subscribe
    listener.subscribe(f"{prefix}/normalized/#", qos=0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(arrivals) < total:
        listener.loop(timeout=0.05)
    listener.disconnect()
    Path(out).write_bytes(orjson.dumps(arrivals))


def latency(
    mqtt_url: str, prefix: str, devices: list[str], *, rate: float, seconds: float, workdir: Path
) -> tuple[list[float], int]:
    """Publish single readings at ``rate`` for ``seconds``; latency of each on the fan-out."""
    total = int(rate * seconds)
    out = workdir / "latency.json"
    since = time.time()
    listener = multiprocessing.get_context("spawn").Process(
        target=listen,
        kwargs={"mqtt_url": mqtt_url, "prefix": prefix, "since": since, "total": total,
                "seconds": seconds + 40, "out": str(out)},
        daemon=True,
    )
    listener.start()
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    publisher = Publisher(mqtt_url)
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    start = time.perf_counter()
    for i in range(total):
        if i % per_tick == 0:
            delay = start + (i // per_tick) * tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        device = devices[i % len(devices)]
        publisher.send(f"{prefix}/devices/{device}/telemetry", single(time.time(), 30.0 + i % 40))
    publisher.close()
    listener.join(timeout=seconds + 60)
    arrivals: list[float] = orjson.loads(out.read_bytes() or b"[]")
    return arrivals, total

