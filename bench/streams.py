"""``hatang bench streams``: live-stream delivery lag with many clients while readings flow.

Owns the streams benchmark. In a scratch database on the configured server (created, migrated,
filled with two organisations and their devices, dropped by the run) and under a topic prefix of its
own on the configured broker, it starts ``hatang api`` as a real process, connects ``--clients``
WebSocket clients (half with an admin key, which see everything, half with a viewer key of one
organisation, which the hub filters reading by reading), and has a separate publisher process put
``--rate`` readings/s on the fan-out topics, shaped as ingest's fan-out (one columnar message per
sector and area, ten slices every 100 ms; ``ingest.batch.fanout``). Each reading's time is its
publish time, so a client's lag is its receive time less the reading's time: broker, hub, queue and
socket together. With ``--filter device`` every client instead follows one device of its own (an
admin key and ``?device=``: 200 clients, 200 distinct filters, which the hub indexes by device).
Prints a table, then one JSON object (with the goal and ``"ok"``) as its last line; ``--check``
exits 1 when the goal is missed.

It does not run ingest (``hatang bench ingest`` measures commit-to-fan-out latency); this isolates the
API's side. Clients run in this process, the API in its own, the publisher in a third.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from typing import Any

import orjson
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql
from psycopg.conninfo import make_conninfo
from websockets.asyncio.client import connect

from firmware_contracts import sectors
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack, free_port
from ingest import parse_url
from registry import sync_contracts
from registry.audit import CLI
from registry.keys import create_key

SLICES = [(sector, area) for sector in sorted(sectors())
          for area in ("tu-son", "que-vo")]  # fmt: skip
TICK_S = 0.1


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench streams``."""
    parser = subparsers.add_parser("streams", help="stream clients' delivery lag while readings flow")
    parser.add_argument("--clients", type=int, default=200, help="concurrent WebSocket clients (default 200)")
    parser.add_argument("--rate", type=int, default=5000, help="readings/s published (default 5,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured start (default 3)")
    parser.add_argument("--devices", type=int, default=1000, help="devices sending (default 1,000)")
    parser.add_argument(
        "--filter", choices=("mixed", "device"), default="mixed",
        help="mixed: half admin, half one organisation's viewer; device: one device per client",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    parser.set_defaults(func=_run)


GOALS: dict[str, float] = {"lag_p99_max_s": 1.0}


@dataclass
class ClientStats:
    """What one client saw during the measured window."""

    readings: int = 0
    frames: int = 0
    dropped: int = 0
    lags: list[tuple[float, int]] = field(default_factory=list)


def publish_fanout(
    mqtt_url: str, prefix: str, rate: int, devices: list[tuple[str, int]], events: tuple[EventType, EventType]
) -> None:
    """Publish ``rate`` readings/s in fan-out shape until ``stop`` (a separate process's target);
    ``devices`` are (external id, organisation id) pairs, each publishing in turn."""
    address = parse_url(mqtt_url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
                         protocol=paho.MQTTv5)  # fmt: skip
    client.username_pw_set(address.username, address.password)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port, keepalive=60)
    client.loop_start()
    go, stop = events
    go.wait()
    per_tick = rate * TICK_S
    sent, tick, carry, batch = 0.0, time.monotonic(), 0.0, 0
    while not stop.is_set():
        carry += per_tick
        count = int(carry)
        carry -= count
        now = time.time()
        batch += 1
        for i, (sector, area) in enumerate(SLICES):
            n = count // len(SLICES) + (1 if i < count % len(SLICES) else 0)
            if n == 0:
                continue
            chosen = [devices[(batch * 37 + i * 101 + k) % len(devices)] for k in range(n)]
            payload = orjson.dumps(
                {"batch": batch, "device": [name for name, _ in chosen],
                 "organisation": [owner for _, owner in chosen], "metric": ["water_ph"] * n,
                 "time": [now] * n, "value": [7.0 + k / 1000 for k in range(n)]}
            )  # fmt: skip
            client.publish(f"{prefix}/normalized/{sector}/{area}", payload, qos=0)
            sent += n
        tick += TICK_S
        time.sleep(max(0.0, tick - time.monotonic()))
    client.disconnect()
    client.loop_stop()


_DROPPED = re.compile(rb'"dropped":(\d+)')
_TIMES = re.compile(rb'"time":\[([^\]]*)\]')


def _scan(frame: bytes) -> tuple[int, list[tuple[float, int]]]:
    """A readings frame's drop count and, per chunk, (oldest reading time, readings).

    Scans the bytes instead of decoding the JSON: the clients of this process must not be the
    bottleneck they would be if each of them decoded every reading (this process is not the API).
    """
    dropped = _DROPPED.search(frame)
    chunks = []
    for match in _TIMES.finditer(frame):
        times = match.group(1)
        if times:
            first = times.split(b",", 1)[0]
            chunks.append((float(first), times.count(b",") + 1))
    return int(dropped.group(1)) if dropped else 0, chunks


