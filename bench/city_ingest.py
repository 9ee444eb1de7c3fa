"""The ingest phase of ``hatang bench city``: one worker at city shape against the same at 500 devices.

Owns :func:`measure_ingest`. On the city's scratch database (its devices, its history) and under a
topic prefix of its own, it queues the same number of messages of the same mix for a worker's
persistent session, spread over 500 of the city's active devices or over all of them, four times in
the order small, city, city, small, and times ``hatang ingest`` (a fresh real process each time)
draining each: messages and readings a second per shape over its two drains, and their
ratio. The mix is a city's: six in ten messages carry the fewest readings the model sends (its
required fields, mostly one), three in ten every metric of the
device's model (native JSON, ``firmware_contracts.encode_native``), one in ten is a 50-record SenML
logger pack (``encode_senml``) of readings over an hour old, late data for the rollups. Timestamps are
live and never ahead of the clock. Values are the middle of each field's own range (the metric's,
narrowed by the sensor's), so nothing is rejected: a rejection fails the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.ingest.ceilings import touch_session
from bench.ingest.load import Publisher
from bench.ingest.worker import WorkerProcess
from firmware_contracts import (
    CompiledModel,
    DeviceModel,
    compile_model,
    encode_native,
    encode_senml,
    load_models,
)

PER_PACK = 50
SMALL_SHAPE = 500


@dataclass(frozen=True, slots=True)
class SendingDevice:
    external_id: str
    model: DeviceModel
    metrics: tuple[str, ...]
    required: tuple[str, ...]
    middle: dict[str, float]  # metric -> the middle of the field's canonical range


def device(external_id: str, compiled: CompiledModel) -> SendingDevice:
    """One device of the model ``compiled`` (``compile_model``'s) as the phase sends for it."""
    fields = compiled.fields
    metrics = tuple(f.metric for f in fields)
    required = tuple(f.metric for f in fields if f.spec.required) or metrics[:1]
    middle = {f.metric: (f.low + f.high) / 2 for f in fields}
    return SendingDevice(external_id, compiled.model, metrics, required, middle)


def _devices(url: str) -> list[SendingDevice]:
    compiled = {key: compile_model(model) for key, model in load_models().items()}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT d.external_id, dm.model, dm.version FROM devices d"
            " JOIN device_models dm ON dm.id = d.model_id WHERE d.state = 'active' ORDER BY d.id"
        ).fetchall()
    return [device(external_id, compiled[(m, v)]) for external_id, m, v in rows if (m, v) in compiled]


def messages_of(
    devices: list[SendingDevice], count: int, *, prefix: str, now: float
) -> tuple[list[tuple[str, bytes]], int]:
    """``count`` messages over ``devices`` in turn, with the city's mix; returns them and their readings."""
    out: list[tuple[str, bytes]] = []
    readings, sequence = 0, [0] * len(devices)
    start = now - 30 - count // len(devices) - 1  # live: the newest readings half a minute old
    for i in range(count):
        k = i % len(devices)
        device, j = devices[k], sequence[k]
        sequence[k] += 1
        topic = f"{prefix}/devices/{device.external_id}/telemetry"
        kind, middle = i % 10, device.middle
        if kind == 9 and "senml+json" in device.model.formats:
            # An offline logger's buffer: 50 records of its first metric, over an hour late; a device's
            # later packs reach further back, so none overlaps another or its live readings.
            metric = device.metrics[0]
            base = start - 3600 - (j + 1) * PER_PACK
            pack = [(base + r, metric, middle[metric]) for r in range(PER_PACK)]
            out.append((topic, encode_senml(device.model, pack)))
            readings += PER_PACK
        elif kind >= 6:
            values = {m: middle[m] for m in device.metrics}
            out.append((topic, encode_native(device.model, start + j, values)))
            readings += len(device.metrics)
        else:  # the fewest readings the model sends: its required fields
            values = {m: middle[m] for m in device.required}
            out.append((topic, encode_native(device.model, start + j, values)))
            readings += len(values)
    return out, readings


_WAL = (
    "SELECT wal_bytes, wal_fpi, (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)"
    " FROM pg_stat_wal"
)


