"""The scratch of ``hatang bench ingest`` (and ``bench alerts``): a database, a fleet and a topic prefix.

Owns :class:`Scratch` and :func:`scratch`, which creates, migrates and fills a scratch database on the
configured server and drops it afterwards, and the helpers the phases use on it. Runs no phase itself.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.cpu import CpuMeter, with_children
from bench.ingest.ceilings import ConsumerSpec
from bench.ingest.load import fleet
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack

PER_PACK = 50  # records per SenML pack


@dataclass(frozen=True, slots=True)
class Scratch:
    """A migrated scratch database with a fleet, a topic prefix of its own, and the worker's env."""

    stack: Stack
    url: str
    tag: str
    prefix: str
    batch: int
    devices: list[str]
    ids: dict[str, int]
    metric_id: int
    base: float
    pack_base: float
    env: dict[str, str]
    workdir: Path
    #: The broker's device mount point: telemetry reaches the platform under it (docs/security.md).
    #: The bench publishes telemetry with the simulator's account and consumes it as ingest.
    mount: str = ""

    def spec(self, group: str, client_id: str) -> ConsumerSpec:
        """A consumer ``client_id`` in shared-subscription ``group``."""
        return (self.stack.mqtt_url("ingest"), client_id, group, self.mount + self.prefix, self.batch)

    @property
    def group(self) -> str:
        """The worker's shared-subscription group."""
        return f"bench-{self.tag}"

    def meter(self, process: str, pid: int) -> CpuMeter:
        """CPU of one phase: its own process, and the broker and the database when they are the
        local stack's (external services' processes are not ours to read)."""
        postgres, mosquitto = self.stack.postgres, self.stack.mosquitto
        groups: dict[str, Callable[[], list[int]]] = {process: lambda: [pid]}
        if postgres is not None and mosquitto is not None:
            groups["mosquitto"] = lambda: [p] if (p := mosquitto.pid()) else []
            groups["postgresql"] = lambda: with_children(postgres.pid())
        return CpuMeter(groups)

    def topic(self, i: int) -> str:
        """The telemetry topic of the ``i``-th message (devices in turn)."""
        return f"{self.mount}{self.prefix}/devices/{self.devices[i % len(self.devices)]}/telemetry"


@contextmanager
def scratch(settings: Settings, devices: int, *, messages: int = 0, packs: int = 0) -> Iterator[Scratch]:
    """Bring the stack up, create, migrate and fill a scratch database; drop it all afterwards.

    Timestamps are live: the single readings end half a minute before now, one a second per
    device; the packs' readings (an offline logger's buffer) end where the single readings begin.
    """
    stack = Stack.from_settings(settings)
    started = stack.up()
    tag = uuid.uuid4().hex[:8]
    name = f"hatang_bench_ingest_{tag}"
    prefix = f"bench/{tag}/city/v1"
    with psycopg.connect(stack.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(stack.database_url, dbname=name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            names = fleet(conn, devices, tag)
            ids: dict[str, int] = dict(conn.execute("SELECT external_id, id FROM devices").fetchall())
            metric_row = conn.execute("SELECT id FROM metrics WHERE name = 'water_pressure'").fetchone()
            assert metric_row is not None
        group = f"bench-{tag}"  # Scratch.group
        env = {
            **os.environ,
            "HATANG_DATABASE_URL": url,
            "HATANG_MQTT_URL": stack.mqtt_url("ingest"),
            "HATANG_TOPIC_PREFIX": prefix,
            "HATANG_INGEST__GROUP": group,
            "HATANG_INGEST__CLIENT_ID": f"{group}-w1",
            "HATANG_INGEST__SESSION_EXPIRY_S": "120",
        }
        yield Scratch(
            mount=settings.device_mount,
            stack=stack,
            url=url,
            tag=tag,
            prefix=prefix,
            batch=settings.ingest.batch_size,
            devices=names,
            ids=ids,
            metric_id=int(metric_row[0]),
            # Callers that pass no counts (``bench alerts``) lay out their own offsets from a base
            # two days back, as before.
            base=(base := time.time() - 30 - -(-messages // devices) if messages or packs
                  else time.time() - 2 * 24 * 3600),
            pack_base=base - -(-packs // devices) * PER_PACK,
            env=env,
            workdir=Path(tempfile.mkdtemp(prefix="hatang-bench-ingest-")),
        )
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if started:
            stack.down(only=started)


def pack_start(run: Scratch, i: int) -> float:
    return run.pack_base + (i // len(run.devices)) * PER_PACK


def truncate(url: str, *, keep_after: float | None = None) -> None:
    """Remove what a baseline stored (all of it, or the readings more than half a second before
    ``keep_after``: the kept readings start at it, the removed ones end a second before it).

    The margin: PostgreSQL's ``to_timestamp`` subtracts its epoch before rounding to microseconds,
    the worker after (``ingest.pgcopy``), and for about 3% of times the database's is a microsecond
    later, which deleted the first kept reading of every device (the bench then reported 500 lost).
    After a DELETE the table is vacuumed: the worker then stores the very keys the baseline stored,
    and each of its rows would otherwise meet the baseline's dead row in the unique index (a heap
    visit per row, which the baseline never paid).
    """
    with psycopg.connect(url, autocommit=True) as conn:
        if keep_after is None:
            conn.execute("TRUNCATE readings")
        else:
            conn.execute("DELETE FROM readings WHERE time < to_timestamp(%s)", (keep_after - 0.5,))
            conn.execute("VACUUM readings")