async def client(
    url: str, token: str, stats: ClientStats, window: list[float], ready: asyncio.Event, *, query: str = ""
) -> None:
    # The key goes in the header, never the URL (docs/security.md); the filter is the query string.
    headers = {"Authorization": f"Bearer {token}"}
    target = f"{url}?{query.lstrip('&')}" if query else url
    async with connect(target, max_size=None, additional_headers=headers) as ws:
        hello = orjson.loads(await ws.recv(decode=False))
        assert hello["type"] == "hello", hello
        ready.set()
        while True:
            message = await ws.recv(decode=False)
            received = time.time()
            if not message.startswith(b'{"type":"readings"'):
                continue
            dropped, chunks = _scan(message)
            stats.dropped = dropped
            if not window[0] <= received < window[1]:
                continue
            stats.frames += 1
            for first, n in chunks:
                stats.readings += n
                stats.lags.append((received - first, n))


def percentile(samples: list[tuple[float, int]], q: float) -> float:
    """The ``q`` quantile of readings, each sample standing for ``n`` readings."""
    ordered = sorted(samples)
    total = sum(n for _, n in ordered)
    if total == 0:
        return float("nan")
    rank, seen = q * total, 0
    for lag, n in ordered:
        seen += n
        if seen >= rank:
            return lag
    return ordered[-1][0]


async def _issue_keys(url: str) -> tuple[str, str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        ids = {}
        for slug in ("bench-a", "bench-b"):
            cur = await conn.execute("SELECT id FROM organisations WHERE slug = %s", (slug,))
            row = await cur.fetchone()
            assert row is not None
            ids[slug] = row[0]
        admin = await create_key(conn, organisation_id=ids["bench-a"], role="admin", name="bench", actor=CLI)
        viewer = await create_key(
            conn, organisation_id=ids["bench-a"], role="viewer", name="bench", actor=CLI
        )
    return admin.token, viewer.token


def _prepare(url: str, devices: int) -> tuple[int, int]:
    """Migrate and fill the scratch database; the ids of bench-a (even devices) and bench-b (odd)."""
    owners = []
    with psycopg.connect(url) as conn:
        migrate(conn)
        sync_contracts(conn)
        conn.autocommit = True
        for slug in ("bench-a", "bench-b"):
            row = conn.execute(
                "INSERT INTO organisations (slug, name) VALUES (%s, %s) RETURNING id", (slug, slug)
            ).fetchone()
            assert row is not None
            owners.append(int(row[0]))
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO devices (external_id, model_id, organisation_id, state)"
                " SELECT format('bench-%%s', lpad(g::text, 5, '0')),"
                " (SELECT id FROM device_models WHERE model = 'sonde-wq6' ORDER BY version DESC LIMIT 1),"
                " (SELECT id FROM organisations"
                "  WHERE slug = CASE WHEN g %% 2 = 0 THEN 'bench-a' ELSE 'bench-b' END),"
                " 'active' FROM generate_series(0, %s - 1) AS g",
                (devices,),
            )
    return owners[0], owners[1]


