"""The ingest phase of ``hatang bench city``: one worker at city shape against a city a tenth its size
and against 500 devices.

Owns :func:`measure_ingest`. On the city's scratch database (its devices, its history) and under a
topic prefix of its own, it queues for a worker's persistent session what the city sends in one
checkpoint cycle (``--ingest-seconds``, by default the server's ``checkpoint_timeout``): every
active device at its model's reporting interval (a 30-second radar thirty times in 15 minutes, a
15-minute meter once), in the order they would arrive. Two other shapes send the same messages,
message for message, each sent instead by the next device of its sender's model among fewer devices
and dated evenly over the same window:
- the tenth: every tenth active device, a city a tenth the size. Its devices, like the city's,
  seldom appear twice in a batch, so both shapes write the same rows per device a message (latest
  values, ``last_seen``); what differs is the fleet and the data it has written, tenfold. City vs
  tenth is the phase's goal: what growing tenfold costs a message;
- the small shape: 500 of those devices (every n-th), the issue's first yardstick, reported. Its
  devices each appear about 1.3 times in a batch, and a batch writes a device's newest values once,
  so it folds together per-device writes that no city can (docs/capacity.md, "Ingest at city
  shape", has the measurements that retired it as the goal).
It drains them six times in the order small, city, tenth, tenth, city, small, each drain from a
checkpoint (``CHECKPOINT`` just before), and times ``hatang ingest`` (a fresh real process each
time) draining each: messages and readings a second per shape over its two drains, the city's
ratios to the others, the write-ahead log each shape wrote a message, the CPU each process spent a
message, and the VACUUM after each drain (autovacuum is off for what the drains write, so that it
cannot land on whichever drain comes next).

Every drain's live readings are newer than everything stored (``messages_of``'s ``after``): a
running city's readings move its latest values on. Until this was so, the drains were dated over
the minutes the history and the earlier drains had already filled: most latest values did not
move, and the second small drain repeated some of the first's readings to the second (timestamps
in whole seconds), so that a fifth of its batches took the slow path for duplicates.

Why one checkpoint cycle from a checkpoint: the first change of a page after a checkpoint logs the
whole page (a full-page image). A city's devices each write their own pages (their index entries,
their latest values, their ``last_seen``), so once per cycle each of those pages costs a full-page
image, shared by the messages the device sends in that cycle; 500 devices share a few hot pages,
a tenth of the city has a tenth of the city's.
Draining a cycle's messages from a checkpoint charges each shape exactly that, whenever the run
starts and whatever ran before it.

The mix is a city's: six in ten messages carry the fewest readings the model sends (its required
fields, mostly one), three in ten every metric of the device's model (native JSON,
``firmware_contracts.encode_native``), one in ten is a 50-record SenML logger pack
(``encode_senml``) of readings over an hour old, late data for the rollups. Timestamps are live,
after the newest stored and never ahead of the clock. Values are the middle of each field's own
range (the metric's, narrowed by the sensor's), so nothing is rejected: a rejection fails the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from bench.city_data import one, progress
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
TENTH = 10  # the tenth shape: every TENTH-th active device
# The order of the drains: each shape's two drains are as far from the middle of the phase as the
# other shapes', so a load that drifts during the phase weighs on all alike.
DRAINS = ("small", "city", "tenth", "tenth", "city", "small")


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


Schedule = list[tuple[float, SendingDevice]]  # (seconds into the window, the sender), in time order


def city_schedule(devices: list[SendingDevice], seconds: float) -> Schedule:
    """The city's messages in ``seconds``: each device at its model's reporting interval, from a
    phase spread by its position (as the history's), in time order."""
    slots: list[tuple[float, int]] = []
    for k, sender in enumerate(devices):
        every = sender.model.reporting_interval_s
        at: float = (k * 7919) % max(int(every), 1)
        while at < seconds:
            slots.append((at, k))
            at += every
    slots.sort()
    return [(at, devices[k]) for at, k in slots]


def shape_schedule(devices: list[SendingDevice], city: Schedule) -> Schedule:
    """The city's messages sent by ``devices`` instead: each by the next of them of the sender's model
    (any of them in turn where none is), so both shapes carry the same models' messages, readings and
    packs, message for message; evenly over the city's window, so no device sends two at once."""
    by_model: dict[tuple[str, int], list[SendingDevice]] = {}
    for d in devices:
        by_model.setdefault(d.model.key, []).append(d)
    turns: Counter[tuple[str, int] | None] = Counter()
    out: Schedule = []
    window = city[-1][0] if city else 0.0
    for i, (_, sender) in enumerate(city):
        key = sender.model.key if sender.model.key in by_model else None
        pool = by_model[key] if key is not None else devices
        out.append((i * window / len(city), pool[turns[key] % len(pool)]))
        turns[key] += 1
    return out


# The closest two readings of one device may be once squeezed (``messages_of``): more than a
# millisecond, the finest time a model's payload carries (``epoch_ms``), with room to spare.
MIN_GAP_S = 0.002


def room(schedule: Schedule, seconds: float) -> float:
    """The shortest window ``schedule``'s ``seconds`` may be squeezed into (``messages_of``) with no
    device's two messages closer than ``MIN_GAP_S``.

    Squeezed into the few seconds after the streams phase's live readings, a 500-device drain once
    sent a device's messages under a millisecond apart: a model with epoch_ms timestamps then
    repeated readings, and 1,096 of the drain's batches took the duplicate path (59.2 s against
    35.8 s for the same shape's other drain).
    """
    last: dict[str, float] = {}
    gap = seconds
    for at, device in schedule:
        before = last.get(device.external_id)
        if before is not None and at - before < gap:
            gap = at - before
        last[device.external_id] = at
    return seconds * MIN_GAP_S / gap if gap > 0 else seconds


def messages_of(
    schedule: Schedule, seconds: float, *, prefix: str, now: float, after: float | None = None
) -> tuple[list[tuple[str, bytes]], int]:
    """A message for each entry of ``schedule``, with the city's mix; returns them and their readings.

    Its live readings are dated in the ``seconds`` that end two seconds before ``now``, in the
    schedule's order and proportions, squeezed to begin a second after ``after`` (the newest reading
    the city holds: its history's, the last drain's) where that is later. So each is the newest of
    its series, as in a running city: none overlaps what is stored (an earlier round dated them over
    the history's last minutes, so most latest values did not move and some readings were
    duplicates, both more for one shape than the other).
    """
    out: list[tuple[str, bytes]] = []
    readings, sequence = 0, dict.fromkeys((d.external_id for _, d in schedule), 0)
    end = now - 2
    start = end - seconds if after is None else max(end - seconds, after + 1)
    if start >= end - 1 or end - start < room(schedule, seconds):
        raise RuntimeError(f"no room for live readings between {after} and {end}: wait before a drain")
    scale = (end - start) / seconds
    for i, (at, device) in enumerate(schedule):
        j = sequence[device.external_id]
        sequence[device.external_id] += 1
        topic = f"{prefix}/devices/{device.external_id}/telemetry"
        kind, middle = i % 10, device.middle
        if kind == 9 and "senml+json" in device.model.formats:
            # An offline logger's buffer: 50 records of its first metric, over an hour older than the
            # window; a device's later packs reach further back, so none overlaps another or its live
            # readings.
            metric = device.metrics[0]
            base = start - 3600 - (j + 1) * PER_PACK
            pack = [(base + r, metric, middle[metric]) for r in range(PER_PACK)]
            out.append((topic, encode_senml(device.model, pack)))
            readings += PER_PACK
        elif kind >= 6:
            values = {m: middle[m] for m in device.metrics}
            out.append((topic, encode_native(device.model, start + at * scale, values)))
            readings += len(device.metrics)
        else:  # the fewest readings the model sends: its required fields
            values = {m: middle[m] for m in device.required}
            out.append((topic, encode_native(device.model, start + at * scale, values)))
            readings += len(values)
    return out, readings


# Bytes from the log's position (exact at once); full-page images, checkpoints and the rows written
# to latest_readings and device_seen (inserted or updated) from the statistics, which a backend
# flushes at most once a second while busy and whole when it exits (``_totals`` waits).
_TOTALS = """
    SELECT pg_current_wal_lsn() - '0/0', wal_fpi,
           (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
           (SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relid = 'latest_readings'::regclass),
           (SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relid = 'device_seen'::regclass)
    FROM pg_stat_wal
"""
_WORKER_BACKENDS = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'hatang-ingest%'"


def _totals(url: str) -> list[int]:
    """The cluster's write-ahead log so far (bytes, full-page images, checkpoints) and the rows
    written to the latest values and to ``last_seen``; once no worker's backend is left (each
    flushes its statistics as it exits)."""
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while conn.execute(_WORKER_BACKENDS).fetchone() != (0,) and time.monotonic() < deadline:
            time.sleep(0.05)
        row = conn.execute(_TOTALS).fetchone()
    assert row is not None
    return [int(value) for value in row]


def _checkpoint(url: str) -> bool:
    """A checkpoint now, where the role may (superuser or ``pg_checkpoint``); whether it ran.

    Without it, the checkpoint that the history's write-ahead log triggers (or a timed one) lands on
    whichever drain runs then, and the full-page images with it (the module's docstring).
    """
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


# What a drain writes. Autovacuum is off for them during the phase: it starts on a table once 20%
# of its rows are new or dead, which every drain's 3.8 M readings and ~1 M latest values are, so it
# ran during whichever drain came next (the active chunk's was seen in the fourth) and took its CPU.
# Instead ``_vacuum`` runs after each drain, timed and reported for that drain's shape.
_WRITTEN = ("latest_readings", "device_seen", "readiness_assets", "device_latency", "rollup_invalidations")


def _written_tables(conn: psycopg.Connection[Any]) -> list[str]:
    chunks = [row[0] for row in conn.execute("SELECT show_chunks('readings')::text")]
    return [*_WRITTEN, *chunks]


def _autovacuum(url: str, *, enabled: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in _written_tables(conn):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = {str(enabled).lower()})")


def _vacuum(url: str, *, whole: bool = False) -> float:
    """VACUUM (ANALYZE) what the drains write, as autovacuum would have (``whole``: every table of the
    database); its seconds."""
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)" if whole else f"VACUUM (ANALYZE) {', '.join(_written_tables(conn))}")
        return time.perf_counter() - began


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu(worker_pid: int) -> dict[str, float]:
    """CPU seconds so far (user and system) of the worker, of PostgreSQL's processes and of
    Mosquitto's on this host, from ``/proc`` (empty where there is none). A backend that has exited
    is counted by the postmaster that reaped it, so a drain's difference holds the worker's backends.
    """
    spent = {"worker": 0.0, "postgres": 0.0, "mosquitto": 0.0}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        utime, stime, cutime, cstime = (int(x) / _TICK for x in raw[raw.rindex(")") + 2 :].split()[11:15])
        if int(pid) == worker_pid:
            spent["worker"] += utime + stime
        elif name in ("postgres", "mosquitto"):
            spent[name] += utime + stime + cutime + cstime
    return spent


