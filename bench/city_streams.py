"""The streams phase of ``hatang bench city``: 200 clients following 200 devices of the city, twice.

Owns :func:`measure_streams`. On the city's scratch database and under a topic prefix of its own it
starts ``hatang api`` as a real process (``bench.streams.start_api``) and connects ``clients``
WebSocket clients, each following one device of its own (an admin key and ``?device=``: as many
distinct filters as clients), then puts ``rate`` readings/s through it twice, in sequence:

- **hub**: a publisher process puts the readings straight on the fan-out topics, in ingest's fan-out
  shape, stamped with their publish time (``bench.streams.publish_fanout``, what ``hatang bench
  streams --filter device`` does): a client's lag is broker, hub, queue and socket;
- **end to end**: a publisher process sends the same devices' own telemetry (native JSON of their
  model, every metric, the device's timestamp its publish time) through MQTT to a real ``hatang
  ingest`` worker, which validates, commits and fans out; a client's lag is then MQTT publish →
  ingest → commit → fan-out → hub → WebSocket client. The worker's own lag histogram (reading time
  to commit) gives ingest's part of it.

Publishing devices are as many of the city's active devices as send ``rate`` readings reporting once
a second each (at most 1,000), those whose model carries a timestamp and the most metrics (fewer
messages for the same readings); clients follow the first ``clients`` of them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.city_ingest import _devices
from bench.ingest.figures import bucket_quantile
from bench.ingest.worker import WorkerProcess
from bench.streams import ClientStats, measure_clients, percentile, publish_fanout, start_api, stop_api
from firmware_contracts import DeviceModel, encode_native, load_models
from ingest import parse_url
from registry.audit import CLI
from registry.keys import create_key

TICK_S = 0.1
PUBLISHERS = 1000  # devices publishing at most

# (topic, model id, model version, values): one device's message, re-stamped at each publish.
Plan = list[tuple[str, str, int, dict[str, float]]]


def publish_telemetry(mqtt_url: str, rate: int, plan: Plan, events: tuple[EventType, EventType]) -> None:
    """Publish the devices of ``plan`` in turn, QoS 1, ``rate`` readings/s, until ``stop`` (a separate
    process's target); each message's time is its publish time."""
    models = load_models()
    messages = [(topic, models[(model, version)], values) for topic, model, version, values in plan]
    address = parse_url(mqtt_url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-dev-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(address.username, address.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port, keepalive=60)
    client.loop_start()
    go, stop = events
    go.wait()
    tick, carry, k = time.monotonic(), 0.0, 0
    while not stop.is_set():
        carry += rate * TICK_S
        while carry > 0:
            topic, model, values = messages[k % len(messages)]
            client.publish(topic, encode_native(model, time.time(), values), qos=1)
            carry -= len(values)
            k += 1
        tick += TICK_S
        time.sleep(max(0.0, tick - time.monotonic()))
    client.disconnect()
    client.loop_stop()


def _example_values(model: DeviceModel) -> dict[str, float]:
    richest = max(model.examples, key=lambda example: len(example.readings))
    return {metric: value for _, metric, value in richest.readings}


def _lags(stats: list[ClientStats], seconds: float, expected: float, name: str) -> dict[str, Any]:
    lags = [sample for s in stats for sample in s.lags]
    delivered = sum(s.readings for s in stats)
    return {
        f"streams_{name}_lag_p50_s": round(percentile(lags, 0.50), 4),
        f"streams_{name}_lag_p99_s": round(percentile(lags, 0.99), 4),
        f"streams_{name}_lag_max_s": round(max((lag for lag, _ in lags), default=float("nan")), 4),
        f"streams_{name}_delivered_share": round(delivered / expected, 4) if expected else None,
        f"streams_{name}_dropped": sum(s.dropped for s in stats),
    }


async def _admin_token(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM organisations ORDER BY id LIMIT 1")
        row = await cur.fetchone()
        assert row is not None
        return (await create_key(conn, organisation_id=row[0], role="admin", name="bench", actor=CLI)).token


def measure_streams(
    url: str, mqtt_url: Callable[[str], str], *, mount: str, clients: int, rate: int, seconds: float,
    warmup: float,
) -> dict[str, Any]:  # fmt: skip
    """Both runs through one API process; the figures. ``mqtt_url(role)`` as in ``bench.city_ingest``.

    Kept whole: the API process, the worker and the publishers are started and stopped in one
    ``try`` whose ``finally`` stops them all; the two runs read in order.
    """
    found = _devices(url)
    # Each device sends the canonical values of its model's richest example (valid for its sensor's
    # ranges, which the catalogue's middle is not for every model).
    values: dict[tuple[str, int], dict[str, float]] = {}
    for d in found:
        if d.model.key not in values:
            values[d.model.key] = _example_values(d.model)
    ranked = sorted(
        (d for d in found if d.model.time is not None),
        key=lambda d: (-len(values[d.model.key]), d.external_id),
    )
    # As many devices as send ``rate`` readings once a second each (at least one per client, at most
    # PUBLISHERS): each followed device then publishes every second, however short the run.
    count, per_second = 0, 0
    for d in ranked:
        if count >= PUBLISHERS or (per_second >= rate and count >= clients):
            break
        count, per_second = count + 1, per_second + len(values[d.model.key])
    eligible = ranked[:count]
    if len(eligible) < clients:
        raise RuntimeError(f"{len(eligible)} devices with a timestamp to follow, {clients} clients wanted")
    with psycopg.connect(url) as conn:
        owners: dict[str, int] = dict(
            conn.execute(
                "SELECT external_id, organisation_id FROM devices WHERE external_id = ANY(%s)",
                ([d.external_id for d in eligible],),
            ).fetchall()
        )
    follow = [d.external_id for d in eligible[:clients]]
    # The followed devices' share of the readings: every publishing device sends in turn (the fan-out
    # publisher one reading each, the devices their model's values).
    shares = {
        "hub": clients / len(owners),
        "e2e": sum(len(values[d.model.key]) for d in eligible[:clients])
        / sum(len(values[d.model.key]) for d in eligible),
    }
    tag = uuid.uuid4().hex[:8]
    prefix, group = f"bench/{tag}/city/v1", f"bench-city-streams-{tag}"
    plan: Plan = [
        (f"{mount}{prefix}/devices/{d.external_id}/telemetry", d.model.id, d.model.version,
         values[d.model.key])
        for d in eligible
    ]  # fmt: skip
    token = asyncio.run(_admin_token(url))
    context = multiprocessing.get_context("spawn")
    out: dict[str, Any] = {"streams_clients": clients, "streams_readings_s": rate, "streams_seconds": seconds}
    api = None
    worker: WorkerProcess | None = None
    try:
        api, port = start_api(url, mqtt_url("api"), prefix, max_clients=clients + 10)
        ws = f"ws://127.0.0.1:{port}/v1/streams/readings"
        runs: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("hub", publish_fanout, (mqtt_url("ingest"), prefix, rate, [(d, owners[d]) for d in owners])),
            ("e2e", publish_telemetry, (mqtt_url("simulator"), rate, plan)),
        ]
        for name, target, args in runs:
            if name == "e2e":
                worker = _start_worker(url, mqtt_url("ingest"), prefix, group)
            go, stop = context.Event(), context.Event()
            publisher = context.Process(target=target, args=(*args, (go, stop)))
            publisher.start()
            try:
                stats = asyncio.run(measure_clients(
                    ws, (token, token), clients=clients, warmup=warmup, seconds=seconds, go=go, follow=follow
                ))  # fmt: skip
            finally:
                stop.set()
                go.set()
                publisher.join(timeout=10)
            out.update(_lags(stats, seconds, rate * seconds * shares[name], name))
            out[f"streams_{name}_load_avg_1m"] = round(os.getloadavg()[0], 2)
        assert worker is not None
        # The part of end to end that is ingest's: reading time to commit, by the worker's own
        # histogram over the whole run (warm-up included; the bucket's upper bound).
        commit_lag = worker.buckets("hatang_ingest_lag_seconds")
        out["streams_e2e_commit_lag_p99_s"] = bucket_quantile(commit_lag, 0.99)
        with psycopg.connect(url) as conn:
            letters = conn.execute(
                "SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"{mount}{prefix}/%",)
            ).fetchone()
        if letters is not None and letters[0] > 0:
            raise RuntimeError(f"{letters[0]} dead letters: the bench's messages must all be valid")
    finally:
        if worker is not None:
            worker.stop()
        if api is not None:
            stop_api(api)
    return out


def _start_worker(url: str, mqtt_url: str, prefix: str, group: str) -> WorkerProcess:
    """``hatang ingest`` on the city's database and ``prefix``, once connected with its cache loaded."""
    env = {
        **os.environ,
        "HATANG_DATABASE_URL": url,
        "HATANG_MQTT_URL": mqtt_url,
        "HATANG_TOPIC_PREFIX": prefix,
        "HATANG_INGEST__GROUP": group,
        "HATANG_INGEST__CLIENT_ID": f"{group}-w1",
    }
    log = Path(tempfile.mkdtemp(prefix="hatang-bench-city-streams-")) / "worker.log"
    worker = WorkerProcess(env, log)
    try:
        worker.connected_at()
        deadline = time.monotonic() + 300
        while worker.metric("hatang_ingest_devices_cached") <= 0:
            if time.monotonic() > deadline or worker.proc.poll() is not None:
                raise RuntimeError(f"ingest worker did not load the registry:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
    except BaseException:
        worker.stop()
        raise
    return worker
