"""``hatang bench ingest``: the ingest worker end to end, beside its two ceilings, in one run.

Owns the ingest benchmark. In a scratch database on the configured server (created, migrated, filled
with a fleet and dropped by the run) and under a topic prefix of its own on the configured broker:
(a) raw binary COPY of the pack phase's readings straight into ``readings`` (same hypertable, same
indexes, ingest-sized transactions); (b) a bare subscriber (the same MQTT adapter, QoS 1, acks in
batches, no decoding, no database) draining the single-reading messages, and beside it (b') aiomqtt
as shipped (its message iterator, acknowledging on arrival) draining the same messages; (c)
``hatang ingest`` as a real process draining the same single-reading messages, then 50-record SenML
packs; (d) latency from a reading's time (= its publish time) to its arrival on the fan-out, which
follows the commit, at a fixed offered 5,000 messages/s. For (b) and (c) the messages are queued in
the broker for the subscriber's persistent session first and the drain is timed, so the publisher
never sets the pace. (b) and (b') run with the interpreter settings the worker runs with
(:func:`ingest.runner.tune_interpreter`). With the local stack, the CPU time of the subscriber or
worker, Mosquitto and PostgreSQL is read per phase (:mod:`bench.cpu`) and turned into what
the machine allows (:func:`cpu_budget`). Prints a table, then one JSON object as its last line.

The publisher here is deliberately plain paho, independent of ``ingest``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.cpu import CpuMeter, with_children
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack, free_port
from ingest.mqtt import Consumer, parse_url
from ingest.pgcopy import epoch_us, frame, pack_row
from ingest.runner import tune_interpreter
from registry.contracts import sync_contracts

_MODEL = "pressurelog-pl20"
_COPY = "COPY readings (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench ingest``."""
    parser = subparsers.add_parser("ingest", help="ingest end to end beside raw COPY and a bare subscriber")
    parser.add_argument(
        "--messages",
        type=int,
        default=200_000,
        help="single-reading messages (default 200,000: the bare drain lasts about a second)",
    )
    parser.add_argument("--packs", type=int, default=4_000, help="50-record SenML packs (default 4,000)")
    parser.add_argument("--devices", type=int, default=500, help="devices in the fleet (default 500)")
    parser.add_argument("--rate", type=float, default=5_000, help="offered msg/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency phase")
    parser.set_defaults(func=_run)


# -- set-up ---------------------------------------------------------------------------------------


def _fleet(conn: psycopg.Connection[Any], devices: int, tag: str) -> list[str]:
    sync_contracts(conn)
    org = conn.execute(
        "INSERT INTO organisations (slug, name) VALUES (%s, 'bench') RETURNING id", (f"bench-{tag}",)
    ).fetchone()
    area = conn.execute(
        "INSERT INTO areas (code, name, level) VALUES (%s, 'bench', 'commune') RETURNING id",
        (f"bench-{tag}",),
    ).fetchone()
    model = conn.execute(
        "SELECT id FROM device_models WHERE model = %s AND version = 1", (_MODEL,)
    ).fetchone()
    assert org is not None and area is not None and model is not None  # noqa: PT018
    asset = conn.execute(
        "INSERT INTO assets (external_id, organisation_id, area_id, sector, kind)"
        " VALUES (%s, %s, %s, 'water', 'hydrant') RETURNING id",
        (f"bench-{tag}", org[0], area[0]),
    ).fetchone()
    assert asset is not None
    names = [f"bench-{tag}-{i:05d}" for i in range(devices)]
    with (
        conn.cursor() as cur,
        cur.copy("COPY devices (external_id, model_id, organisation_id, asset_id, state) FROM STDIN") as copy,
    ):
        for name in names:
            copy.write_row((name, model[0], org[0], asset[0], "active"))
    conn.commit()
    return names