_AUTOVACUUMS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"


class Drained(NamedTuple):
    """What :func:`_drain` measured of one drain."""

    seconds: float  # from the worker's connection to its last commit
    checkpointed: bool  # whether the CHECKPOINT before it ran
    written: list[int]  # what it wrote (``_totals``)
    cpu: dict[str, float]  # CPU seconds by process meanwhile (``_cpu``)
    polls: int  # how often the drain's progress was read (every 0.25 s) ...
    autovacuum_polls: int  # ... and how often an autovacuum worker ran then (anywhere on the server)


def _drain(
    env: dict[str, str], log: Path, spec: tuple[str, str, str, str, int], publisher_url: str,
    messages: list[tuple[str, bytes]],
) -> Drained:  # fmt: skip
    """Queue ``messages`` for the worker's session, checkpoint, start the worker, time its drain.

    The CPU is counted from the worker's connection to its last commit, its start-up not included.
    """
    asyncio.run(touch_session(spec))
    publisher = Publisher(publisher_url)
    for topic, payload in messages:
        publisher.send(topic, payload)
    publisher.close()
    url = env["HATANG_DATABASE_URL"]
    checkpointed = _checkpoint(url)
    before = _totals(url)
    worker = WorkerProcess(env, log)
    polls = autovacuum_polls = 0
    try:
        began = worker.connected_at()
        cpu_began = _cpu(worker.proc.pid)
        deadline = time.monotonic() + 900
        with psycopg.connect(url, autocommit=True) as watch:
            while worker.metric("hatang_ingest_messages_acked_total") < len(messages):
                if time.monotonic() > deadline or worker.proc.poll() is not None:
                    raise RuntimeError(f"worker drained {worker.metric('hatang_ingest_messages_acked_total')}"
                                       f" of {len(messages)}:\n{log.read_text()[-2000:]}")  # fmt: skip
                polls += 1
                autovacuum_polls += one(watch, _AUTOVACUUMS) > 0
                time.sleep(0.25)
        cpu = {k: v - cpu_began[k] for k, v in _cpu(worker.proc.pid).items()}
        rejected = worker.metric("hatang_ingest_rejections_total")
        if rejected > 0:
            raise RuntimeError(f"{rejected} rejections: the bench's messages must all be valid")
        seconds = worker.metric("hatang_ingest_last_commit_timestamp_seconds") - began
    finally:
        worker.stop()
    written = [a - b for a, b in zip(_totals(url), before, strict=True)]
    return Drained(seconds, checkpointed, written, cpu, polls, autovacuum_polls)