async def measure_clients(
    url: str,
    tokens: tuple[str, str],
    *,
    clients: int,
    warmup: float,
    seconds: float,
    go: EventType,
    follow: list[str] | None = None,
) -> list[ClientStats]:
    """Connect ``clients`` clients (``follow``: client i follows device ``follow[i]`` with the first
    key; else keys alternate), set ``go``, record ``seconds`` after ``warmup``; what each saw."""
    stats = [ClientStats() for _ in range(clients)]
    window = [float("inf"), float("inf")]
    tasks = []
    for i in range(clients):
        ready = asyncio.Event()
        if follow is not None:  # an admin key following one device
            one = client(url, tokens[0], stats[i], window, ready, query=f"&device={follow[i]}")
        else:
            one = client(url, tokens[i % 2], stats[i], window, ready)
        tasks.append(asyncio.create_task(one))
        await asyncio.wait_for(ready.wait(), timeout=30)
    go.set()
    start = time.time() + warmup
    window[0], window[1] = start, start + seconds
    await asyncio.sleep(warmup + seconds + 1.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print its figures. Long because a run reads top to bottom: scratch
    database, API process and publisher started in one ``try`` whose ``finally`` stops them all."""
    stack = Stack.from_settings(settings)
    started = stack.up()
    scratch = f"hatang_bench_streams_{int(time.time())}"
    prefix = f"bench/{uuid.uuid4().hex[:10]}/city/v1"
    with psycopg.connect(stack.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = make_conninfo(stack.database_url, dbname=scratch)
    api: subprocess.Popen[bytes] | None = None
    publisher: multiprocessing.process.BaseProcess | None = None
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    try:
        owners = _prepare(url, args.devices)
        tokens = asyncio.run(_issue_keys(url))
        api, port = start_api(url, stack.mqtt_url("api"), prefix, max_clients=args.clients + 10)
        devices = [(f"bench-{d:05d}", owners[d % 2]) for d in range(args.devices)]
        publisher = context.Process(
            target=publish_fanout, args=(stack.mqtt_url("ingest"), prefix, args.rate, devices, (go, stop))
        )
        publisher.start()
        follow = [name for name, _ in devices[: args.clients]] if args.filter == "device" else None
        stats = asyncio.run(
            measure_clients(
                f"ws://127.0.0.1:{port}/v1/streams/readings",
                tokens,
                clients=args.clients,
                warmup=args.warmup,
                seconds=args.seconds,
                go=go,
                follow=follow,
            )
        )
        stop.set()
        lags = [sample for s in stats for sample in s.lags]
        delivered = sum(s.readings for s in stats)
        # Admin clients should see every reading, viewers of bench-a the half from its devices; a
        # device's follower its device's share (the publisher cycles through the devices evenly).
        if args.filter == "device":
            expected = args.rate * args.seconds * min(args.clients, args.devices) / args.devices
        else:
            expected = args.rate * args.seconds * (args.clients - args.clients // 2 + (args.clients // 2) / 2)
        result = {
            "benchmark": "streams",
            "filter": args.filter,
            "clients": args.clients,
            "readings_s": args.rate,
            "seconds": args.seconds,
            "delivered_readings_s": round(delivered / args.seconds),
            "delivered_share": round(delivered / expected, 4) if expected else None,
            "lag_p50_s": round(percentile(lags, 0.50), 4),
            "lag_p99_s": round(percentile(lags, 0.99), 4),
            "lag_max_s": round(max((lag for lag, _ in lags), default=float("nan")), 4),
            "dropped": sum(s.dropped for s in stats),
            "frames_s": round(sum(s.frames for s in stats) / args.seconds),
            "cpus": os.cpu_count(),
            # Other work on the machine competes for the same cores: the figures depend on it.
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        stop.set()
        go.set()
        if publisher is not None:
            publisher.join(timeout=10)
        if api is not None:
            stop_api(api)
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        if started:
            stack.down(only=started)
    print(f"{'clients':<22}{result['clients']}")
    print(f"{'offered readings/s':<22}{result['readings_s']}")
    share = result["delivered_share"]
    print(f"{'delivered readings/s':<22}{result['delivered_readings_s']} ({share} of expected)")
    print(f"{'lag p50/p99/max (s)':<22}{result['lag_p50_s']} / {result['lag_p99_s']} / {result['lag_max_s']}")
    print(f"{'load average (1 min)':<22}{result['load_avg_1m']} on {result['cpus']} CPUs")
    print(f"{'dropped (all clients)':<22}{result['dropped']}")
    result["goals"] = GOALS
    result["ok"] = result["lag_p99_s"] < GOALS["lag_p99_max_s"]
    print(f"{'ok':<22}{result['ok']}")
    print(json.dumps(result))
    return 1 if args.check and not result["ok"] else 0


def start_api(
    url: str, mqtt_url: str, prefix: str, *, max_clients: int
) -> tuple[subprocess.Popen[bytes], int]:
    """``hatang api`` as a process on a free port, on database ``url`` and topic ``prefix``, once it
    answers and its stream feed has subscribed; the process and its port."""
    port = free_port()
    env = {
        **os.environ,
        "HATANG_DATABASE_URL": url,
        "HATANG_MQTT_URL": mqtt_url,
        "HATANG_TOPIC_PREFIX": prefix,
        "HATANG_STREAMS__MAX_CLIENTS": str(max_clients),
    }
    command = [sys.executable, "-m", "hatang.cli", "api", "--host", "127.0.0.1", "--port", str(port)]
    api = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", api)
    except BaseException:
        stop_api(api)
        raise
    time.sleep(1.0)  # the stream feed subscribes right after start-up
    return api, port


def stop_api(api: subprocess.Popen[bytes]) -> None:
    """Stop what :func:`start_api` started."""
    api.terminate()
    try:
        api.wait(timeout=15)
    except subprocess.TimeoutExpired:
        api.kill()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"hatang api exited with {proc.returncode}: {err[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a fixed http:// URL of our own
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"hatang api did not answer {url} within {timeout} s")