class _Publisher:
    """Plain paho QoS 1 publisher with at most 1,000 messages unacknowledged."""

    def __init__(self, mqtt_url: str) -> None:
        address = parse_url(mqtt_url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(address.username, address.password)
        self.client.max_inflight_messages_set(1000)
        self.acked = 0
        self.sent = 0
        self.cond = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(address.host, address.port, keepalive=60)
        self.client.loop_start()

    def _on_publish(self, c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        with self.cond:
            self.acked += 1
            self.cond.notify_all()

    def send(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.sent - self.acked < 1000, timeout=60)
        self.client.publish(topic, payload, qos=1)
        self.sent += 1

    def close(self) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.acked >= self.sent, timeout=120)
        self.client.disconnect()
        self.client.loop_stop()


def _single(now: float, value: float) -> bytes:
    return orjson.dumps({"t": now, "psi": value})


def _pack(start: float, values: list[float]) -> bytes:
    return orjson.dumps(
        [{"bn": "", "bt": start, "n": "pressure", "u": "psi", "v": values[0]}]
        + [{"n": "pressure", "u": "psi", "v": v, "t": k} for k, v in enumerate(values[1:], start=1)]
    )


# -- phases ---------------------------------------------------------------------------------------


def _raw_copy(url: str, readings: list[tuple[float, int, float]], batch: int, metric_id: int) -> float:
    streams, current = [], bytearray()
    for i, (t, device_id, value) in enumerate(readings, start=1):
        current += pack_row(epoch_us(t), device_id, metric_id, value)
        if i % batch == 0:
            streams.append(frame(current))
            current = bytearray()
    if current:
        streams.append(frame(current))
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for stream in streams:
            with conn.cursor() as cur, cur.copy(_COPY) as copy:
                copy.write(stream)
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("TRUNCATE readings")
        conn.commit()
    return len(readings) / elapsed


def _consumer(mqtt_url: str, client_id: str, group: str, prefix: str, batch: int) -> Consumer:
    return Consumer(
        url=mqtt_url,
        client_id=client_id,
        topic_filter=f"$share/{group}/{prefix}/devices/+/telemetry",
        session_expiry_s=120,
        receive_maximum=20_000,
        queue_bound=20_000,
        subscribe_timeout_s=600,
    )


async def _touch_session(spec: tuple[str, str, str, str, int]) -> None:
    async with _consumer(*spec):
        await asyncio.sleep(0.5)  # the subscription is made; the session now queues for us


async def _bare_drain(spec: tuple[str, str, str, str, int], expected: int, batch: int) -> float:
    """Count and acknowledge ``expected`` messages; seconds from CONNACK to the last one."""
    count = 0
    async with _consumer(*spec) as consumer:
        start = time.perf_counter()
        pending = []
        while count < expected:
            await consumer.wait(1.0)
            taken = consumer.take(batch)
            pending += taken
            count += len(taken)
            if len(pending) >= batch or count >= expected:
                consumer.ack(pending)
                pending = []
        return time.perf_counter() - start


async def _stock_drain(spec: tuple[str, str, str, str, int], expected: int) -> float:
    """aiomqtt as shipped: its message iterator, QoS 1 acknowledged by the library on arrival,
    counting only; seconds from CONNACK to the last message. The session exists (subscribed)."""
    address = parse_url(spec[0])
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 120
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=spec[1],
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )
    count = 0
    async with client:
        start = time.perf_counter()
        async for _ in client.messages:
            count += 1
            if count >= expected:
                break
        return time.perf_counter() - start