def _wal(url: str) -> tuple[int, int, int]:
    """The cluster's write-ahead log so far: bytes, full-page images, checkpoints."""
    with psycopg.connect(url) as conn:
        row = conn.execute(_WAL).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _checkpoint(url: str) -> bool:
    """A checkpoint now, where the role may (superuser or ``pg_checkpoint``); whether it ran.

    The drains then start from the same point of a checkpoint cycle whatever ran before: without it
    the checkpoint that the history's write-ahead log triggers lands on whichever drain runs then,
    and its full-page images (the first change of each page after a checkpoint logs the whole page)
    with it. After it, the city's drains log each page they touch once, as a city's devices do once
    per checkpoint cycle (``checkpoint_timeout``, 15 minutes on the stack).
    """
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def _drain(
    env: dict[str, str], log: Path, spec: tuple[str, str, str, str, int], publisher_url: str,
    messages: list[tuple[str, bytes]],
) -> float:  # fmt: skip
    """Queue ``messages`` for the worker's session, start the worker, time its drain; seconds."""
    asyncio.run(touch_session(spec))
    publisher = Publisher(publisher_url)
    for topic, payload in messages:
        publisher.send(topic, payload)
    publisher.close()
    worker = WorkerProcess(env, log)
    try:
        began = worker.connected_at()
        deadline = time.monotonic() + 900
        while worker.metric("hatang_ingest_messages_acked_total") < len(messages):
            if time.monotonic() > deadline or worker.proc.poll() is not None:
                raise RuntimeError(f"worker drained {worker.metric('hatang_ingest_messages_acked_total')}"
                                   f" of {len(messages)}:\n{log.read_text()[-2000:]}")  # fmt: skip
            time.sleep(0.25)
        rejected = worker.metric("hatang_ingest_rejections_total")
        if rejected > 0:
            raise RuntimeError(f"{rejected} rejections: the bench's messages must all be valid")
        return worker.metric("hatang_ingest_last_commit_timestamp_seconds") - began
    finally:
        worker.stop()


def measure_ingest(
    url: str, mqtt_url: Callable[[str], str], *, mount: str, messages: int, batch: int
) -> dict[str, Any]:
    """Drain ``messages`` at 500 devices and at the whole city with one worker; the figures.

    ``mqtt_url(role)`` is the stack's account of a role: the worker reads as ``ingest``, the load is
    published as ``simulator`` under the device listener's ``mount`` (what a device's topic becomes).
    """
    devices = _devices(url)
    tag = uuid.uuid4().hex[:8]
    prefix, group = f"bench/{tag}/city/v1", f"bench-city-{tag}"
    env = {
        **os.environ,
        "HATANG_DATABASE_URL": url,
        "HATANG_MQTT_URL": mqtt_url("ingest"),
        "HATANG_TOPIC_PREFIX": prefix,
        "HATANG_INGEST__GROUP": group,
        "HATANG_INGEST__CLIENT_ID": f"{group}-w1",
        "HATANG_INGEST__SESSION_EXPIRY_S": "600",
    }
    spec = (mqtt_url("ingest"), f"{group}-w1", group, mount + prefix, batch)
    workdir = Path(tempfile.mkdtemp(prefix="hatang-bench-city-"))
    out: dict[str, Any] = {"ingest_messages": messages, "ingest_checkpoint_first": _checkpoint(url)}
    shapes = {"small": devices[:SMALL_SHAPE], "city": devices}
    spent = {"small": 0.0, "city": 0.0}
    wal = {shape: [0, 0, 0] for shape in spent}  # bytes, full-page images, checkpoints
    # Small, city, city, small: a load that drifts during the phase (autovacuum after the history, the
    # machine) weighs on both shapes alike. Each drain is a fresh worker and fresh live messages.
    for turn, shape in enumerate(("small", "city", "city", "small")):
        payloads, readings = messages_of(shapes[shape], messages, prefix=mount + prefix, now=time.time())
        before = _wal(url)
        spent[shape] += _drain(env, workdir / f"{turn}-{shape}.log", spec, mqtt_url("simulator"), payloads)
        after = _wal(url)
        wal[shape] = [total + a - b for total, a, b in zip(wal[shape], after, before, strict=True)]
        out[f"ingest_{shape}_devices"] = len(shapes[shape])
        out[f"ingest_{shape}_readings"] = readings
    for shape, seconds in spent.items():
        out[f"ingest_{shape}_msgs_s"] = round(2 * messages / seconds)
        out[f"ingest_{shape}_readings_s"] = round(2 * out[f"ingest_{shape}_readings"] / seconds)
        # Cluster-wide, so they hold the queueing's and the worker's start-up too: small beside the drain.
        out[f"ingest_{shape}_wal_bytes_per_msg"] = round(wal[shape][0] / (2 * messages))
        out[f"ingest_{shape}_wal_fpi_per_msg"] = round(wal[shape][1] / (2 * messages), 3)
        out[f"ingest_{shape}_checkpoints"] = wal[shape][2]
    out["ingest_msgs_city_vs_small"] = round(out["ingest_city_msgs_s"] / out["ingest_small_msgs_s"], 3)
    out["ingest_readings_city_vs_small"] = round(
        out["ingest_city_readings_s"] / out["ingest_small_readings_s"], 3
    )
    return out