def measure_ingest(
    url: str, mqtt_url: Callable[[str], str], *, mount: str, seconds: float | None, batch: int
) -> dict[str, Any]:
    """Drain the city's ``seconds`` (None: a checkpoint cycle) and as many messages from a tenth of its
    devices and from 500 of them, with one worker; the figures.

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
    if seconds is None:
        with psycopg.connect(url) as conn:
            timeout = "SELECT setting::float8 FROM pg_settings WHERE name = 'checkpoint_timeout'"
            seconds = float(one(conn, timeout))
    schedules = {"city": city_schedule(devices, seconds)}
    messages = len(schedules["city"])
    if messages == 0:
        raise RuntimeError(f"no device of the city reports within {seconds} s: raise --ingest-seconds")
    # Every n-th device, so the other shapes' models (readings a message, packs or not) are the city's.
    small = devices[:: max(len(devices) // SMALL_SHAPE, 1)][:SMALL_SHAPE]
    tenth = devices[::TENTH]
    schedules["small"] = shape_schedule(small, schedules["city"])
    schedules["tenth"] = shape_schedule(tenth, schedules["city"])
    out: dict[str, Any] = {
        "ingest_seconds": seconds,
        "ingest_messages": messages,
        "ingest_small_devices": len(small),
        "ingest_tenth_devices": len(tenth),
        "ingest_city_devices": len(devices),
        "ingest_city_senders": len({d.external_id for _, d in schedules["city"]}),
    }
    spent = dict.fromkeys(DRAINS, 0.0)  # small, city, tenth
    rooms = {shape: room(schedules[shape], seconds) for shape in spent}  # the window each needs
    # What each shape's drains wrote (``_totals``): WAL bytes, full-page images, checkpoints, rows
    # written to latest_readings and to device_seen.
    totals = {shape: [0] * 5 for shape in spent}
    checkpointed = []
    # DRAINS' order: a load that drifts during the phase (autovacuum after the history, the machine)
    # weighs on every shape alike. Each drain is a fresh worker and fresh live messages.
    progress(f"ingest: {messages:,} messages a drain ({seconds:g} s of the city)")
    vacuumed = dict.fromkeys(spent, 0.0)
    polls = {shape: [0, 0] for shape in spent}  # progress reads during the drains, with autovacuum running
    cpus: dict[str, dict[str, float]] = {shape: {} for shape in spent}
    _autovacuum(url, enabled=False)
    # What the earlier phases left, the whole database (they write tables the drains do not), so that
    # no autovacuum falls on a drain; each shape reports the share of its drains during which one ran.
    _vacuum(url, whole=True)
    for turn, shape in enumerate(DRAINS):
        with psycopg.connect(url) as conn:
            newest = one(conn, "SELECT extract(epoch FROM max(time))::float8 FROM latest_readings")
        if newest is not None:  # wait for room (the streams phase writes live readings just before)
            time.sleep(max(0.0, newest + 5 + rooms[shape] - time.time()))
        payloads, readings = messages_of(
            schedules[shape], seconds, prefix=mount + prefix, now=time.time(), after=newest
        )
        log = workdir / f"{turn}-{shape}.log"
        drained = _drain(env, log, spec, mqtt_url("simulator"), payloads)
        polls[shape][0] += drained.polls
        polls[shape][1] += drained.autovacuum_polls
        spent[shape] += drained.seconds
        for process, seconds_spent in drained.cpu.items():
            cpus[shape][process] = cpus[shape].get(process, 0.0) + seconds_spent
        vacuumed[shape] += _vacuum(url)
        progress(
            f"ingest: drain {turn + 1} of {len(DRAINS)}, {shape}: {len(payloads):,} messages"
            f" in {drained.seconds:.1f} s"
        )
        checkpointed.append(drained.checkpointed)
        totals[shape] = [total + w for total, w in zip(totals[shape], drained.written, strict=True)]
        out[f"ingest_{shape}_readings"] = readings
    _autovacuum(url, enabled=True)
    out["ingest_drains_from_checkpoint"] = all(checkpointed)
    for shape, took in spent.items():
        out[f"ingest_{shape}_msgs_s"] = round(2 * messages / took)
        out[f"ingest_{shape}_readings_s"] = round(2 * out[f"ingest_{shape}_readings"] / took)
        # Cluster-wide: the worker's start-up is in it too, small beside a drain.
        out[f"ingest_{shape}_wal_bytes_per_msg"] = round(totals[shape][0] / (2 * messages))
        out[f"ingest_{shape}_wal_fpi_per_msg"] = round(totals[shape][1] / (2 * messages), 3)
        out[f"ingest_{shape}_checkpoints"] = totals[shape][2]  # during the drains, beside the forced ones
        # Per-device work: the newest value of each device and metric, and last_seen, are written once
        # per batch however many of the batch's messages carry them.
        out[f"ingest_{shape}_latest_rows_per_msg"] = round(totals[shape][3] / (2 * messages), 3)
        out[f"ingest_{shape}_seen_rows_per_msg"] = round(totals[shape][4] / (2 * messages), 3)
        out[f"ingest_{shape}_vacuum_s_per_drain"] = round(vacuumed[shape] / 2, 2)
        # Should be 0: autovacuum is off for what the drains write, and everything was vacuumed first.
        out[f"ingest_{shape}_autovacuum_share"] = round(polls[shape][1] / max(polls[shape][0], 1), 3)
        # CPU µs a message by process, while the drains ran (this host's processes only: none from a
        # server elsewhere).
        for process, seconds_spent in cpus[shape].items():
            out[f"ingest_{shape}_cpu_us_per_msg_{process}"] = round(seconds_spent * 1e6 / (2 * messages), 1)
    for other in ("tenth", "small"):
        for unit in ("msgs", "readings"):
            ratio = out[f"ingest_city_{unit}_s"] / out[f"ingest_{other}_{unit}_s"]
            out[f"ingest_{unit}_city_vs_{other}"] = round(ratio, 3)
    return out