class _Worker:
    """``hatang ingest`` as a subprocess, read through its log and its metrics endpoint."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hatang.cli", "ingest", "--metrics-port", str(self.port)],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def connected_at(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if '"connected to the broker"' in line:
                    return datetime.fromisoformat(orjson.loads(line)["ts"]).timestamp()
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"ingest worker did not connect:\n{self.log.read_text()[-2000:]}")

    def metric(self, name: str) -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return -1.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))

    def buckets(self, name: str) -> dict[float, float]:
        """Cumulative counts of histogram ``name`` by upper bound."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith(name + "_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                found[float(bound)] = float(line.rsplit(" ", 1)[1])
        return found

    def wait_stored(self, expected: float, timeout: float = 300) -> float:
        """Poll the worker until it has stored ``expected`` readings; returns the time of the commit
        that did it (the worker's own clock, so the poll interval adds nothing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric("hatang_ingest_readings_stored_total") >= expected:
                return self.metric("hatang_ingest_last_commit_timestamp_seconds")
            time.sleep(0.25)  # each scrape costs the worker CPU: poll gently
        raise RuntimeError(
            f"worker stored {self.metric('hatang_ingest_readings_stored_total')} of {expected}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _listen(*, mqtt_url: str, prefix: str, since: float, total: int, seconds: float, out: str) -> None:
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


def _latency(
    mqtt_url: str, prefix: str, devices: list[str], *, rate: float, seconds: float, workdir: Path, mount: str
) -> tuple[list[float], int]:
    """Publish single readings at ``rate`` for ``seconds``; latency of each on the fan-out."""
    total = int(rate * seconds)
    out = workdir / "latency.json"
    since = time.time()
    listener = multiprocessing.get_context("spawn").Process(
        target=_listen,
        kwargs={"mqtt_url": mqtt_url, "prefix": prefix, "since": since, "total": total,
                "seconds": seconds + 40, "out": str(out)},
        daemon=True,
    )
    listener.start()
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    publisher = _Publisher(mqtt_url)
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    start = time.perf_counter()
    for i in range(total):
        if i % per_tick == 0:
            delay = start + (i // per_tick) * tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        device = devices[i % len(devices)]
        publisher.send(f"{mount}{prefix}/devices/{device}/telemetry", _single(time.time(), 30.0 + i % 40))
    publisher.close()
    listener.join(timeout=seconds + 60)
    arrivals: list[float] = orjson.loads(out.read_bytes() or b"[]")
    return arrivals, total


def _per_message_us(cpu: dict[str, float], messages: int) -> dict[str, float]:
    """CPU microseconds per message of each process group of a phase."""
    return {name: round(s * 1e6 / messages, 2) for name, s in cpu.items()}


_RATIO_GOAL = 0.7  # issue 5's goal for ratio_single_vs_bare on a 2-core machine


def cpu_budget(
    bare: dict[str, float],
    single: dict[str, float],
    bare_rate: float,
    cores: int | None = None,
) -> dict[str, float] | None:
    """What the measured CPU costs allow hatang's own work per message (docs/ingest.md, "Speed").

    B: the bare subscriber's CPU per message (receiving and acknowledging, which the worker does
    too); M: the broker's, the cheaper of the two phases; P: PostgreSQL's for the worker. A worker
    costing W per message drains at most ``min(1 / W, cores / (W + M + P))`` messages a second
    (one process, one core; every process shares the cores). ``ratio_ceiling`` is that bound's
    ratio to (b) with W = B, as if hatang's own work were free; ``own_budget_us`` is the most
    ``W - B`` may be for the goal ratio; ``own_us`` is what it is. None without the broker's and
    the database's figures (external services).
    """
    if "mosquitto" not in bare or "mosquitto" not in single:
        return None
    b, w = bare["subscriber"], single["worker"]
    m, p = min(bare["mosquitto"], single["mosquitto"]), single["postgresql"]
    cores = cores or len(os.sched_getaffinity(0))
    ceiling = min(1 / b, cores / (b + m + p)) * 1e6 / bare_rate
    target = _RATIO_GOAL * bare_rate / 1e6  # messages per µs
    budget = min(1 / target, (cores / target) - m - p) - b
    return {
        "cores": cores,
        "ratio_ceiling": round(ceiling, 3),
        "own_us": round(w - b, 2),
        "own_budget_us": round(budget, 2),
    }


def _bucket_quantile(cumulative: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket holding quantile ``q`` (worker's own lag metric)."""
    total = max(cumulative.values(), default=0.0)
    for bound, count in cumulative.items():
        if total and count >= q * total:
            return bound
    return float("nan")


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase; returns the figures of the JSON line."""
    stack = Stack.from_settings(settings)
    started = stack.up()
    tag = uuid.uuid4().hex[:8]
    scratch = f"hatang_bench_ingest_{tag}"
    prefix = f"bench/{tag}/city/v1"
    batch = settings.ingest.batch_size
    with psycopg.connect(stack.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = make_conninfo(stack.database_url, dbname=scratch)
    workdir = Path(tempfile.mkdtemp(prefix="hatang-bench-ingest-"))
    worker: _Worker | None = None
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            devices = _fleet(conn, args.devices, tag)
            ids: dict[str, int] = dict(conn.execute("SELECT external_id, id FROM devices").fetchall())
            metric_row = conn.execute("SELECT id FROM metrics WHERE name = 'water_pressure'").fetchone()
            assert metric_row is not None
        base = time.time() - 2 * 24 * 3600
        group, bare_group, stock_group = f"bench-{tag}", f"bench-{tag}-bare", f"bench-{tag}-stock"
        env = {
            **os.environ,
            "HATANG_DATABASE_URL": url,
            "HATANG_MQTT_URL": stack.mqtt_url("ingest"),
            "HATANG_TOPIC_PREFIX": prefix,
            "HATANG_INGEST__GROUP": group,
            "HATANG_INGEST__CLIENT_ID": f"{group}-w1",
            "HATANG_INGEST__SESSION_EXPIRY_S": "120",
        }
        # Telemetry as the platform receives it: under the device listener's mount point; the bench
        # publishes it with the simulator's account (load generator) and consumes it as ingest.
        mount = settings.device_mount
        ingest_url, simulator_url = stack.mqtt_url("ingest"), stack.mqtt_url("simulator")
        worker_consumer = (ingest_url, f"{group}-w1", group, mount + prefix, batch)
        bare_consumer = (ingest_url, f"{bare_group}-1", bare_group, mount + prefix, batch)
        stock_consumer = (ingest_url, f"{stock_group}-1", stock_group, mount + prefix, batch)
        postgres, mosquitto = stack.postgres, stack.mosquitto

        def meter(process: str, pid: int) -> CpuMeter:
            """CPU of one phase: its own process, and the broker and the database when they are the
            local stack's (external services' processes are not ours to read)."""
            groups: dict[str, Callable[[], list[int]]] = {process: lambda: [pid]}
            if postgres is not None and mosquitto is not None:
                groups["mosquitto"] = lambda: [p] if (p := mosquitto.pid()) else []
                groups["postgresql"] = lambda: with_children(postgres.pid())
            return CpuMeter(groups)

        # (a) raw COPY of the pack phase's readings.
        per_pack = 50
        pack_readings = [
            (
                base + 100_000 + (i // len(devices)) * per_pack + k,
                ids[devices[i % len(devices)]],
                20.0 + k / 10,
            )
            for i in range(args.packs)
            for k in range(per_pack)
        ]
        raw_copy = _raw_copy(url, pack_readings, batch, int(metric_row[0]))

        # (b) and (c), single-reading messages: queue them for both sessions, then drain each.
        asyncio.run(_touch_session(worker_consumer))
        asyncio.run(_touch_session(bare_consumer))
        asyncio.run(_touch_session(stock_consumer))
        publisher = _Publisher(simulator_url)
        for i in range(args.messages):
            device = devices[i % len(devices)]
            publisher.send(
                f"{mount}{prefix}/devices/{device}/telemetry",
                _single(base + i // len(devices), 30.0 + i % 40),
            )
        publisher.close()
        tune_interpreter()  # the settings the worker runs with, for the subscribers measured here
        bare_meter = meter("subscriber", os.getpid())
        bare_meter.start()
        bare_s = asyncio.run(_bare_drain(bare_consumer, args.messages, batch))
        bare_cpu = bare_meter.stop()
        stock_s = asyncio.run(_stock_drain(stock_consumer, args.messages))
        worker = _Worker(env, workdir / "single.log")
        single_meter = meter("worker", worker.proc.pid)
        began = worker.connected_at()
        single_meter.start()
        single_s = worker.wait_stored(args.messages) - began
        single_cpu = single_meter.stop()
        # Share of one core the worker got while draining: near 1.0, it is CPU-bound on its own work.
        single_cpu_share = single_cpu["worker"] / single_s
        commits = worker.buckets("hatang_ingest_commit_seconds")
        worker.stop()

        # (c) packs: queued while the worker is away, then drained.
        publisher = _Publisher(simulator_url)
        for i in range(args.packs):
            device = devices[i % len(devices)]
            start = base + 100_000 + (i // len(devices)) * per_pack
            publisher.send(
                f"{mount}{prefix}/devices/{device}/telemetry",
                _pack(start, [20.0 + k / 10 for k in range(per_pack)]),
            )
        publisher.close()
        worker = _Worker(env, workdir / "packs.log")
        began = worker.connected_at()
        pack_s = worker.wait_stored(args.packs * per_pack) - began

        # (d) latency at a fixed offered rate, the worker live.
        lag_before = worker.buckets("hatang_ingest_lag_seconds")
        latencies, offered = _latency(
            simulator_url, prefix, devices, rate=args.rate, seconds=args.latency_seconds, workdir=workdir,
            mount=mount,
        )
        expected = args.messages + args.packs * per_pack + offered
        time.sleep(1.0)
        lag_after = worker.buckets("hatang_ingest_lag_seconds")
        lag = {bound: lag_after[bound] - lag_before.get(bound, 0.0) for bound in sorted(lag_after)}
        duplicates = worker.metric("hatang_ingest_readings_duplicate_total")
        worker.stop()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT (device_id, metric_id, time)) FROM readings"
            ).fetchone()
            assert row is not None
            rows, distinct = int(row[0]), int(row[1])
    finally:
        if worker is not None:
            worker.stop()
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        if started:
            stack.down(only=started)
    single_rate = args.messages / single_s
    bare_rate = args.messages / bare_s
    pack_rate = args.packs * per_pack / pack_s
    bare_us = _per_message_us(bare_cpu, args.messages)
    single_us = _per_message_us(single_cpu, args.messages)
    return {
        "benchmark": "ingest",
        "batch_size": batch,
        "flush_interval_ms": settings.ingest.flush_interval_ms,
        "messages": args.messages,
        "packs": args.packs,
        "raw_copy_readings_s": round(raw_copy),
        "bare_sub_msgs_s": round(bare_rate),
        "single_msgs_s": round(single_rate),
        "ratio_single_vs_bare": round(single_rate / bare_rate, 3),
        "stock_sub_msgs_s": round(args.messages / stock_s),
        "ratio_single_vs_stock": round(single_rate * stock_s / args.messages, 3),
        "bare_cpu_us_per_msg": bare_us,
        "single_cpu_us_per_msg": single_us,
        "cpu_budget": cpu_budget(bare_us, single_us, bare_rate),
        "single_worker_cpu_share": round(single_cpu_share, 2),
        "single_commit_p50_le_s": _bucket_quantile(commits, 0.5),
        "single_commit_p99_le_s": _bucket_quantile(commits, 0.99),
        "pack_readings_s": round(pack_rate),
        "pack_msgs_s": round(args.packs / pack_s),
        "ratio_pack_vs_copy": round(pack_rate / raw_copy, 3),
        "latency_offered_msgs_s": args.rate,
        "latency_messages": offered,
        "latency_received": len(latencies),
        "latency_p50_s": round(_quantile(latencies, 0.50), 4),
        "latency_p99_s": round(_quantile(latencies, 0.99), 4),
        "latency_max_s": round(max(latencies, default=float("nan")), 4),
        "latency_mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
        "commit_lag_p50_le_s": _bucket_quantile(lag, 0.50),
        "commit_lag_p99_le_s": _bucket_quantile(lag, 0.99),
        "lost": max(0, expected - distinct),
        "duplicated": rows - distinct + max(0, distinct - expected),
        "duplicates_skipped": int(duplicates),
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    result = measure(settings, args)
    rows = [
        ("(a) raw COPY into readings", f"{result['raw_copy_readings_s']:,} readings/s", ""),
        ("(b) bare subscriber (drain)", f"{result['bare_sub_msgs_s']:,} msg/s", ""),
        (
            "(b') aiomqtt as shipped (drain)",
            f"{result['stock_sub_msgs_s']:,} msg/s",
            f"(c) is {result['ratio_single_vs_stock']} x this",
        ),
        (
            "(c) hatang, single readings",
            f"{result['single_msgs_s']:,} msg/s",
            f"{result['ratio_single_vs_bare']} x (b)",
        ),
        (
            "(c) hatang, 50-record packs",
            f"{result['pack_readings_s']:,} readings/s",
            f"{result['ratio_pack_vs_copy']} x (a)",
        ),
        (
            f"(d) latency @ {result['latency_offered_msgs_s']:,.0f} msg/s",
            f"p50 {result['latency_p50_s']} s, p99 {result['latency_p99_s']} s",
            f"{result['latency_received']:,}/{result['latency_messages']:,} seen",
        ),
        ("lost / duplicated", f"{result['lost']} / {result['duplicated']}", ""),
    ]
    budget = result["cpu_budget"]
    if budget is not None:
        bare, single = result["bare_cpu_us_per_msg"], result["single_cpu_us_per_msg"]
        rows += [
            ("CPU us/msg, (b)", " ".join(f"{k} {v}" for k, v in bare.items()), ""),
            ("CPU us/msg, (c) single", " ".join(f"{k} {v}" for k, v in single.items()), ""),
            ("best (c)/(b) on these cores", f"{budget['ratio_ceiling']}", "if hatang's own work were free"),
            (
                "hatang's own work, us/msg",
                f"{budget['own_us']}",
                f"{budget['own_budget_us']} for (c)/(b) = {_RATIO_GOAL}",
            ),
        ]
    for name, figure, ratio in rows:
        print(f"{name:<32} {figure:>34}  {ratio}")
    print(json.dumps(result))
    return 0
